package lifecycle

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// PacingMode is how a campaign spreads its budget over its pacing period, after DV360's
// pacingType.
type PacingMode string

// The pacing modes.
const (
	// PacingASAP spends as fast as traffic allows (what campaigns did before pacing existed,
	// and what a campaign without pacing settings does).
	PacingASAP PacingMode = "ASAP"
	// PacingEven plans spend in proportion to the elapsed share of the period.
	PacingEven PacingMode = "EVEN"
	// PacingFrontLoaded plans spend at 1.5 times the even rate at the start of the period,
	// falling linearly to 0.5 times at its end: planned share = 1.5x - 0.5x² of elapsed x.
	PacingFrontLoaded PacingMode = "FRONT_LOADED"
)

// PacingModes lists every pacing mode.
func PacingModes() []PacingMode { return []PacingMode{PacingASAP, PacingEven, PacingFrontLoaded} }

// PacingPeriod is what a pacing budget covers, after DV360's pacingPeriod.
type PacingPeriod string

// The pacing periods.
const (
	// PeriodDaily: a daily budget, each day judged from midnight to midnight in the
	// campaign's pacing zone.
	PeriodDaily PacingPeriod = "DAILY"
	// PeriodFlight: the campaign's budget over its flight, from startDate to endDate.
	PeriodFlight PacingPeriod = "FLIGHT"
)

// PacingPeriods lists every pacing period.
func PacingPeriods() []PacingPeriod { return []PacingPeriod{PeriodDaily, PeriodFlight} }

// ParsePacingMode returns the pacing mode named s.
func ParsePacingMode(s string) (PacingMode, error) {
	if m := PacingMode(s); slices.Contains(PacingModes(), m) {
		return m, nil
	}
	return "", fmt.Errorf("unknown pacing mode %q", s)
}

// PacingBand is the controller's proportional band, as a share of the period's budget: a
// campaign that is ahead of its plan by this much or more is not served at all, one on or
// behind its plan is always served, and in between the share of requests served falls
// linearly. Spend therefore settles at most this far ahead of the plan whatever the traffic,
// which is what lets EVEN stay within a few percent of its plan (see the simulation in
// targeting/echoapi).
const PacingBand = 0.02

// PacingSlot is the time slot of the throttle's draw: within one slot a customer gets the
// same draw for a campaign, so repeated evaluations agree, and a customer throttled in one
// slot gets another chance in the next.
const PacingSlot = 15 * time.Minute

// Pacing is how a campaign paces a budget: over which period, at which rate, judging days in
// which time zone.
type Pacing struct {
	Mode   PacingMode
	Period PacingPeriod
	// Budget is the period's budget: the daily budget (DAILY) or the flight's (FLIGHT). Zero
	// or less: nothing is paced.
	Budget   decimal.Decimal
	Location *time.Location // where days begin and end (nil: UTC)
	// Start and End are the campaign's flight; End nil: open-ended.
	Start time.Time
	End   *time.Time
}

// Window is the pacing period that holds now: today in the pacing zone (DAILY), within the
// flight, or the flight (FLIGHT). ok is false when there is none: an open-ended flight, or now
// outside the flight.
func (p Pacing) Window(now time.Time) (from, to time.Time, ok bool) {
	switch p.Period {
	case PeriodDaily:
		loc := p.Location
		if loc == nil {
			loc = time.UTC
		}
		y, m, d := now.In(loc).Date()
		from, to = time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		if p.Start.After(from) {
			from = p.Start
		}
		if p.End != nil && p.End.Before(to) {
			to = *p.End
		}
	default:
		if p.End == nil {
			return time.Time{}, time.Time{}, false
		}
		from, to = p.Start, *p.End
	}
	if now.Before(from) || !now.Before(to) {
		return time.Time{}, time.Time{}, false
	}
	return from.UTC(), to.UTC(), true
}

// PlannedShare is the share of the period's budget the plan has spent by now, from 0 to 1:
// the elapsed share of the period x (EVEN, and ASAP, which has no plan of its own and is
// judged against the even one), or 1.5x - 0.5x² (FRONT_LOADED). ok is false outside a period.
func (p Pacing) PlannedShare(now time.Time) (share float64, ok bool) {
	from, to, ok := p.Window(now)
	if !ok {
		return 0, false
	}
	x := float64(now.Sub(from)) / float64(to.Sub(from))
	if p.Mode == PacingFrontLoaded {
		return 1.5*x - 0.5*x*x, true
	}
	return x, true
}

// Planned is the spend the plan has reached by now, in the budget's units (4 decimals).
func (p Pacing) Planned(now time.Time) decimal.Decimal {
	share, ok := p.PlannedShare(now)
	if !ok {
		return decimal.Zero
	}
	return p.Budget.Mul(decimal.NewFromFloat(share)).Round(4)
}

// Index is the pacing index at now of a period that has spent spent: (spent / budget) /
// planned share, 1 on plan, above 1 ahead of it. For EVEN and ASAP it is (spend to date /
// budget) / (elapsed / period). ok is false when it is undefined: outside a period, at its
// very start, or without a budget.
func (p Pacing) Index(spent decimal.Decimal, now time.Time) (float64, bool) {
	share, ok := p.PlannedShare(now)
	if !ok || share <= 0 || !p.Budget.IsPositive() {
		return 0, false
	}
	s, _ := spent.Div(p.Budget).Float64()
	return s / share, true
}

// Probability is the share of requests the throttle lets through at now, for a period that
// has spent spent: a proportional controller on the lead over the plan,
// 1 - (spent/budget - planned share) / PacingBand, clamped to [0, 1]. ASAP, an unpaced
// budget, or a time outside a period: 1.
func (p Pacing) Probability(spent decimal.Decimal, now time.Time) float64 {
	if p.Mode == PacingASAP || !p.Budget.IsPositive() {
		return 1
	}
	share, ok := p.PlannedShare(now)
	if !ok {
		return 1
	}
	s, _ := spent.Div(p.Budget).Float64()
	return math.Min(1, math.Max(0, 1-(s-share)/PacingBand))
}

// PacingDraw is the throttle's draw for one campaign, customer and time slot: a number in
// [0, 1) that is the same for the same three, and spread evenly over customers. A customer
// is served when the draw is below the campaign's Probability.
func PacingDraw(campaignID [16]byte, customerID string, now time.Time) float64 {
	h := fnv.New64a()
	_, _ = h.Write(campaignID[:])
	_, _ = h.Write([]byte(customerID))
	var slot [8]byte
	binary.BigEndian.PutUint64(slot[:], uint64(now.Unix()/int64(PacingSlot/time.Second)))
	_, _ = h.Write(slot[:])
	// FNV alone clusters on inputs that differ in their last bytes: the splitmix64
	// finalizer spreads them.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}
