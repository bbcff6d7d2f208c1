package campaign

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/textcheck"
)

// Approval above a budget threshold. A deployment sets a threshold per currency
// (ApprovalThresholds); once one is set, a currency without a threshold of its own has a
// threshold of zero, so that no budget escapes approval by changing currency. A campaign
// whose budget is above the threshold of its currency may
// start or resume serving only with a standing approval: someone submits it, and a user other
// than its author and its submitter approves it. Any change to what it serves (every field
// but its name and description) voids a standing approval or a pending request. The threshold is judged when each thing happens (submit,
// activate, resume, a read), against the configuration of that moment: a campaign approved
// under one threshold keeps its approval when the threshold changes, and a campaign never
// submitted needs one as soon as a threshold below its budget is configured.

// ApprovalStatus is where a campaign stands in the approval workflow. NOT_REQUIRED and
// REQUIRED are derived at the time of reading from the budget and the thresholds (nothing was
// submitted, or a submission was voided); the others are stored.
type ApprovalStatus string

// The approval statuses.
const (
	ApprovalNotRequired ApprovalStatus = "NOT_REQUIRED"
	ApprovalRequired    ApprovalStatus = "REQUIRED"
	ApprovalPending     ApprovalStatus = "PENDING"
	ApprovalApproved    ApprovalStatus = "APPROVED"
	ApprovalRejected    ApprovalStatus = "REJECTED"
)

// ApprovalStatuses lists every approval status.
func ApprovalStatuses() []ApprovalStatus {
	return []ApprovalStatus{ApprovalNotRequired, ApprovalRequired, ApprovalPending, ApprovalApproved, ApprovalRejected}
}

// ParseApprovalStatus returns the approval status named s (exact, upper case).
func ParseApprovalStatus(s string) (ApprovalStatus, error) {
	if st := ApprovalStatus(s); slices.Contains(ApprovalStatuses(), st) {
		return st, nil
	}
	return "", fmt.Errorf("unknown approval status %q", s)
}

// stored reports whether s is kept in the campaign row rather than derived.
func (s ApprovalStatus) stored() bool {
	return s == ApprovalPending || s == ApprovalApproved || s == ApprovalRejected
}

// The actions the status history records for the approval steps. The campaign's status does
// not change (from and to are equal); they are not lifecycle actions (lifecycle.ParseAction
// does not know them).
const (
	ActionSubmitForApproval lifecycle.Action = "submit-for-approval"
	ActionApprove           lifecycle.Action = "approve"
	ActionReject            lifecycle.Action = "reject"
	ActionVoidApproval      lifecycle.Action = "void-approval"
)

// Rejection reason limits: a rejection must say why, so that the author can fix it.
const (
	MinRejectReasonLen = 3
	MaxRejectReasonLen = lifecycle.MaxReasonLen
)

// MaxApprovalThreshold bounds a configured threshold (exclusive). Below it, SQLite's list
// filter (which compares amounts stored as text as 64-bit floats) decides exactly as the
// decimal comparison does for every amount with at most four decimals.
var MaxApprovalThreshold = decimal.New(1, 11)

// ApprovalThresholds are the approval thresholds by currency (ISO 4217). A campaign whose
// budget is strictly above the threshold of its currency needs approval. Once any threshold
// is set (approval is on), a currency without one of its own has a threshold of zero: every
// budget in it needs approval, so that switching an approved 12,000 EUR budget to 5,000,000
// USD cannot skip the approval when only EUR is listed. There is no conversion between
// currencies to guess a threshold from. The zero value (nil) requires no approval anywhere.
type ApprovalThresholds map[string]Money

// NewApprovalThresholds parses thresholds given as text by currency ({"EUR": "10000.00"}),
// with the rules of Money: an ISO 4217 code (case-insensitive here, as configuration keys
// often are lower-cased), an amount with no more decimals than the currency's minor unit. An
// amount must be positive and below MaxApprovalThreshold. The error names the currency.
func NewApprovalThresholds(raw map[string]string) (ApprovalThresholds, error) {
	out := make(ApprovalThresholds, len(raw))
	for _, code := range slices.Sorted(maps.Keys(raw)) {
		cur := strings.ToUpper(strings.TrimSpace(code))
		m, err := NewMoney(strings.TrimSpace(raw[code]), cur)
		switch {
		case err != nil:
			return nil, &ThresholdError{Currency: code, Reason: err.Error()}
		case !m.Amount.IsPositive():
			return nil, &ThresholdError{Currency: code, Reason: "must be a positive amount"}
		case m.Amount.GreaterThanOrEqual(MaxApprovalThreshold):
			return nil, &ThresholdError{Currency: code, Reason: "must be below 100000000000"}
		}
		if _, dup := out[cur]; dup {
			return nil, &ThresholdError{Currency: code, Reason: "the currency is given twice"}
		}
		out[cur] = m
	}
	return out, nil
}

// ThresholdError is an approval threshold that does not parse.
type ThresholdError struct {
	Currency string
	Reason   string
}

func (e *ThresholdError) Error() string {
	return fmt.Sprintf("approval threshold %s: %s", e.Currency, e.Reason)
}

// For returns the threshold that applies to currency: its own, else, when approval is on
// (any threshold is set), zero in that currency. False when approval is off.
func (t ApprovalThresholds) For(currency string) (Money, bool) {
	if m, ok := t[currency]; ok {
		return m, true
	}
	if len(t) == 0 {
		return Money{}, false
	}
	return Money{Amount: decimal.Zero, Currency: currency}, true
}

// Listed reports whether currency has a threshold of its own (else For gives zero).
func (t ApprovalThresholds) Listed(currency string) bool {
	_, ok := t[currency]
	return ok
}

// Requires reports whether budget is above the threshold that applies to its currency (For).
func (t ApprovalThresholds) Requires(budget Money) bool {
	m, ok := t.For(budget.Currency)
	return ok && budget.Amount.GreaterThan(m.Amount)
}

func (t ApprovalThresholds) clone() ApprovalThresholds {
	if len(t) == 0 {
		return nil
	}
	return maps.Clone(t)
}

// Approval is a campaign's approval record: the stored status (PENDING, APPROVED, REJECTED,
// or "" when nothing was submitted or a submission was voided), who submitted it and when,
// who decided and when, and the rejection's reason.
type Approval struct {
	Status      ApprovalStatus
	SubmittedBy *UserID
	SubmittedAt *time.Time
	DecidedBy   *UserID
	DecidedAt   *time.Time
	Reason      string
}

func (a Approval) clone() Approval {
	out := a
	out.SubmittedBy, out.DecidedBy = userPtr(a.SubmittedBy), userPtr(a.DecidedBy)
	out.SubmittedAt, out.DecidedAt = utcPtr(a.SubmittedAt), utcPtr(a.DecidedAt)
	return out
}

func userPtr(u *UserID) *UserID {
	if u == nil {
		return nil
	}
	v := *u
	return &v
}

// Approval is the campaign's approval record as stored (Status "" when nothing stands).
func (c *Campaign) Approval() Approval { return c.approval.clone() }

// ApprovalStatusUnder is the campaign's approval status under thresholds t: its stored status,
// else REQUIRED when its budget is above the threshold of its currency, else NOT_REQUIRED.
func (c *Campaign) ApprovalStatusUnder(t ApprovalThresholds) ApprovalStatus {
	if c.approval.Status.stored() {
		return c.approval.Status
	}
	if t.Requires(c.budget) {
		return ApprovalRequired
	}
	return ApprovalNotRequired
}

// approvalViolation is the reason the campaign may not start or resume under thresholds t:
// its budget is above the threshold and it has no standing approval. Nil when it may.
func (c *Campaign) approvalViolation(t ApprovalThresholds) *lifecycle.Violation {
	if !t.Requires(c.budget) || c.approval.Status == ApprovalApproved {
		return nil
	}
	limit, _ := t.For(c.budget.Currency)
	st := c.ApprovalStatusUnder(t)
	next := "submit it for approval (POST .../submit-for-approval)"
	switch st {
	case ApprovalPending:
		next = "it is waiting for a manager's decision"
	case ApprovalRejected:
		next = "it was rejected; edit it and submit it again"
	}
	above := fmt.Sprintf("the budget %s is above the approval threshold %s", c.budget, limit)
	if !t.Listed(c.budget.Currency) {
		above = fmt.Sprintf("no approval threshold is set for %s, so every budget in it needs approval (the budget is %s)",
			c.budget.Currency, c.budget)
	}
	return &lifecycle.Violation{Field: "approval", Message: fmt.Sprintf(
		"approval required: %s and the campaign is not approved (approval status %s); %s",
		above, st, next)}
}

// ApprovalStateError says the approval workflow does not allow the step now: nothing to
// submit (NOT_REQUIRED), already submitted or approved, nothing pending to decide.
type ApprovalStateError struct {
	Op     string
	Status ApprovalStatus
	// Detail says why, for the problem's detail.
	Detail string
}

func (e *ApprovalStateError) Error() string {
	return fmt.Sprintf("cannot %s a campaign whose approval status is %s: %s", e.Op, e.Status, e.Detail)
}

// ErrSelfApproval: the author of a campaign cannot approve or reject it.
var ErrSelfApproval = errors.New("the author of a campaign cannot approve or reject it")

// ErrSubmitterApproval: who submitted a request cannot decide it. Without this rule a
// manager could edit a colleague's campaign (which voids its approval), submit it and
// approve their own submission.
var ErrSubmitterApproval = errors.New("the submitter of an approval request cannot approve or reject it")

// SubmitForApproval asks, for actor at now, for the approval of the campaign as it stands
// (all but its name and description). Only a DRAFT or PAUSED campaign is submitted (else
// *StateError), whose budget is above its currency's threshold in t and that is not already
// pending or approved (else *ApprovalStateError); a REJECTED campaign may be submitted again.
func (c *Campaign) SubmitForApproval(actor UserID, t ApprovalThresholds, now time.Time) (Change, error) {
	const op = "submit for approval"
	if !c.status.Editable() {
		return Change{}, &StateError{Op: op, Status: c.status}
	}
	st := c.ApprovalStatusUnder(t)
	limit, has := t.For(c.budget.Currency)
	switch {
	case st == ApprovalPending:
		return Change{}, &ApprovalStateError{Op: op, Status: st, Detail: "it is already waiting for a decision"}
	case st == ApprovalApproved:
		return Change{}, &ApprovalStateError{Op: op, Status: st, Detail: "it is already approved"}
	case !has:
		return Change{}, &ApprovalStateError{Op: op, Status: st, Detail: "approval is off: no approval threshold is configured"}
	case !t.Requires(c.budget):
		return Change{}, &ApprovalStateError{Op: op, Status: st, Detail: fmt.Sprintf(
			"the budget %s is not above the approval threshold %s", c.budget, limit)}
	}
	at := now
	by := actor
	c.approval = Approval{Status: ApprovalPending, SubmittedBy: &by, SubmittedAt: &at}
	c.updatedAt = now
	return Change{
		Event: EventSubmittedForApproval, Actor: &by, At: now,
		Data:       SubmittedForApprovalV1{Budget: moneyV1(c.budget), Threshold: moneyV1(limit), Resubmission: st == ApprovalRejected},
		Transition: c.approvalRecord(ActionSubmitForApproval, "", by, now),
	}, nil
}

// Approve approves the pending request for actor at now. The campaign must be pending (else
// *ApprovalStateError) and not terminal (else *StateError); its author cannot approve it
// (ErrSelfApproval), nor can the request's submitter (ErrSubmitterApproval). t gives the
// threshold the event records (the one of that moment; an approval stands even when the
// threshold has since been raised or removed).
func (c *Campaign) Approve(actor UserID, t ApprovalThresholds, now time.Time) (Change, error) {
	return c.decide(ActionApprove, actor, "", t, now)
}

// Reject rejects the pending request for actor at now, saying why in reason (MinRejectReasonLen
// to MaxRejectReasonLen characters, else *ValidationError). Its rules are Approve's. A rejected
// campaign may be edited and submitted again.
func (c *Campaign) Reject(actor UserID, reason string, t ApprovalThresholds, now time.Time) (Change, error) {
	return c.decide(ActionReject, actor, reason, t, now)
}

func (c *Campaign) decide(action lifecycle.Action, actor UserID, reason string, t ApprovalThresholds, now time.Time) (Change, error) {
	op := string(action)
	reason = strings.TrimSpace(reason)
	if action == ActionReject {
		if err := rejectReason(reason); err != nil {
			return Change{}, err
		}
	}
	if c.status.Terminal() {
		return Change{}, &StateError{Op: op, Status: c.status}
	}
	if c.approval.Status != ApprovalPending {
		st := c.ApprovalStatusUnder(t)
		return Change{}, &ApprovalStateError{Op: op, Status: st, Detail: "nothing is waiting for a decision: submit the campaign for approval first"}
	}
	if actor == c.createdBy {
		return Change{}, ErrSelfApproval
	}
	if c.approval.SubmittedBy != nil && actor == *c.approval.SubmittedBy {
		return Change{}, ErrSubmitterApproval
	}
	at, by := now, actor
	submittedBy, submittedAt := userPtr(c.approval.SubmittedBy), utcPtr(c.approval.SubmittedAt)
	status, event := ApprovalApproved, EventApproved
	if action == ActionReject {
		status, event = ApprovalRejected, EventRejected
	}
	c.approval = Approval{Status: status, SubmittedBy: submittedBy, SubmittedAt: submittedAt, DecidedBy: &by, DecidedAt: &at, Reason: reason}
	c.updatedAt = now
	data := ApprovalDecisionV1{Decision: string(status), Budget: moneyV1(c.budget), Reason: reason, SubmittedAt: submittedAt}
	if limit, ok := t.For(c.budget.Currency); ok {
		m := moneyV1(limit)
		data.Threshold = &m
	}
	if submittedBy != nil {
		u := uuid.UUID(*submittedBy)
		data.SubmittedBy = &u
	}
	return Change{Event: event, Data: data, Actor: &by, At: now, Transition: c.approvalRecord(action, reason, by, now)}, nil
}

// rejectReason checks a rejection's reason.
func rejectReason(reason string) error {
	if err := textcheck.Text(reason); err != nil {
		return &ValidationError{Fields: []FieldError{{Field: "reason", Message: err.Error()}}}
	}
	if n := utf8.RuneCountInString(reason); n < MinRejectReasonLen || n > MaxRejectReasonLen {
		return &ValidationError{Fields: []FieldError{{Field: "reason", Message: fmt.Sprintf(
			"a rejection needs a reason of %d to %d characters", MinRejectReasonLen, MaxRejectReasonLen)}}}
	}
	return nil
}

// approvalRecord is the history row of an approval step: the status stays as it is.
func (c *Campaign) approvalRecord(action lifecycle.Action, reason string, actor UserID, now time.Time) *lifecycle.Record {
	a := uuid.UUID(actor)
	return &lifecycle.Record{
		CampaignID: uuid.UUID(c.id), From: c.status, To: c.status, Action: action, Reason: reason,
		Actor: &a, OccurredAt: now,
	}
}

// cosmeticFields are the edited fields an approval does not cover: they label the campaign
// and change nothing it serves, to whom, when or at what cost.
var cosmeticFields = []string{"name", "description"}

// voidingFields names, sorted, the fields whose change between before and after voids an
// approval: every edited field but the cosmetic ones. An approval covers what the campaign
// serves (budget, dates, type, targeting rules, audience, channels, frequency, impressions,
// budget limit, A/B test, scheduling, personalization, pacing), so that an approver who saw one
// campaign never approves another.
func voidingFields(before, after CampaignV1) []string {
	var out []string
	for f := range newUpdatedV1(before, after).Changes {
		if !slices.Contains(cosmeticFields, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// voidApproval voids a pending or standing approval after an edit that changed fields (see
// Replace): it adds the CampaignApprovalVoided follow-up and the history row to ch. A REJECTED
// campaign keeps its rejection (and its reason) until it is submitted again.
func (c *Campaign) voidApproval(ch *Change, fields []string, now time.Time) {
	prev := c.approval
	if len(fields) == 0 || (prev.Status != ApprovalPending && prev.Status != ApprovalApproved) {
		return
	}
	c.approval = Approval{}
	data := ApprovalVoidedV1{VoidedStatus: string(prev.Status), ChangedFields: fields, Budget: moneyV1(c.budget)}
	ch.Then = append(ch.Then, FollowUp{Event: EventApprovalVoided, Data: data})
	rec := &lifecycle.Record{
		CampaignID: uuid.UUID(c.id), From: c.status, To: c.status, Action: ActionVoidApproval,
		Reason: "voided by a change of " + strings.Join(fields, ", "), OccurredAt: now,
	}
	if ch.Actor != nil {
		a := uuid.UUID(*ch.Actor)
		rec.Actor = &a
	}
	ch.Transition = rec
}

// withdrawApproval withdraws the pending request of a campaign that has just ended (completed
// or cancelled), so that no approver's queue keeps it: ch gains CampaignApprovalVoided, with
// "status" as the changed field. An approval that was given stays on record.
func (c *Campaign) withdrawApproval(ch *Change) {
	if !c.status.Terminal() || c.approval.Status != ApprovalPending {
		return
	}
	c.approval = Approval{}
	ch.Then = append(ch.Then, FollowUp{Event: EventApprovalVoided, Data: ApprovalVoidedV1{
		VoidedStatus: string(ApprovalPending), ChangedFields: []string{"status"}, Budget: moneyV1(c.budget)}})
}
