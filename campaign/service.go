package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
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
	delivery    DeliveryTotals // nil: Delivered stays zero
	zones       *lifecycle.Zones
}

// DeliveryTotals reads what campaigns have delivered so far; the metrics capability's store
// implements it from its all-time totals, in one query whatever the number of campaigns.
type DeliveryTotals interface {
	Delivered(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]lifecycle.Delivered, error)
}

// WithDeliveryTotals makes reads fill Campaign.Delivered from totals, so that the serving
// status holds back a campaign whose impressions reached its cap or whose spend reached its
// budget or budget limit, before the automation acts on it.
func WithDeliveryTotals(totals DeliveryTotals) Option {
	return func(s *Service) { s.delivery = totals }
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
	s := &Service{repo: repo, now: time.Now, zones: &lifecycle.Zones{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Create validates in and stores a new DRAFT campaign authored by actor.
func (s *Service) Create(ctx context.Context, actor UserID, in Input) (*Campaign, error) {
	return s.create(ctx, s.own(), actor, in)
}

func (s *Service) create(ctx context.Context, sc scope, actor UserID, in Input) (*Campaign, error) {
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
	err := sc.write(ctx, func(ctx context.Context, w *txWrite) error {
		if err := w.repo.Create(ctx, c); err != nil {
			return err
		}
		return w.appendEvent(ctx, c, EventCreated, &actor, now, CreatedV1{Campaign: newCampaignV1(c, now)})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// writeFunc is one change: it writes rows, history and events through w, in one transaction,
// so that all land or none.
type writeFunc func(ctx context.Context, w *txWrite) error

// scope is where a use case reads and writes: the service's own database, where each write is
// a transaction of its own, or a host's transaction (InTx), which each write joins.
type scope struct {
	repo  *Repository
	write func(ctx context.Context, fn writeFunc) error
}

func (s *Service) own() scope { return scope{repo: s.repo, write: s.write} }

// write runs fn in a transaction and, once it committed, announces its events.
func (s *Service) write(ctx context.Context, fn writeFunc) error {
	var w *txWrite
	err := s.repo.RunInTx(ctx, func(ctx context.Context, tx bun.Tx, repo *Repository) error {
		w = &txWrite{tx: tx, repo: repo} // a retried transaction starts over
		return fn(ctx, w)
	})
	if err != nil {
		return err
	}
	if s.repo.inTx() {
		// The repository joins a transaction the service does not commit, so the service
		// cannot tell whether these writes will land: it announces nothing. The relay still
		// publishes the events at its next poll if they commit; InTx announces them.
		return nil
	}
	s.announce(w.events)
	return nil
}

// announce tells the event relay and the event observer about committed events.
func (s *Service) announce(events []loggedEvent) {
	if len(events) == 0 {
		return
	}
	if s.afterCommit != nil {
		s.afterCommit()
	}
	if s.observe != nil {
		for _, e := range events {
			s.observe(e.Type)
		}
	}
}

// Get returns a live campaign, with what it delivered when it is serving by its dates.
func (s *Service) Get(ctx context.Context, id ID) (*Campaign, error) {
	c, err := s.repo.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := fillDelivered(ctx, s.delivery, s.zones, []*Campaign{c}, s.clock()); err != nil {
		return nil, err
	}
	return c, nil
}

// GetMany returns the live campaigns among ids; unknown and deleted ones are absent.
func (s *Service) GetMany(ctx context.Context, ids []ID) (map[ID]*Campaign, error) {
	return s.repo.GetMany(ctx, ids)
}

// List returns a page of live campaigns and the next page's cursor (nil on the last page).
// A servingStatus filter is judged as GET judges it: schedules, caps and budgets included.
func (s *Service) List(ctx context.Context, f Filter) ([]*Campaign, *Cursor, error) {
	f.delivery, f.zones = s.delivery, s.zones
	return s.repo.List(ctx, f)
}

// Live returns every live ACTIVE campaign (on channel, when given), with what each delivered
// when withDelivered: two queries whatever the number of campaigns. It is what eligibility
// judges.
func (s *Service) Live(ctx context.Context, channel Channel, withDelivered bool, now time.Time) ([]*Campaign, error) {
	cs, err := s.repo.Live(ctx, channel)
	if err != nil {
		return nil, err
	}
	if !withDelivered {
		return cs, nil
	}
	if err := fillDelivered(ctx, s.delivery, s.zones, cs, now); err != nil {
		return nil, err
	}
	return cs, nil
}

// fillDelivered gives the campaigns cs the time-zone cache zones and sets Delivered on those
// that serve by their status and dates at now (the others' totals change nothing), in one
// read of totals.
func fillDelivered(ctx context.Context, totals DeliveryTotals, zones *lifecycle.Zones, cs []*Campaign, now time.Time) error {
	for _, c := range cs {
		c.zones = zones
	}
	if totals == nil {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(cs))
	for _, c := range cs {
		if lifecycle.Serving(c.Status, c.StopCode, c.StartDate, c.EndDate, now) == lifecycle.ServingServing {
			ids = append(ids, uuid.UUID(c.ID))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	got, err := totals.Delivered(ctx, ids)
	if err != nil {
		return fmt.Errorf("campaign delivery totals: %w", err)
	}
	for _, c := range cs {
		c.Delivered = got[uuid.UUID(c.ID)]
	}
	return nil
}

// Update replaces the editable fields of a DRAFT or PAUSED campaign. expectedVersion is the
// version the caller read (a newer stored version -> ErrVersionConflict); nil means the
// version current now, still guarded against a concurrent write. Changing the rules of an
// ACTIVE campaign is a *TargetingLockedError (the rules were vetted when it started); a change
// of rules of a PAUSED campaign clears TargetingVerified until the next resume vets them.
func (s *Service) Update(ctx context.Context, id ID, expectedVersion *int64, in Input) (*Campaign, error) {
	return s.update(ctx, s.own(), id, expectedVersion, in)
}

func (s *Service) update(ctx context.Context, sc scope, id ID, expectedVersion *int64, in Input) (*Campaign, error) {
	c, err := sc.repo.Get(ctx, id)
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
	before := newCampaignV1(c, now)
	if len(changedRules(c, in)) > 0 {
		c.TargetingVerified = false
	}
	c.apply(in)
	c.UpdatedAt = now
	c.Version = read + 1
	err = sc.write(ctx, func(ctx context.Context, w *txWrite) error {
		if err := w.repo.Update(ctx, c, read); err != nil {
			return err
		}
		return w.appendEvent(ctx, c, EventUpdated, nil, now, newUpdatedV1(before, newCampaignV1(c, now)))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Delete soft-deletes a DRAFT, COMPLETED or CANCELLED campaign. expectedVersion, when not
// nil, must match the stored version.
func (s *Service) Delete(ctx context.Context, id ID, expectedVersion *int64) error {
	return s.delete(ctx, s.own(), id, expectedVersion)
}

func (s *Service) delete(ctx context.Context, sc scope, id ID, expectedVersion *int64) error {
	c, err := sc.repo.Get(ctx, id)
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
	return sc.write(ctx, func(ctx context.Context, w *txWrite) error {
		if err := w.repo.SoftDelete(ctx, id, c.Version, now); err != nil {
			return err
		}
		gone := *c
		gone.Version++
		return w.appendEvent(ctx, &gone, EventDeleted, nil, now, DeletedV1{Name: c.Name, Status: string(c.Status)})
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
