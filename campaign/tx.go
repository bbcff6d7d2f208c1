package campaign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// TxService is the Service working inside a transaction of the host's (Service.InTx). Each
// write puts the campaign row, its history and its domain event in that transaction, so they
// land with the host's own writes when it commits and vanish when it rolls back.
//
// Nothing is announced while the transaction is open: the event relay is not woken and the
// event observer (metrics) is not told. Call Committed once the transaction has ended; it
// looks in the database for the events it wrote and announces only those that committed. So
// it is safe to call whatever happened to the transaction:
//
//	var w *campaign.TxService
//	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
//		w = client.InTx(tx) // platform/campaigns: svc.InTx(bunstore.New(tx))
//		c, err := w.Create(ctx, actor, in)
//		if err != nil {
//			return err
//		}
//		return saveOrder(ctx, tx, order, c.ID()) // the host's own write
//	})
//	if w != nil {
//		_ = w.Committed(ctx) // announces nothing if the transaction rolled back
//	}
//
// A host that never calls Committed loses nothing but the announcements: the relay publishes
// the committed events at its next poll, and the observer does not count them.
//
// A failed write (a taken name, a version conflict) is undone in a savepoint, so the host's
// transaction stays usable. Activation checks (the Rules Engine) run while the transaction is
// open. A TxService is bound to one transaction; like that transaction, it is not for
// concurrent use.
type TxService struct {
	svc   *Service
	store TxStore

	mu      sync.Mutex
	pending []loggedEvent // written in tx, not yet announced
	touched []ID          // updated in tx, not yet reported to ServiceConfig.Changed
}

// InTx returns the service bound to the host's transaction, which it writes through store, a
// store bound to that transaction (bunstore.New over a bun.Tx; platform/campaigns'
// Client.InTx builds it). The Service's own store must be over the same database, outside any
// transaction: Committed reads through it.
func (s *Service) InTx(store TxStore) *TxService { return &TxService{svc: s, store: store} }

// Batch runs fn in one transaction of the service's store, through the service bound to it:
// fn's writes commit together when it returns nil, and none of them when it returns an error,
// which Batch returns. The committed events are announced once the transaction has ended; a
// failure to announce them (ServiceConfig.Logger hears of it) costs only their wait for the
// relay's next poll, so it does not fail a batch that committed.
func (s *Service) Batch(ctx context.Context, fn func(ctx context.Context, w *TxService) error) error {
	var w *TxService
	err := s.store.InTx(ctx, func(ctx context.Context, tx TxStore) error {
		w = s.InTx(tx)
		return fn(ctx, w)
	})
	if w != nil {
		if cerr := w.Committed(ctx); cerr != nil {
			s.cfg.Logger.WarnContext(ctx, "campaign: could not announce a batch's events; the relay publishes them at its next poll",
				slog.Any("error", cerr))
		}
	}
	return err
}

// ErrTxOpen: Committed was called while the host's transaction was still open. Nothing was
// announced; call it again once the transaction has committed.
var ErrTxOpen = errors.New("campaign: the transaction is still open: call Committed after it commits")

// scope writes through the store bound to the host's transaction, each write in a savepoint
// of it, and keeps the events for Committed.
func (t *TxService) scope() scope {
	return scope{store: t.store, wrote: func(e loggedEvent) {
		t.mu.Lock()
		t.pending = append(t.pending, e)
		t.mu.Unlock()
	}, ended: func(id ID) {
		t.mu.Lock()
		t.touched = append(t.touched, id)
		t.mu.Unlock()
	}}
}

// Create is Service.Create in the host's transaction.
func (t *TxService) Create(ctx context.Context, actor UserID, in Input) (*View, error) {
	return t.svc.create(ctx, t.scope(), actor, in, nil)
}

// Update is Service.Update in the host's transaction.
func (t *TxService) Update(ctx context.Context, id ID, expectedVersion *int64, in Input) (*View, error) {
	return t.svc.update(ctx, t.scope(), id, expectedVersion, in)
}

// Transition is Service.Transition (a lifecycle action) in the host's transaction.
func (t *TxService) Transition(ctx context.Context, id ID, req TransitionRequest) (*TransitionResult, error) {
	return t.svc.transition(ctx, t.scope(), id, req)
}

// Delete is Service.Delete in the host's transaction.
func (t *TxService) Delete(ctx context.Context, id ID, expectedVersion *int64) error {
	return t.svc.delete(ctx, t.scope(), id, expectedVersion)
}

// Get returns a live campaign as the host's transaction sees it (its own writes included).
func (t *TxService) Get(ctx context.Context, id ID) (*View, error) {
	c, err := t.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return t.svc.view(c, lifecycle.Delivered{}), nil
}

// SubmitForApproval is Service.SubmitForApproval in the host's transaction.
func (t *TxService) SubmitForApproval(ctx context.Context, id ID, req ApprovalRequest) (*View, error) {
	return t.svc.approvalStep(ctx, t.scope(), id, req, func(c *Campaign, th ApprovalThresholds) (Change, error) {
		return c.SubmitForApproval(req.Actor, th, t.svc.clock())
	})
}

// Approve is Service.Approve in the host's transaction.
func (t *TxService) Approve(ctx context.Context, id ID, req ApprovalRequest) (*View, error) {
	return t.svc.approvalStep(ctx, t.scope(), id, req, func(c *Campaign, th ApprovalThresholds) (Change, error) {
		return c.Approve(req.Actor, th, t.svc.clock())
	})
}

// Reject is Service.Reject in the host's transaction.
func (t *TxService) Reject(ctx context.Context, id ID, req ApprovalRequest) (*View, error) {
	return t.svc.approvalStep(ctx, t.scope(), id, req, func(c *Campaign, th ApprovalThresholds) (Change, error) {
		return c.Reject(req.Actor, req.Reason, th, t.svc.clock())
	})
}

// Committed announces the writes made through t once the host's transaction has ended: it
// wakes the event relay and tells the event observer of each event the database holds (all of
// them after a commit, none after a rollback). It announces each event once, however often
// it is called. While the transaction is open it returns ErrTxOpen and announces nothing.
// It also reports every campaign t updated to ServiceConfig.Changed, committed or not.
func (t *TxService) Committed(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) == 0 && len(t.touched) == 0 {
		return nil
	}
	switch ended, err := t.store.Ended(ctx); {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrTxOpen, err)
	case !ended:
		return ErrTxOpen
	}
	// The transaction has ended: caches forget what it touched, committed or not.
	for _, id := range t.touched {
		t.svc.changed(id)
	}
	t.touched = nil
	if len(t.pending) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(t.pending))
	for i, e := range t.pending {
		ids[i] = e.ID
	}
	// Read outside the transaction: only committed rows are there.
	stored, err := t.svc.store.EventsStored(ctx, ids)
	if err != nil {
		return fmt.Errorf("campaign: check the transaction's events: %w", err)
	}
	var committed []loggedEvent
	for _, e := range t.pending {
		if stored[e.ID] {
			committed = append(committed, e)
		}
	}
	t.pending = nil
	t.svc.announce(committed)
	return nil
}
