package campaign

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Campaign is the aggregate root. Its state is private so that no caller can build or leave
// an invalid campaign: New creates one from validated input, Rehydrate loads a stored one, and
// Replace, ApplyTransition, MarkDeleted and the approval steps (SubmitForApproval, Approve,
// Reject) are the only changes, each under its rules; each successful change moves the
// campaign to its next version. The getters return copies: changing what they return changes
// nothing here. What readers know beside it (what it delivered, the approval thresholds of
// the moment) is a View's, not the aggregate's.
type Campaign struct {
	id                ID
	name              string
	description       string
	status            lifecycle.Status
	typ               Type
	targetingRules    []RuleID
	startDate         time.Time
	endDate           *time.Time
	budget            Money
	createdBy         UserID
	createdAt         time.Time
	updatedAt         time.Time
	settings          Settings
	version           int64
	deletedAt         *time.Time
	stopCode          lifecycle.StopCode
	targetingVerified bool
	// approval is the approval record (approval.go).
	approval Approval
}

// Change is what one write did to a campaign, for the store to record in the same
// transaction as the campaign: its domain event and, for a status change, its history row.
type Change struct {
	// Event is the domain event type (EventCreated...) and Data its payload.
	Event string
	Data  Payload
	// Actor is who made the change; nil means the actor of the request context, if any.
	Actor *UserID
	At    time.Time
	// Transition is the status change the history records (nil for other changes). The store
	// fills in its campaign id and version.
	Transition *lifecycle.Record
	// EventID identifies the event (zero: the store picks one). The Service sets it, to tell
	// later whether the event committed.
	EventID uuid.UUID
	// Then are further events of the same change, recorded after Event in the same
	// transaction and at the same version (CampaignBudgetExceeded after the completion).
	Then []FollowUp
}

// FollowUp is one further event of a Change.
type FollowUp struct {
	Event   string
	Data    Payload
	EventID uuid.UUID // zero: the store picks one
}

// New validates in and returns a new DRAFT campaign with version 1, authored by actor at now.
// Invalid input is a *ValidationError listing every broken rule.
func New(id ID, actor UserID, in Input, now time.Time) (*Campaign, error) {
	now = now.UTC().Truncate(time.Microsecond)
	in.Normalize()
	if errs := in.Validate(now, nil); len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	c := &Campaign{
		id: id, status: lifecycle.StatusDraft, createdBy: actor,
		createdAt: now, updatedAt: now, version: 1,
	}
	c.apply(in)
	return c, nil
}

// created is the change that records c's creation.
func created(c *Campaign) Change {
	actor := c.createdBy
	return Change{
		Event: EventCreated, Data: CreatedV1{Campaign: newCampaignV1(c, c.createdAt)},
		Actor: &actor, At: c.createdAt,
	}
}

// RehydrateParams is a campaign as a store keeps it.
type RehydrateParams struct {
	ID                ID
	Name              string
	Description       string
	Status            lifecycle.Status
	Type              Type
	TargetingRules    []RuleID
	StartDate         time.Time
	EndDate           *time.Time
	Budget            Money
	CreatedBy         UserID
	CreatedAt         time.Time
	UpdatedAt         time.Time
	Settings          Settings
	Version           int64
	DeletedAt         *time.Time
	StopCode          lifecycle.StopCode
	TargetingVerified bool
	Approval          Approval
}

// ErrCorrupt: stored data does not make a campaign (Rehydrate).
var ErrCorrupt = errors.New("stored campaign is not valid")

// Rehydrate rebuilds a stored campaign, for stores only. It trusts the data the service wrote
// (a start date may lie in the past by now) but refuses what no campaign can be: a nil id, an
// unknown status or type, a version below 1 (ErrCorrupt). Times are kept in UTC.
func Rehydrate(p RehydrateParams) (*Campaign, error) {
	switch {
	case p.ID == ID{}:
		return nil, fmt.Errorf("%w: nil id", ErrCorrupt)
	case !slices.Contains(lifecycle.Statuses(), p.Status):
		return nil, fmt.Errorf("%w: %s has unknown status %q", ErrCorrupt, p.ID, p.Status)
	case !slices.Contains(Types(), p.Type):
		return nil, fmt.Errorf("%w: %s has unknown type %q", ErrCorrupt, p.ID, p.Type)
	case p.Version < 1:
		return nil, fmt.Errorf("%w: %s has version %d", ErrCorrupt, p.ID, p.Version)
	case p.Approval.Status != "" && !p.Approval.Status.stored():
		return nil, fmt.Errorf("%w: %s has approval status %q", ErrCorrupt, p.ID, p.Approval.Status)
	}
	return &Campaign{
		id: p.ID, name: p.Name, description: p.Description, status: p.Status, typ: p.Type,
		targetingRules: nonNil(slices.Clone(p.TargetingRules)),
		startDate:      p.StartDate.UTC(), endDate: utcPtr(p.EndDate), budget: p.Budget,
		createdBy: p.CreatedBy, createdAt: p.CreatedAt.UTC(), updatedAt: p.UpdatedAt.UTC(),
		settings: p.Settings.clone(), version: p.Version, deletedAt: utcPtr(p.DeletedAt),
		stopCode: p.StopCode, targetingVerified: p.TargetingVerified, approval: p.Approval.clone(),
	}, nil
}

// Replace replaces the editable fields with in at now. Only a DRAFT or PAUSED campaign is
// edited (else *StateError); an ACTIVE one that the edit would retarget says so with
// *TargetingLockedError (its rules were vetted when it started). Invalid input is a
// *ValidationError; an unchanged start date may lie in the past, a new one may not. A change
// of rules clears TargetingVerified until the next activation vets them. A change of what an
// approval covers (every field but name and description) voids a pending or standing approval: the Change
// then carries CampaignApprovalVoided and its history row.
func (c *Campaign) Replace(in Input, now time.Time) (Change, error) {
	if !c.status.Editable() {
		if fields := changedRules(c, in); c.status == lifecycle.StatusActive && len(fields) > 0 {
			return Change{}, &TargetingLockedError{Status: c.status, Fields: fields}
		}
		return Change{}, &StateError{Op: "update", Status: c.status}
	}
	in.Normalize()
	errs := in.Validate(now, &c.startDate)
	if c.status != lifecycle.StatusDraft && successMetricOf(c.settings.ABTest) != successMetricOf(in.Settings.ABTest) &&
		running(c.settings.ABTest) && running(in.Settings.ABTest) {
		// The metric is registered before the test starts: choosing it after seeing the
		// results would void the test. A new test (enabled anew) may name another.
		errs = append(errs, FieldError{Field: "settings.abTestSettings.successMetric", Message: fmt.Sprintf(
			"is fixed once the A/B test has started: it stays %q (end the test and start a new one to judge another metric)",
			successMetricOf(c.settings.ABTest))})
	}
	if len(errs) > 0 {
		return Change{}, &ValidationError{Fields: errs}
	}
	before := newCampaignV1(c, now)
	if len(changedRules(c, in)) > 0 {
		c.targetingVerified = false
	}
	c.apply(in)
	c.updatedAt = now
	after := newCampaignV1(c, now)
	ch := Change{Event: EventUpdated, Data: newUpdatedV1(before, after), At: now}
	c.voidApproval(&ch, voidingFields(before, after), now)
	return ch, nil
}

func running(ab *ABTestSettings) bool { return ab != nil && ab.Enabled }

// successMetricOf is the metric an A/B test is judged on ("" means ctr).
func successMetricOf(ab *ABTestSettings) SuccessMetric {
	if ab == nil || ab.SuccessMetric == "" {
		return SuccessCTR
	}
	return ab.SuccessMetric
}

// StatusChange asks a campaign to move by one lifecycle action, with what the history
// records of it and the deployment's rules that judge it.
type StatusChange struct {
	Action lifecycle.Action
	Reason string
	// Actor is who asked; nil for the automation, which sets Automatic and says why in StopCode.
	Actor     *UserID
	Automatic bool
	StopCode  lifecycle.StopCode
	// AllowUntargeted lets a campaign without targeting rules start (lifecycle.Targeted).
	AllowUntargeted bool
	// Thresholds are the approval thresholds of the moment: a campaign above its currency's
	// threshold starts or resumes only when approved.
	Thresholds ApprovalThresholds
	// TargetingVerified is the verdict of the activation checks (the Rules Engine's), which
	// the caller runs before a transition that needs them (lifecycle.Transition's
	// NeedsActivationChecks): they call other services, which an aggregate does not.
	TargetingVerified bool
}

// Decide judges sc against the campaign at now without changing it: the transition the state
// machine allows (lifecycle.Decide on the campaign's status, dates, rules and sc's reason),
// *lifecycle.ForbiddenError when its status does not allow the action, or
// *lifecycle.BlockedError listing every guard that fails, the approval above a threshold
// included. The transition is returned with a BlockedError too, so that a caller can run the
// activation checks and report every reason at once.
func (c *Campaign) Decide(sc StatusChange, now time.Time) (lifecycle.Transition, error) {
	t, err := lifecycle.Decide(lifecycle.Subject{
		Status: c.status, StartDate: c.startDate, EndDate: c.endDate, TargetingRules: len(c.targetingRules),
		AllowUntargeted: sc.AllowUntargeted, Reason: strings.TrimSpace(sc.Reason), Now: now,
	}, sc.Action)
	var forbidden *lifecycle.ForbiddenError
	if errors.As(err, &forbidden) {
		return t, err
	}
	var violations []lifecycle.Violation
	var blocked *lifecycle.BlockedError
	if errors.As(err, &blocked) {
		violations = blocked.Violations
	} else if err != nil {
		return t, err
	}
	if t.NeedsActivationChecks {
		// Approval above the budget threshold is judged against the thresholds of now.
		if v := c.approvalViolation(sc.Thresholds); v != nil {
			violations = append(violations, *v)
		}
	}
	if len(violations) > 0 {
		return t, &lifecycle.BlockedError{Status: c.status, Action: sc.Action, Violations: violations}
	}
	return t, nil
}

// ApplyTransition moves the campaign by sc.Action at now, when Decide allows it (else its
// error, and nothing changes): the status moves only along the state machine, under its
// guards. A campaign that ends (COMPLETED, CANCELLED) while its approval is pending has the
// request withdrawn.
func (c *Campaign) ApplyTransition(sc StatusChange, now time.Time) (Change, error) {
	t, err := c.Decide(sc, now)
	if err != nil {
		return Change{}, err
	}
	rec := lifecycle.Record{
		CampaignID: uuid.UUID(c.id), From: c.status, To: t.To, Action: t.Effective,
		Reason: strings.TrimSpace(sc.Reason), StopCode: sc.StopCode, Automatic: sc.Automatic, OccurredAt: now,
	}
	if sc.Actor != nil {
		actor := uuid.UUID(*sc.Actor)
		rec.Actor = &actor
	}
	c.status, c.stopCode = t.To, sc.StopCode
	if t.NeedsActivationChecks {
		c.targetingVerified = sc.TargetingVerified
	}
	c.updatedAt = now
	ch := Change{
		Event: transitionEvents[t.Effective], Data: newTransitionV1(rec), Actor: sc.Actor, At: now,
		Transition: &rec,
	}
	c.withdrawApproval(&ch)
	return ch, nil
}

// MarkDeleted soft-deletes a DRAFT, COMPLETED or CANCELLED campaign at now (else *StateError).
// Its history stays; its name becomes free.
func (c *Campaign) MarkDeleted(now time.Time) (Change, error) {
	if !c.status.Deletable() {
		return Change{}, &StateError{Op: "delete", Status: c.status}
	}
	at := now
	c.deletedAt, c.updatedAt = &at, now
	return Change{Event: EventDeleted, Data: DeletedV1{Name: c.name, Status: string(c.status)}, At: now}, nil
}

func (c *Campaign) apply(in Input) {
	c.name, c.description, c.typ = in.Name, in.Description, in.Type
	c.targetingRules = nonNil(slices.Clone(in.TargetingRules))
	c.startDate, c.endDate = in.StartDate, utcPtr(in.EndDate)
	c.budget, c.settings = in.Budget, in.Settings.clone()
}

// changedRules names the rule lists (targetingRules, settings.personalization.rules) whose set
// of rules in differs from c's. Order and repetition do not count: the same rules target the
// same people.
func changedRules(c *Campaign, in Input) []string {
	var out []string
	if !sameRules(c.targetingRules, in.TargetingRules) {
		out = append(out, "targetingRules")
	}
	if !sameRules(c.settings.Personalization.Rules, in.Settings.Personalization.Rules) {
		out = append(out, "settings.personalization.rules")
	}
	return out
}

func sameRules(a, b []RuleID) bool {
	set := make(map[RuleID]bool, len(a))
	for _, r := range a {
		set[r] = true
	}
	other := make(map[RuleID]bool, len(b))
	for _, r := range b {
		if !set[r] {
			return false
		}
		other[r] = true
	}
	return len(other) == len(set)
}

// The getters. Slices, pointers and settings are copies.

// ID is the campaign's id.
func (c *Campaign) ID() ID { return c.id }

// Name is the campaign's name, unique among live campaigns without regard to case.
func (c *Campaign) Name() string { return c.name }

// Description is the campaign's free text.
func (c *Campaign) Description() string { return c.description }

// Status is the campaign's lifecycle status.
func (c *Campaign) Status() lifecycle.Status { return c.status }

// Type is the kind of campaign.
func (c *Campaign) Type() Type { return c.typ }

// TargetingRules are the Rules Engine rules that select the campaign's audience.
func (c *Campaign) TargetingRules() []RuleID { return slices.Clone(c.targetingRules) }

// StartDate is when the campaign starts serving.
func (c *Campaign) StartDate() time.Time { return c.startDate }

// EndDate is when the campaign stops serving; nil: it runs until stopped.
func (c *Campaign) EndDate() *time.Time { return utcPtr(c.endDate) }

// Budget is the campaign's total budget.
func (c *Campaign) Budget() Money { return c.budget }

// CreatedBy is the campaign's author.
func (c *Campaign) CreatedBy() UserID { return c.createdBy }

// CreatedAt is when the campaign was created.
func (c *Campaign) CreatedAt() time.Time { return c.createdAt }

// UpdatedAt is when the campaign last changed.
func (c *Campaign) UpdatedAt() time.Time { return c.updatedAt }

// Settings are how the campaign reaches people.
func (c *Campaign) Settings() Settings { return c.settings.clone() }

// Version counts the campaign's stored changes; writes name the version they are based on.
func (c *Campaign) Version() int64 { return c.version }

// Stored records that a store has written the campaign at version v. The store counts
// versions, not the aggregate's changes: a Store calls it once it has written a change.
func (c *Campaign) Stored(v int64) { c.version = v }

// DeletedAt is when the campaign was deleted; nil for a live one.
func (c *Campaign) DeletedAt() *time.Time { return utcPtr(c.deletedAt) }

// StopCode says why the automation last stopped the campaign (empty after manual actions).
func (c *Campaign) StopCode() lifecycle.StopCode { return c.stopCode }

// TargetingVerified says a targeting check (the Rules Engine's, see TargetingVerifier) ran and
// passed when the campaign was last activated or resumed, and its rules have not changed
// since. False when no such check is configured.
func (c *Campaign) TargetingVerified() bool { return c.targetingVerified }

// ServingWith is the campaign's serving status at now: its status and dates, then, when those
// say SERVING, its scheduling windows (time zones loaded through zones; nil: loaded afresh),
// impression cap and budgets against what it delivered, d.
func (c *Campaign) ServingWith(zones *lifecycle.Zones, d lifecycle.Delivered, now time.Time) lifecycle.ServingStatus {
	if s := lifecycle.Serving(c.status, c.stopCode, c.startDate, c.endDate, now); s != lifecycle.ServingServing {
		return s
	}
	return lifecycle.ServingWith(c.status, c.stopCode, c.startDate, c.endDate, c.DeliveryWith(zones, d), now)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
