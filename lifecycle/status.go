// Package lifecycle holds the campaign status model. It is pure: it imports no capability and
// nothing of the platform but its text rules (platform/textcheck), and touches no storage, so
// every capability can depend on it.
package lifecycle

import (
	"fmt"
	"slices"
)

// Status is where a campaign stands in its lifecycle.
type Status string

// The campaign statuses. COMPLETED and CANCELLED are terminal.
const (
	StatusDraft     Status = "DRAFT"
	StatusActive    Status = "ACTIVE"
	StatusPaused    Status = "PAUSED"
	StatusCompleted Status = "COMPLETED"
	StatusCancelled Status = "CANCELLED"
)

// Statuses lists every status in lifecycle order.
func Statuses() []Status {
	return []Status{StatusDraft, StatusActive, StatusPaused, StatusCompleted, StatusCancelled}
}

// ParseStatus returns the status named s (exact, upper case).
func ParseStatus(s string) (Status, error) {
	if st := Status(s); slices.Contains(Statuses(), st) {
		return st, nil
	}
	return "", fmt.Errorf("unknown status %q", s)
}

// Terminal reports whether no action can move a campaign out of s.
func (s Status) Terminal() bool { return s == StatusCompleted || s == StatusCancelled }

// Editable reports whether a campaign's definition may be changed in status s.
func (s Status) Editable() bool { return s == StatusDraft || s == StatusPaused }

// Deletable reports whether a campaign in status s may be deleted: never while it can still run.
func (s Status) Deletable() bool {
	return s == StatusDraft || s == StatusCompleted || s == StatusCancelled
}
