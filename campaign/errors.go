package campaign

import (
	"errors"
	"fmt"
	"strings"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

var (
	// ErrNotFound: no live campaign has this id.
	ErrNotFound = errors.New("campaign not found")
	// ErrNameTaken: another live campaign has this name (case-insensitive).
	ErrNameTaken = errors.New("campaign name is already in use")
	// ErrVersionConflict: the campaign changed since the version the caller based its write on.
	ErrVersionConflict = errors.New("campaign was changed by someone else")
)

// FieldError is one rule a field of the input breaks. Field is a JSON path such as
// "settings.channels[1]"; the HTTP API answers a ValidationError with a 422 listing them.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every rule the input breaks, not only the first.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid campaign: " + strings.Join(parts, "; ")
}

// StateError says an operation is not allowed in the campaign's current status.
type StateError struct {
	Op     string
	Status lifecycle.Status
}

func (e *StateError) Error() string {
	return fmt.Sprintf("cannot %s a campaign in status %s", e.Op, e.Status)
}

// TargetingLockedError says an update would change the rules of a campaign that is serving:
// they were checked against the Rules Engine when it started, so it must be paused first.
type TargetingLockedError struct {
	Status lifecycle.Status
	Fields []string // the rule lists the update would change
}

func (e *TargetingLockedError) Error() string {
	return fmt.Sprintf("cannot change %s of a campaign in status %s; pause it first", strings.Join(e.Fields, " and "), e.Status)
}
