package campaign

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Service is the campaign use cases: it validates input, enforces the lifecycle's edit rules
// and optimistic locking, and persists through the Repository.
type Service struct {
	repo        *Repository
	now         func() time.Time
	checks      []ActivationCheck
	afterCommit func()
	observe     func(eventType string)
}

// Option configures a Service.
type Option func(*Service)

// WithClock replaces the wall clock, for tests and simulations.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithActivationChecks registers checks that must pass before a campaign starts or resumes.
func WithActivationChecks(checks ...ActivationCheck) Option {
	return func(s *Service) { s.checks = append(s.checks, checks...) }
}

// WithAfterCommit registers fn to run after each committed change (the event relay's Notify,
// so that events leave without waiting for its next poll).
func WithAfterCommit(fn func()) Option { return func(s *Service) { s.afterCommit = fn } }

// WithEventObserver registers fn to learn the type of every domain event once the change that
// recorded it has committed (metrics count them; a rolled-back change is never observed).
func WithEventObserver(fn func(eventType string)) Option { return func(s *Service) { s.observe = fn } }

// NewService returns the campaign service over repo.
func NewService(repo *Repository, opts ...Option) *Service {
	s := &Service{repo: repo, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Create validates in and stores a new DRAFT campaign authored by actor.
func (s *Service) Create(ctx context.Context, actor UserID, in Input) (*Campaign, error) {
	now := s.clock()
	in.normalize()
	if errs := in.Validate(now, nil); len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	c := &Campaign{
		ID: NewID(), Status: lifecycle.StatusDraft, CreatedBy: actor,
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	c.apply(in)
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx, repo *Repository) error {
		if err := repo.Create(ctx, c); err != nil {
			return err
		}
		return appendEvent(ctx, tx, c, EventCreated, &actor, now, CreatedPayload{Campaign: NewResponse(c, now)})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// write runs fn in a transaction and, once it committed, signals the event relay and the
// event observer.
func (s *Service) write(ctx context.Context, fn func(ctx context.Context, tx bun.Tx, repo *Repository) error) error {
	var events *[]string
	if s.observe != nil {
		events = new([]string)
		inner := fn
		fn = func(ctx context.Context, tx bun.Tx, repo *Repository) error {
			*events = (*events)[:0] // a retried transaction starts over
			return inner(withEventLog(ctx, events), tx, repo)
		}
	}
	if err := s.repo.RunInTx(ctx, fn); err != nil {
		return err
	}
	if s.afterCommit != nil {
		s.afterCommit()
	}
	if events != nil {
		for _, t := range *events {
			s.observe(t)
		}
	}
	return nil
}

// Get returns a live campaign.
func (s *Service) Get(ctx context.Context, id ID) (*Campaign, error) { return s.repo.Get(ctx, id) }

// GetMany returns the live campaigns among ids; unknown and deleted ones are absent.
func (s *Service) GetMany(ctx context.Context, ids []ID) (map[ID]*Campaign, error) {
	return s.repo.GetMany(ctx, ids)
}

// List returns a page of live campaigns and the next page's cursor (nil on the last page).
func (s *Service) List(ctx context.Context, f Filter) ([]*Campaign, *Cursor, error) {
	return s.repo.List(ctx, f)
}

// Update replaces the editable fields of a DRAFT or PAUSED campaign. expectedVersion is the
// version the caller read (a newer stored version -> ErrVersionConflict); nil means the
// version current now, still guarded against a concurrent write. Changing the rules of an
// ACTIVE campaign is a *TargetingLockedError (the rules were vetted when it started); a change
// of rules of a PAUSED campaign clears TargetingVerified until the next resume vets them.
func (s *Service) Update(ctx context.Context, id ID, expectedVersion *int64, in Input) (*Campaign, error) {
	c, err := s.repo.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if expectedVersion != nil && c.Version != *expectedVersion {
		return nil, ErrVersionConflict
	}
	read := c.Version
	if !c.Status.Editable() {
		if fields := changedRules(c, in); c.Status == lifecycle.StatusActive && len(fields) > 0 {
			return nil, &TargetingLockedError{Status: c.Status, Fields: fields}
		}
		return nil, &StateError{Op: "update", Status: c.Status}
	}
	now := s.clock()
	in.normalize()
	if errs := in.Validate(now, &c.StartDate); len(errs) > 0 {
		return nil, &ValidationError{Fields: errs}
	}
	before := NewResponse(c, now)
	if len(changedRules(c, in)) > 0 {
		c.TargetingVerified = false
	}
	c.apply(in)
	c.UpdatedAt = now
	c.Version = read + 1
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx, repo *Repository) error {
		if err := repo.Update(ctx, c, read); err != nil {
			return err
		}
		return appendEvent(ctx, tx, c, EventUpdated, nil, now, UpdatedPayload{Changes: diff(before, NewResponse(c, now))})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Delete soft-deletes a DRAFT, COMPLETED or CANCELLED campaign. expectedVersion, when not
// nil, must match the stored version.
func (s *Service) Delete(ctx context.Context, id ID, expectedVersion *int64) error {
	c, err := s.repo.Get(ctx, id)
	if err != nil {
		return err
	}
	if expectedVersion != nil && *expectedVersion != c.Version {
		return ErrVersionConflict
	}
	if !c.Status.Deletable() {
		return &StateError{Op: "delete", Status: c.Status}
	}
	now := s.clock()
	return s.write(ctx, func(ctx context.Context, tx bun.Tx, repo *Repository) error {
		if err := repo.SoftDelete(ctx, id, c.Version, now); err != nil {
			return err
		}
		gone := *c
		gone.Version++
		return appendEvent(ctx, tx, &gone, EventDeleted, nil, now, DeletedPayload{Name: c.Name, Status: c.Status})
	})
}

// changedRules names the rule lists (targetingRules, settings.personalization.rules) whose set
// of rules in differs from c's. Order and repetition do not count: the same rules target the
// same people.
func changedRules(c *Campaign, in Input) []string {
	var out []string
	if !sameRules(c.TargetingRules, in.TargetingRules) {
		out = append(out, "targetingRules")
	}
	if !sameRules(c.Settings.Personalization.Rules, in.Settings.Personalization.Rules) {
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

func (c *Campaign) apply(in Input) {
	c.Name, c.Description, c.Type = in.Name, in.Description, in.Type
	c.TargetingRules = nonNil(in.TargetingRules)
	c.StartDate, c.EndDate = in.StartDate, in.EndDate
	c.Budget, c.Settings = in.Budget, in.Settings
}
