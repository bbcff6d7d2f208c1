package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/engine-rules-sp/campaigns/platform/textcheck"
)

// Action is something a person or the automation does to a campaign's status.
type Action string

// The lifecycle actions. "stop" is accepted by the API as another name for complete.
const (
	ActionActivate Action = "activate"
	ActionPause    Action = "pause"
	ActionResume   Action = "resume"
	ActionComplete Action = "complete"
	ActionCancel   Action = "cancel"
)

// Actions lists every action.
func Actions() []Action {
	return []Action{ActionActivate, ActionPause, ActionResume, ActionComplete, ActionCancel}
}

// ParseAction returns the action named s; "stop" means complete.
func ParseAction(s string) (Action, error) {
	if s == "stop" {
		return ActionComplete, nil
	}
	if a := Action(s); slices.Contains(Actions(), a) {
		return a, nil
	}
	return "", fmt.Errorf("unknown action %q", s)
}

// Reason limits: a cancellation must be justified, and every reason is bounded.
const (
	MinCancelReasonLen = 3
	MaxReasonLen       = 500
)

// Subject is what the guards look at: the campaign's status, dates and number of targeting
// rules, the request's reason, and the time of the request.
type Subject struct {
	Status         Status
	StartDate      time.Time
	EndDate        *time.Time
	TargetingRules int
	// AllowUntargeted lets a campaign without targeting rules start (a deployment setting).
	AllowUntargeted bool
	Reason          string
	Now             time.Time
}

// Violation is one reason a transition is blocked. Field names the input or campaign field at
// fault ("reason", "endDate", "targetingRules[0]"), when there is one.
type Violation struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Guard checks one precondition of a transition. It returns nil when the precondition holds.
type Guard func(Subject) *Violation

// Transition is one row of the state machine.
type Transition struct {
	From   Status
	Action Action
	To     Status
	// Effective is the action recorded in history: activate on a PAUSED campaign is a resume.
	Effective Action
	Guards    []Guard
	// NeedsActivationChecks says the external activation checks (targeting) must pass too.
	NeedsActivationChecks bool
}

// Table is the state machine: the single source of truth for what may happen in each status.
// Any (status, action) pair not listed is forbidden.
func Table() []Transition {
	return []Transition{
		{From: StatusDraft, Action: ActionActivate, To: StatusActive, Effective: ActionActivate,
			Guards: []Guard{EndNotPassed, Targeted, ReasonBounded}, NeedsActivationChecks: true},
		{From: StatusActive, Action: ActionPause, To: StatusPaused, Effective: ActionPause,
			Guards: []Guard{ReasonBounded}},
		{From: StatusPaused, Action: ActionResume, To: StatusActive, Effective: ActionResume,
			Guards: []Guard{EndNotPassed, Targeted, ReasonBounded}, NeedsActivationChecks: true},
		{From: StatusPaused, Action: ActionActivate, To: StatusActive, Effective: ActionResume,
			Guards: []Guard{EndNotPassed, Targeted, ReasonBounded}, NeedsActivationChecks: true},
		{From: StatusActive, Action: ActionComplete, To: StatusCompleted, Effective: ActionComplete,
			Guards: []Guard{ReasonBounded}},
		{From: StatusPaused, Action: ActionComplete, To: StatusCompleted, Effective: ActionComplete,
			Guards: []Guard{ReasonBounded}},
		{From: StatusDraft, Action: ActionCancel, To: StatusCancelled, Effective: ActionCancel,
			Guards: []Guard{ReasonJustified}},
		{From: StatusActive, Action: ActionCancel, To: StatusCancelled, Effective: ActionCancel,
			Guards: []Guard{ReasonJustified}},
		{From: StatusPaused, Action: ActionCancel, To: StatusCancelled, Effective: ActionCancel,
			Guards: []Guard{ReasonJustified}},
	}
}

// Lookup returns the transition for action in status from, if the table has one.
func Lookup(from Status, action Action) (Transition, bool) {
	for _, t := range Table() {
		if t.From == from && t.Action == action {
			return t, true
		}
	}
	return Transition{}, false
}

// Allowed lists the actions the table permits in status s (guards aside), in table order.
func Allowed(s Status) []Action {
	out := []Action{}
	for _, t := range Table() {
		if t.From == s && !slices.Contains(out, t.Action) {
			out = append(out, t.Action)
		}
	}
	return out
}

// ForbiddenError is an action the table does not allow in the current status.
type ForbiddenError struct {
	Status  Status
	Action  Action
	Allowed []Action
}

func (e *ForbiddenError) Error() string {
	allowed := "none: the status is terminal"
	if len(e.Allowed) > 0 {
		parts := make([]string, len(e.Allowed))
		for i, a := range e.Allowed {
			parts[i] = string(a)
		}
		allowed = strings.Join(parts, ", ")
	}
	return fmt.Sprintf("cannot %s a campaign that is %s; allowed now: %s", e.Action, e.Status, allowed)
}

// BlockedError is a permitted transition whose guards fail. It lists every failing guard.
type BlockedError struct {
	Status     Status
	Action     Action
	Violations []Violation
}

func (e *BlockedError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Message
		if v.Field != "" {
			parts[i] = v.Field + ": " + v.Message
		}
	}
	return fmt.Sprintf("cannot %s the campaign (%s): %s", e.Action, e.Status, strings.Join(parts, "; "))
}

// Decide returns the transition for action on s when the table allows it and every guard
// passes; else a *ForbiddenError or a *BlockedError listing all failed guards. External
// activation checks are the caller's (see Transition.NeedsActivationChecks).
func Decide(s Subject, action Action) (Transition, error) {
	t, ok := Lookup(s.Status, action)
	if !ok {
		return Transition{}, &ForbiddenError{Status: s.Status, Action: action, Allowed: Allowed(s.Status)}
	}
	var vs []Violation
	for _, g := range t.Guards {
		if v := g(s); v != nil {
			vs = append(vs, *v)
		}
	}
	if len(vs) > 0 {
		return t, &BlockedError{Status: s.Status, Action: action, Violations: vs}
	}
	return t, nil
}

// The guards.

// EndNotPassed: a campaign whose end date has passed cannot (re)start.
func EndNotPassed(s Subject) *Violation {
	if s.EndDate != nil && !s.Now.Before(*s.EndDate) {
		return &Violation{Field: "endDate", Message: "the end date has passed; move it before starting the campaign"}
	}
	return nil
}

// Targeted: a campaign starts or resumes only with at least one targeting rule, unless the
// deployment allows untargeted campaigns: serving one would show it to every customer.
func Targeted(s Subject) *Violation {
	if s.TargetingRules == 0 && !s.AllowUntargeted {
		return &Violation{Field: "targetingRules", Message: "at least one targeting rule is required to start serving " +
			"(a deployment may allow untargeted campaigns: activation.allow_untargeted)"}
	}
	return nil
}

// ReasonBounded: an optional reason is text the history can store, of at most MaxReasonLen
// characters.
func ReasonBounded(s Subject) *Violation {
	if v := reasonText(s.Reason); v != nil {
		return v
	}
	if utf8.RuneCountInString(s.Reason) > MaxReasonLen {
		return &Violation{Field: "reason", Message: fmt.Sprintf("must be at most %d characters", MaxReasonLen)}
	}
	return nil
}

// ReasonJustified: cancelling needs a reason of MinCancelReasonLen to MaxReasonLen characters,
// of text the history can store.
func ReasonJustified(s Subject) *Violation {
	if v := reasonText(s.Reason); v != nil {
		return v
	}
	n := utf8.RuneCountInString(strings.TrimSpace(s.Reason))
	if n < MinCancelReasonLen || n > MaxReasonLen {
		return &Violation{Field: "reason", Message: fmt.Sprintf("a cancellation needs a reason of %d to %d characters", MinCancelReasonLen, MaxReasonLen)}
	}
	return nil
}

// reasonText refuses a reason the history cannot store (NUL, invalid UTF-8): a blocked
// transition, never a failed write.
func reasonText(reason string) *Violation {
	if err := textcheck.Text(reason); err != nil {
		return &Violation{Field: "reason", Message: err.Error()}
	}
	return nil
}
