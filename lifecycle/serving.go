package lifecycle

import (
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// ServingStatus says whether a campaign is actually reaching people now, as Google Ads'
// serving_status and Meta's effective_status do: the status says what was decided, the serving
// status what follows from it today.
type ServingStatus string

// The serving statuses.
const (
	ServingNone            ServingStatus = "NONE"             // a draft
	ServingPending         ServingStatus = "PENDING"          // active, before its start date
	ServingServing         ServingStatus = "SERVING"          // active and within its dates
	ServingPaused          ServingStatus = "PAUSED"           // paused
	ServingBudgetExhausted ServingStatus = "BUDGET_EXHAUSTED" // its spend reached its budget or budget limit
	ServingEnded           ServingStatus = "ENDED"            // past its end date, or completed
	ServingCancelled       ServingStatus = "CANCELLED"        // cancelled
	ServingOutOfSchedule   ServingStatus = "OUT_OF_SCHEDULE"  // active, within its dates, outside every window
	ServingCapReached      ServingStatus = "CAP_REACHED"      // its impressions reached maxImpressions
)

// ServingStatuses lists every serving status.
func ServingStatuses() []ServingStatus {
	return []ServingStatus{ServingNone, ServingPending, ServingServing, ServingPaused,
		ServingBudgetExhausted, ServingEnded, ServingCancelled, ServingOutOfSchedule, ServingCapReached}
}

// ParseServingStatus returns the serving status named s.
func ParseServingStatus(s string) (ServingStatus, error) {
	if st := ServingStatus(s); slices.Contains(ServingStatuses(), st) {
		return st, nil
	}
	return "", fmt.Errorf("unknown serving status %q", s)
}

// StopCode says why a campaign last left ACTIVE, when the automation stopped it.
type StopCode string

// The automation's stop codes. Manual actions leave no code.
const (
	StopNone            StopCode = ""
	StopBudgetExhausted StopCode = "BUDGET_EXHAUSTED" // spend reached the budget
	StopBudgetThreshold StopCode = "BUDGET_THRESHOLD" // spend reached the pause threshold
	StopBudgetLimit     StopCode = "BUDGET_LIMIT"     // spend reached the budget limit
	StopCapReached      StopCode = "CAP_REACHED"      // impressions reached maxImpressions
	StopEndDate         StopCode = "END_DATE"         // the end date passed
)

// StopCodes lists every stop code the automation sets.
func StopCodes() []StopCode {
	return []StopCode{StopBudgetExhausted, StopBudgetThreshold, StopBudgetLimit, StopCapReached, StopEndDate}
}

// Serving computes the serving status at now from the status, the stop code and the dates
// alone: what it says SERVING, ServingWith may still hold back.
func Serving(status Status, code StopCode, start time.Time, end *time.Time, now time.Time) ServingStatus {
	switch status {
	case StatusDraft:
		return ServingNone
	case StatusActive:
		switch {
		case now.Before(start):
			return ServingPending
		case end != nil && !now.Before(*end):
			return ServingEnded
		default:
			return ServingServing
		}
	case StatusPaused:
		switch code {
		case StopBudgetExhausted, StopBudgetLimit:
			return ServingBudgetExhausted
		case StopCapReached:
			return ServingCapReached
		}
		return ServingPaused
	case StatusCompleted:
		if code == StopBudgetExhausted {
			return ServingBudgetExhausted
		}
		return ServingEnded
	default:
		return ServingCancelled
	}
}

// Delivered is what a campaign has delivered so far: its all-time impressions and spend (the
// metrics capability's totals).
type Delivered struct {
	Impressions int64
	Spend       decimal.Decimal
	// PeriodSpend is the spend of the current pacing period when it is a day (today in the
	// campaign's pacing zone); zero when the campaign has no daily budget or it was not read.
	PeriodSpend decimal.Decimal
}

// Delivery is what decides, beyond its status and dates, whether an ACTIVE campaign is served.
type Delivery struct {
	Schedule       Schedule
	MaxImpressions *int64           // nil: no cap
	Budget         decimal.Decimal  // zero or less: no budget to enforce
	BudgetLimit    *decimal.Decimal // nil: none
	// Pacing is the campaign's budget pacing (nil: ASAP over the flight, no daily budget).
	Pacing    *Pacing
	Delivered Delivered
}

// Hold is one reason a campaign that is SERVING by its status and dates is not served now.
type Hold string

// The holds, in the order Holds reports them (and ServingWith picks the first).
const (
	HoldBudget   Hold = "BUDGET"          // spend reached the budget or the budget limit
	HoldCap      Hold = "CAP_REACHED"     // impressions reached maxImpressions
	HoldSchedule Hold = "OUT_OF_SCHEDULE" // outside every scheduling window
)

// Holds returns every reason the campaign is held back at now (nil: none), budget first,
// then the impression cap, then the schedule.
func (d Delivery) Holds(now time.Time) []Hold {
	var out []Hold
	if d.BudgetSpent() {
		out = append(out, HoldBudget)
	}
	if d.CapReached() {
		out = append(out, HoldCap)
	}
	if !d.Schedule.Open(now) {
		out = append(out, HoldSchedule)
	}
	return out
}

// BudgetSpent reports whether spend reached the budget or the budget limit, or today's spend
// the daily budget (until midnight in the pacing zone).
func (d Delivery) BudgetSpent() bool {
	spend := d.Delivered.Spend
	if d.Budget.IsPositive() && spend.GreaterThanOrEqual(d.Budget) {
		return true
	}
	return d.BudgetLimit != nil && d.BudgetLimit.IsPositive() && spend.GreaterThanOrEqual(*d.BudgetLimit) ||
		d.DailySpent()
}

// DailySpent reports whether today's spend reached the daily budget.
func (d Delivery) DailySpent() bool {
	p := d.Pacing
	return p != nil && p.Period == PeriodDaily && p.Budget.IsPositive() &&
		d.Delivered.PeriodSpend.GreaterThanOrEqual(p.Budget)
}

// PeriodSpent is the spend of the current pacing period: today's for a daily budget, the
// flight's (all-time) otherwise.
func (d Delivery) PeriodSpent() decimal.Decimal {
	if d.Pacing != nil && d.Pacing.Period == PeriodDaily {
		return d.Delivered.PeriodSpend
	}
	return d.Delivered.Spend
}

// ServeProbability is the share of requests the pacing throttle lets through at now (1: no
// throttling; see Pacing.Probability).
func (d Delivery) ServeProbability(now time.Time) float64 {
	if d.Pacing == nil {
		return 1
	}
	return d.Pacing.Probability(d.PeriodSpent(), now)
}

// CapReached reports whether impressions reached maxImpressions.
func (d Delivery) CapReached() bool {
	return d.MaxImpressions != nil && d.Delivered.Impressions >= *d.MaxImpressions
}

// holdServing is the serving status each hold gives.
var holdServing = map[Hold]ServingStatus{
	HoldBudget: ServingBudgetExhausted, HoldCap: ServingCapReached, HoldSchedule: ServingOutOfSchedule,
}

// ServingWith computes the serving status at now, holding back a campaign that Serving says
// is SERVING when its budget is spent (BUDGET_EXHAUSTED), its impressions reached the cap
// (CAP_REACHED) or it is outside every scheduling window (OUT_OF_SCHEDULE), in that order:
// even before the automation acts on it.
func ServingWith(status Status, code StopCode, start time.Time, end *time.Time, d Delivery, now time.Time) ServingStatus {
	s := Serving(status, code, start, end, now)
	if s != ServingServing {
		return s
	}
	if holds := d.Holds(now); len(holds) > 0 {
		return holdServing[holds[0]]
	}
	return s
}

// Refined reports whether a serving status depends on more than the status, stop code and
// dates (on the schedule and the delivered totals): a list filter on it cannot be SQL alone.
func (s ServingStatus) Refined() bool {
	switch s {
	case ServingServing, ServingOutOfSchedule, ServingCapReached, ServingBudgetExhausted:
		return true
	}
	return false
}
