package campaign

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
	"github.com/engine-rules-sp/campaigns/lifecycle/history"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// Store keeps campaigns with their history and their domain events. *Repository is the Bun
// one. Each write is one transaction of the store's (or a savepoint of the host's, see
// Joined): the campaign, its history row and its event land together or not at all.
type Store interface {
	// Create stores the new campaign c and the event of ch. A live campaign with the same
	// name (any case) -> ErrNameTaken.
	Create(ctx context.Context, c *Campaign, ch Change) error
	// Update loads the live campaign id, checks that its version is expectedVersion (when not
	// nil; else ErrVersionConflict), lets change alter it, then stores it at the next version
	// with the history row and the event of the returned Change. An error of change is
	// returned as it is and nothing is written. Unknown or deleted -> ErrNotFound.
	Update(ctx context.Context, id ID, expectedVersion *int64, change func(*Campaign) (Change, error)) (*Campaign, error)
	Get(ctx context.Context, id ID) (*Campaign, error)
	GetMany(ctx context.Context, ids []ID) (map[ID]*Campaign, error)
	List(ctx context.Context, f Filter) ([]*Campaign, *Cursor, error)
	// EndedBy lists up to limit ACTIVE or PAUSED campaigns whose end date is at or before now.
	EndedBy(ctx context.Context, now time.Time, limit int) ([]Due, error)
	// Budgets returns the live ACTIVE or PAUSED campaigns among ids with their budgets.
	Budgets(ctx context.Context, ids []uuid.UUID) ([]automation.Budget, error)
	// Transitions and Events read the history and the events of a campaign ever stored,
	// deleted or not (else ErrNotFound).
	Transitions(ctx context.Context, id ID, afterVersion int64, limit int) ([]history.Record, error)
	Events(ctx context.Context, id ID, types []string, afterSeq int64, limit int) ([]outbox.Event, error)
	// EventsStored reports which of the events are stored (committed, seen from outside any
	// transaction).
	EventsStored(ctx context.Context, eventIDs []uuid.UUID) (map[uuid.UUID]bool, error)
	// Joined reports whether the store writes inside a transaction it does not commit (a
	// Repository over a host's bun.Tx): the Service cannot know whether such writes land, so
	// it announces nothing.
	Joined() bool
}

// ServiceConfig is the optional part of a Service. Its zero value is a service on the wall
// clock, without activation checks or announcements.
type ServiceConfig struct {
	// Now is the clock (nil: time.Now), replaceable for tests and simulations.
	Now func() time.Time
	// ActivationChecks must pass before a campaign starts or resumes (none by default).
	ActivationChecks []ActivationCheck
	// AllowUntargeted lets campaigns without targeting rules be activated and resumed; by
	// default at least one targeting rule is required (lifecycle.Targeted).
	AllowUntargeted bool
	// AfterCommit runs after each committed change (the event relay's Notify, so that events
	// leave without waiting for its next poll).
	AfterCommit func()
	// ObserveEvent learns the type of every domain event once the change that recorded it has
	// committed (metrics count them; a rolled-back change is never observed).
	ObserveEvent func(eventType string)
}

// Service is the campaign use cases: it hands input and lifecycle decisions to the Campaign
// aggregate, runs the activation checks, and persists through a Store.
type Service struct {
	store Store
	cfg   ServiceConfig
}

// NewService returns the campaign service over store.
func NewService(store Store, cfg ServiceConfig) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.ActivationChecks = append([]ActivationCheck(nil), cfg.ActivationChecks...)
	return &Service{store: store, cfg: cfg}
}

func (s *Service) clock() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// scope is where a use case writes: the service's own store, whose writes commit on their
// own, or a store in a host's transaction (InTx), whose writes wait for the host's commit.
type scope struct {
	store Store
	// wrote learns the event of each write that returned without error.
	wrote func(loggedEvent)
}

func (s *Service) own() scope {
	return scope{store: s.store, wrote: func(e loggedEvent) {
		if !s.store.Joined() {
			s.announce([]loggedEvent{e})
		}
	}}
}

// announce tells the event relay and the event observer about committed events.
func (s *Service) announce(events []loggedEvent) {
	if len(events) == 0 {
		return
	}
	if s.cfg.AfterCommit != nil {
		s.cfg.AfterCommit()
	}
	if s.cfg.ObserveEvent != nil {
		for _, e := range events {
			s.cfg.ObserveEvent(e.Type)
		}
	}
}

// change runs one Update of the store and reports its event to sc.
func (sc scope) change(ctx context.Context, id ID, expectedVersion *int64, fn func(*Campaign) (Change, error)) (*Campaign, error) {
	var logged loggedEvent
	c, err := sc.store.Update(ctx, id, expectedVersion, func(c *Campaign) (Change, error) {
		ch, err := fn(c)
		if err != nil {
			return Change{}, err
		}
		ch.EventID = uuid.Must(uuid.NewV7())
		logged = loggedEvent{ID: ch.EventID, Type: ch.Event}
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	sc.wrote(logged)
	return c, nil
}

// Create validates in and stores a new DRAFT campaign authored by actor.
func (s *Service) Create(ctx context.Context, actor UserID, in Input) (*Campaign, error) {
	return s.create(ctx, s.own(), actor, in)
}

func (s *Service) create(ctx context.Context, sc scope, actor UserID, in Input) (*Campaign, error) {
	c, err := New(NewID(), actor, in, s.clock())
	if err != nil {
		return nil, err
	}
	ch := created(c)
	ch.EventID = uuid.Must(uuid.NewV7())
	if err := sc.store.Create(ctx, c, ch); err != nil {
		return nil, err
	}
	sc.wrote(loggedEvent{ID: ch.EventID, Type: ch.Event})
	return c, nil
}

// Get returns a live campaign.
func (s *Service) Get(ctx context.Context, id ID) (*Campaign, error) { return s.store.Get(ctx, id) }

// GetMany returns the live campaigns among ids; unknown and deleted ones are absent.
func (s *Service) GetMany(ctx context.Context, ids []ID) (map[ID]*Campaign, error) {
	return s.store.GetMany(ctx, ids)
}

// List returns a page of live campaigns and the next page's cursor (nil on the last page).
func (s *Service) List(ctx context.Context, f Filter) ([]*Campaign, *Cursor, error) {
	return s.store.List(ctx, f)
}

// Update replaces the editable fields of a DRAFT or PAUSED campaign (Campaign.Replace).
// expectedVersion is the version the caller read (a newer stored version ->
// ErrVersionConflict); nil means the version current now.
func (s *Service) Update(ctx context.Context, id ID, expectedVersion *int64, in Input) (*Campaign, error) {
	return s.update(ctx, s.own(), id, expectedVersion, in)
}

func (s *Service) update(ctx context.Context, sc scope, id ID, expectedVersion *int64, in Input) (*Campaign, error) {
	return sc.change(ctx, id, expectedVersion, func(c *Campaign) (Change, error) {
		return c.Replace(in, s.clock())
	})
}

// Delete soft-deletes a DRAFT, COMPLETED or CANCELLED campaign. expectedVersion, when not
// nil, must match the stored version.
func (s *Service) Delete(ctx context.Context, id ID, expectedVersion *int64) error {
	return s.delete(ctx, s.own(), id, expectedVersion)
}

func (s *Service) delete(ctx context.Context, sc scope, id ID, expectedVersion *int64) error {
	_, err := sc.change(ctx, id, expectedVersion, func(c *Campaign) (Change, error) {
		return c.MarkDeleted(s.clock())
	})
	return err
}
