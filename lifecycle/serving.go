package lifecycle

import (
	"fmt"
	"slices"
	"time"
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
	ServingBudgetExhausted ServingStatus = "BUDGET_EXHAUSTED" // stopped because its budget is spent
	ServingEnded           ServingStatus = "ENDED"            // past its end date, or completed
	ServingCancelled       ServingStatus = "CANCELLED"        // cancelled
)

// ServingStatuses lists every serving status.
func ServingStatuses() []ServingStatus {
	return []ServingStatus{ServingNone, ServingPending, ServingServing, ServingPaused,
		ServingBudgetExhausted, ServingEnded, ServingCancelled}
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
	StopEndDate         StopCode = "END_DATE"         // the end date passed
)

// Serving computes the serving status at now.
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
		if code == StopBudgetExhausted {
			return ServingBudgetExhausted
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
