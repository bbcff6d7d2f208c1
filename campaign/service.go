package campaign

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
)

// Store keeps campaigns with their history and their domain events; campaign/bunstore is the
// Bun one (PostgreSQL, SQLite). Each write is one transaction of the store's (or a savepoint
// of the host's, see Joined): the campaign, its history row and its events (Change.Record)
// land together or not at all.
type Store interface {
	// Create stores the new campaign c and the record of ch. A live campaign with the same
	// name (any case) -> ErrNameTaken.
	Create(ctx context.Context, c *Campaign, ch Change) error
	// Update loads the live campaign id, checks that its version is expectedVersion (when not
	// nil; else ErrVersionConflict), lets change alter it, then stores it at the next version
	// (Campaign.Stored) with the record of the returned Change. An error of change is returned
	// as it is and nothing is written. Unknown or deleted -> ErrNotFound.
	Update(ctx context.Context, id ID, expectedVersion *int64, change func(*Campaign) (Change, error)) (*Campaign, error)
	Get(ctx context.Context, id ID) (*Campaign, error)
	GetMany(ctx context.Context, ids []ID) (map[ID]*Campaign, error)
	// List reads one keyset page of live campaigns matching f (f has its defaults), judging
	// f.Approval under thresholds t. Serving statuses that depend on schedules or delivery
	// (lifecycle.ServingStatus.Refined) keep their candidates by status and dates: the Service
	// judges those.
	List(ctx context.Context, f Filter, t ApprovalThresholds) (Page, error)
	// Live lists every live ACTIVE campaign (on channel, when not empty) in one query.
	Live(ctx context.Context, channel Channel) ([]*Campaign, error)
	// EndedBy lists up to limit ACTIVE or PAUSED campaigns whose end date is at or before now.
	EndedBy(ctx context.Context, now time.Time, limit int) ([]Due, error)
	// Budgets returns the live ACTIVE or PAUSED campaigns among ids with their budgets.
	Budgets(ctx context.Context, ids []uuid.UUID) ([]automation.Budget, error)
	// Transitions and Events read the history and the events of a campaign ever stored,
	// deleted or not (else ErrNotFound).
	Transitions(ctx context.Context, id ID, afterVersion int64, limit int) ([]lifecycle.Record, error)
	Events(ctx context.Context, id ID, types []string, afterSeq int64, limit int) ([]Event, error)
	// EventsStored reports which of the events are stored (committed, seen from outside any
	// transaction).
	EventsStored(ctx context.Context, eventIDs []uuid.UUID) (map[uuid.UUID]bool, error)
	// NamesLike lists up to MaxCopyNames names of live campaigns that start with prefix,
	// compared as the unique index compares names (ASCII case-folding).
	NamesLike(ctx context.Context, prefix string) ([]string, error)
	// InTx runs fn in one transaction of the store, through a store bound to it: fn's writes
	// commit together when it returns nil and are rolled back when it returns an error, which
	// InTx returns.
	InTx(ctx context.Context, fn func(ctx context.Context, tx TxStore) error) error
	// Alert puts one of a campaign's alerts in state a: firing, it appends e (the alert's
	// event) in the same transaction, only when the alert was not already firing for
	// a.Period; not firing, it re-arms a firing alert. changed reports whether it did either.
	Alert(ctx context.Context, a AlertState, e *Event) (changed bool, err error)
	// Joined reports whether the store writes inside a transaction it does not commit (a
	// TxStore): the Service cannot know whether such writes land, so it announces nothing.
	Joined() bool
}

// TxStore is a Store bound to a transaction its caller ends: each of its writes is a
// savepoint of that transaction.
type TxStore interface {
	Store
	// Ended reports whether the transaction has ended (committed or rolled back). A store
	// cannot tell while the transaction is open: then it returns false.
	Ended(ctx context.Context) (bool, error)
}

// Due is a campaign the automation may have to act on.
type Due struct {
	ID      ID
	Version int64
}

// MaxCopyNames bounds the names Store.NamesLike lists.
const MaxCopyNames = 1000

// ServiceConfig is the optional part of a Service. Its zero value is a service on the wall
// clock, without activation checks or announcements.
type ServiceConfig struct {
	// Now is the clock (nil: time.Now), replaceable for tests and simulations.
	Now func() time.Time
	// Logger hears what no caller is told: a failure to announce the events of a batch that
	// committed (nil: discarded).
	Logger *slog.Logger
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
	// Changed learns each existing campaign a write may have changed, once the write has
	// ended, before the use case returns: committed, rolled back or of unknown outcome (a
	// failed COMMIT), so that caches of campaigns forget them. Writes through InTx are
	// reported by TxService.Committed; creations are not reported (nothing can hold a
	// campaign before it exists). Default: nobody is told.
	Changed func(id ID)
	// Delivery makes reads fill Campaign.Delivered from the metrics totals, so that the
	// serving status holds back a campaign whose impressions reached its cap or whose spend
	// reached its budget or budget limit, before the automation acts on it (nil: nothing
	// delivered is known).
	Delivery DeliveryTotals
	// PeriodSpend makes reads fill Delivered.PeriodSpend of campaigns with a daily budget
	// (today's spend in their pacing zone), so that a spent daily budget holds them back
	// until midnight and the pacing throttle knows where they stand (nil: not known).
	PeriodSpend PeriodTotals
	// ApprovalThresholds are the budget thresholds, per currency, above which a campaign needs
	// an approval before it starts or resumes (see approval.go; nil: approval is never
	// required). Build them with NewApprovalThresholds.
	ApprovalThresholds ApprovalThresholds
}

// Service is the campaign use cases: it hands input and lifecycle decisions to the Campaign
// aggregate, runs the activation checks, and persists through a Store. Its reads and writes
// hand out Views: the campaign with what it delivered and the approval thresholds it is judged
// by.
type Service struct {
	store Store
	cfg   ServiceConfig
	zones *lifecycle.Zones // the time zones of scheduling rules, loaded once each
}

// DeliveryTotals reads what campaigns have delivered so far; the metrics capability's store
// implements it from its all-time totals, in one query whatever the number of campaigns.
type DeliveryTotals interface {
	Delivered(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]lifecycle.Delivered, error)
}

// PeriodTotals reads what campaigns spent since an instant each (the start of their pacing
// day); the metrics capability's store implements it from its hourly rollups. An instant
// within an hour counts that whole hour (zones whose offset is not whole hours).
type PeriodTotals interface {
	SpentSince(ctx context.Context, since map[uuid.UUID]time.Time) (map[uuid.UUID]decimal.Decimal, error)
}

// NewService returns the campaign service over store.
func NewService(store Store, cfg ServiceConfig) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.ActivationChecks = append([]ActivationCheck(nil), cfg.ActivationChecks...)
	cfg.ApprovalThresholds = cfg.ApprovalThresholds.clone()
	return &Service{store: store, cfg: cfg, zones: &lifecycle.Zones{}}
}

// Now is the service's clock, in UTC to the microsecond (what the store keeps): the instant
// its writes are stamped with and its reads judge serving statuses at.
func (s *Service) Now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) clock() time.Time { return s.Now() }

// view is c as the service hands it out, having delivered d.
func (s *Service) view(c *Campaign, d lifecycle.Delivered) *View {
	if c == nil {
		return nil
	}
	return &View{Campaign: c, delivered: d, zones: s.zones, thresholds: s.cfg.ApprovalThresholds}
}

// views are cs as the service hands them out, with what those that serve by their status and
// dates at now delivered (the others' totals change nothing), in one read of totals.
func (s *Service) views(ctx context.Context, cs []*Campaign, now time.Time) ([]*View, error) {
	out := make([]*View, len(cs))
	for i, c := range cs {
		out[i] = s.view(c, lifecycle.Delivered{})
	}
	if s.cfg.Delivery == nil {
		return out, nil
	}
	ids := make([]uuid.UUID, 0, len(cs))
	for _, c := range cs {
		if lifecycle.Serving(c.status, c.stopCode, c.startDate, c.endDate, now) == lifecycle.ServingServing {
			ids = append(ids, uuid.UUID(c.id))
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	got, err := s.cfg.Delivery.Delivered(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("campaign delivery totals: %w", err)
	}
	for _, v := range out {
		v.delivered = got[uuid.UUID(v.id)]
	}
	if err := s.periodSpend(ctx, out, now); err != nil {
		return nil, err
	}
	return out, nil
}

// periodSpend fills the PeriodSpend of the views with a daily budget, in one read.
func (s *Service) periodSpend(ctx context.Context, vs []*View, now time.Time) error {
	if s.cfg.PeriodSpend == nil {
		return nil
	}
	since := map[uuid.UUID]time.Time{}
	for _, v := range vs {
		if p := v.PacingWith(s.zones); p != nil && p.Period == lifecycle.PeriodDaily {
			if from, _, ok := p.Window(now); ok {
				since[uuid.UUID(v.id)] = from
			}
		}
	}
	if len(since) == 0 {
		return nil
	}
	got, err := s.cfg.PeriodSpend.SpentSince(ctx, since)
	if err != nil {
		return fmt.Errorf("campaign period spend: %w", err)
	}
	for _, v := range vs {
		if _, ok := since[uuid.UUID(v.id)]; ok {
			v.delivered.PeriodSpend = got[uuid.UUID(v.id)]
		}
	}
	return nil
}

// scope is where a use case writes: the service's own store, whose writes commit on their
// own, or a store in a host's transaction (InTx), whose writes wait for the host's commit.
type scope struct {
	store Store
	// wrote learns the event of each write that returned without error.
	wrote func(loggedEvent)
	// ended learns the campaign of each update once its write has ended, whatever the outcome.
	ended func(ID)
}

func (s *Service) own() scope {
	return scope{store: s.store, wrote: func(e loggedEvent) {
		if !s.store.Joined() {
			s.announce([]loggedEvent{e})
		}
	}, ended: func(id ID) {
		if !s.store.Joined() {
			s.changed(id)
		}
	}}
}

// changed tells the Changed hook.
func (s *Service) changed(id ID) {
	if s.cfg.Changed != nil {
		s.cfg.Changed(id)
	}
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
	var logged []loggedEvent
	c, err := sc.store.Update(ctx, id, expectedVersion, func(c *Campaign) (Change, error) {
		ch, err := fn(c)
		if err != nil {
			return Change{}, err
		}
		ch.EventID = uuid.Must(uuid.NewV7())
		logged = append(logged[:0], loggedEvent{ID: ch.EventID, Type: ch.Event, Campaign: id})
		for i := range ch.Then {
			ch.Then[i].EventID = uuid.Must(uuid.NewV7())
			logged = append(logged, loggedEvent{ID: ch.Then[i].EventID, Type: ch.Then[i].Event, Campaign: id})
		}
		return ch, nil
	})
	// Whatever the outcome: a COMMIT that failed may still have landed. ErrNotFound too: the
	// campaign may have been deleted elsewhere and still be cached (forgetting a campaign that
	// is not cached costs a lookup and keeps nothing).
	sc.ended(id)
	if err != nil {
		return nil, err
	}
	for _, e := range logged {
		sc.wrote(e)
	}
	return c, nil
}

// Create validates in and stores a new DRAFT campaign authored by actor.
func (s *Service) Create(ctx context.Context, actor UserID, in Input) (*View, error) {
	return s.create(ctx, s.own(), actor, in, nil)
}

// create stores a new campaign; from, when set, is the campaign it duplicates, recorded in
// its CampaignCreated event.
func (s *Service) create(ctx context.Context, sc scope, actor UserID, in Input, from *ID) (*View, error) {
	c, err := New(NewID(), actor, in, s.clock())
	if err != nil {
		return nil, err
	}
	ch := created(c)
	if from != nil {
		data := ch.Data.(CreatedV1)
		src := uuid.UUID(*from)
		data.DuplicatedFrom = &src
		ch.Data = data
	}
	ch.EventID = uuid.Must(uuid.NewV7())
	if err := sc.store.Create(ctx, c, ch); err != nil {
		return nil, err
	}
	sc.wrote(loggedEvent{ID: ch.EventID, Type: ch.Event})
	return s.view(c, lifecycle.Delivered{}), nil
}

// Get returns a live campaign, with what it delivered when it is serving by its dates.
func (s *Service) Get(ctx context.Context, id ID) (*View, error) {
	c, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	vs, err := s.views(ctx, []*Campaign{c}, s.clock())
	if err != nil {
		return nil, err
	}
	return vs[0], nil
}

// GetWith returns the live campaign id as Get does, but takes what it delivered from read,
// which runs once the campaign is read: GET /campaigns/:id reads the campaign's metrics
// totals anyway, and they give its delivery too (one read instead of two). read's answer
// counts only while the campaign serves by its status and dates, as in Get.
func (s *Service) GetWith(ctx context.Context, id ID, read func(ctx context.Context, c *View) (lifecycle.Delivered, error)) (*View, error) {
	c, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	v := s.view(c, lifecycle.Delivered{})
	d, err := read(ctx, v)
	if err != nil {
		return nil, err
	}
	if s.cfg.Delivery != nil && lifecycle.Serving(c.status, c.stopCode, c.startDate, c.endDate, s.clock()) == lifecycle.ServingServing {
		v.delivered = d
	}
	return v, nil
}

// GetMany returns the live campaigns among ids, as stored (without what they delivered);
// unknown and deleted ones are absent.
func (s *Service) GetMany(ctx context.Context, ids []ID) (map[ID]*View, error) {
	got, err := s.store.GetMany(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[ID]*View, len(got))
	for id, c := range got {
		out[id] = s.view(c, lifecycle.Delivered{})
	}
	return out, nil
}

// Live returns every live ACTIVE campaign (on channel, when given), with what each delivered
// when withDelivered: two queries whatever the number of campaigns. It is what eligibility
// judges.
func (s *Service) Live(ctx context.Context, channel Channel, withDelivered bool, now time.Time) ([]*View, error) {
	cs, err := s.store.Live(ctx, channel)
	if err != nil {
		return nil, err
	}
	if !withDelivered {
		out := make([]*View, len(cs))
		for i, c := range cs {
			out[i] = s.view(c, lifecycle.Delivered{})
		}
		return out, nil
	}
	return s.views(ctx, cs, now)
}

// Update replaces the editable fields of a DRAFT or PAUSED campaign (Campaign.Replace).
// expectedVersion is the version the caller read (a newer stored version ->
// ErrVersionConflict); nil means the version current now.
func (s *Service) Update(ctx context.Context, id ID, expectedVersion *int64, in Input) (*View, error) {
	return s.update(ctx, s.own(), id, expectedVersion, in)
}

func (s *Service) update(ctx context.Context, sc scope, id ID, expectedVersion *int64, in Input) (*View, error) {
	c, err := sc.change(ctx, id, expectedVersion, func(c *Campaign) (Change, error) {
		return c.Replace(in, s.clock())
	})
	if err != nil {
		return nil, err
	}
	return s.view(c, lifecycle.Delivered{}), nil
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
