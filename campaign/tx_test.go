package campaign_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// announcements records what a service announces: relay wake-ups and observed event types.
type announcements struct {
	mu       sync.Mutex
	wakes    int
	observed []string
}

func (a *announcements) config() campaign.ServiceConfig {
	return campaign.ServiceConfig{
		AfterCommit:  func() { a.mu.Lock(); a.wakes++; a.mu.Unlock() },
		ObserveEvent: func(typ string) { a.mu.Lock(); a.observed = append(a.observed, typ); a.mu.Unlock() },
	}
}

func (a *announcements) get() (int, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.wakes, append([]string(nil), a.observed...)
}

func txInput(name string) campaign.Input {
	f := campaigntest.Fixture(name, time.Now().Add(time.Hour).UTC().Truncate(time.Second))
	return campaign.Input{Name: f.Name(), Description: f.Description(), Type: f.Type(), TargetingRules: f.TargetingRules(), StartDate: f.StartDate(),
		EndDate: f.EndDate(), Budget: f.Budget(), Settings: campaign.Settings{Channels: f.Settings().Channels}}
}

// hostTable is a table of the host's own, written in the same transactions.
func hostTable(t *testing.T, db *bun.DB) {
	t.Helper()
	_, err := db.ExecContext(context.Background(), "CREATE TABLE host_orders (id TEXT PRIMARY KEY)")
	require.NoError(t, err)
}

func hostRows(t *testing.T, db *bun.DB, id string) int64 {
	t.Helper()
	n, err := db.NewSelect().Table("host_orders").Where("id = ?", id).Count(context.Background())
	require.NoError(t, err)
	return n
}

func campaignRows(t *testing.T, db *bun.DB, id campaign.ID) int64 {
	t.Helper()
	n, err := db.NewSelect().Table("campaigns").Where("id = ?", uuid.UUID(id)).Count(context.Background())
	require.NoError(t, err)
	return n
}

func eventTypes(t *testing.T, db *bun.DB, id campaign.ID) []string {
	t.Helper()
	evs, err := outbox.List(context.Background(), db, outbox.Query{AggregateID: uuid.UUID(id), Limit: 100})
	require.NoError(t, err)
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// A host's transaction that rolls back leaves no campaign, no event and no announcement; one
// that commits leaves all three, announced once Committed is called, and not before.
func TestInTxAnnouncesOnlyCommittedWrites(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		hostTable(t, db)
		var ann announcements
		svc := campaign.NewService(bunstore.New(db), ann.config())
		ctx := audit.WithCorrelationID(context.Background(), "host-request-1")

		t.Run("rolled back", func(t *testing.T) {
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			w := svc.InTx(bunstore.New(tx))
			c, err := w.Create(ctx, alice, txInput("Rolled back"))
			require.NoError(t, err)
			_, err = w.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
			require.NoError(t, err)
			_, err = tx.NewInsert().Model(&map[string]any{"id": "order-1"}).TableExpr("host_orders").Exec(ctx)
			require.NoError(t, err)

			got, err := w.Get(ctx, c.ID())
			require.NoError(t, err, "the transaction sees its own writes")
			assert.Equal(t, lifecycle.StatusActive, got.Status())
			assert.ErrorIs(t, w.Committed(ctx), campaign.ErrTxOpen)

			require.NoError(t, tx.Rollback())
			require.NoError(t, w.Committed(ctx))

			assert.Zero(t, campaignRows(t, db, c.ID()), "campaign row")
			assert.Empty(t, eventTypes(t, db, c.ID()), "outbox events")
			assert.Zero(t, hostRows(t, db, "order-1"), "host row")
			wakes, observed := ann.get()
			assert.Zero(t, wakes, "relay woken for a rolled-back change")
			assert.Empty(t, observed, "observer told of a rolled-back change")
		})

		t.Run("committed", func(t *testing.T) {
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			w := svc.InTx(bunstore.New(tx))
			a, err := w.Create(ctx, alice, txInput("Committed"))
			require.NoError(t, err)
			// A failed write is undone alone: the host's transaction carries on (on PostgreSQL
			// an error would otherwise abort all of it).
			_, err = w.Create(ctx, alice, txInput("COMMITTED"))
			require.ErrorIs(t, err, campaign.ErrNameTaken)
			in := txInput("Committed")
			in.Description = "edited in the host's transaction"
			version := a.Version()
			_, err = w.Update(ctx, a.ID(), &version, in)
			require.NoError(t, err)
			_, err = w.Transition(ctx, a.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
			require.NoError(t, err)
			b, err := w.Create(ctx, bob, txInput("Short-lived"))
			require.NoError(t, err)
			require.NoError(t, w.Delete(ctx, b.ID(), nil))
			_, err = tx.NewInsert().Model(&map[string]any{"id": "order-2"}).TableExpr("host_orders").Exec(ctx)
			require.NoError(t, err)

			require.NoError(t, tx.Commit())
			wakes, observed := ann.get()
			assert.Zero(t, wakes, "announced before Committed")
			assert.Empty(t, observed, "announced before Committed")

			require.NoError(t, w.Committed(ctx))
			require.NoError(t, w.Committed(ctx)) // once only

			stored, err := svc.Get(ctx, a.ID())
			require.NoError(t, err)
			assert.Equal(t, lifecycle.StatusActive, stored.Status())
			assert.Equal(t, "edited in the host's transaction", stored.Description())
			assert.EqualValues(t, 3, stored.Version())
			assert.EqualValues(t, 1, hostRows(t, db, "order-2"), "host row")
			assert.Equal(t, []string{campaign.EventCreated, campaign.EventUpdated, campaign.EventActivated}, eventTypes(t, db, a.ID()))
			assert.Equal(t, []string{campaign.EventCreated, campaign.EventDeleted}, eventTypes(t, db, b.ID()))
			evs, err := outbox.List(ctx, db, outbox.Query{AggregateID: uuid.UUID(a.ID()), Limit: 10})
			require.NoError(t, err)
			for _, e := range evs {
				assert.Equal(t, "host-request-1", e.CorrelationID, "the caller's context reaches the events")
			}

			wakes, observed = ann.get()
			assert.Equal(t, 1, wakes)
			assert.Equal(t, []string{campaign.EventCreated, campaign.EventUpdated, campaign.EventActivated,
				campaign.EventCreated, campaign.EventDeleted}, observed)
		})

		t.Run("host rolls back to its own savepoint", func(t *testing.T) {
			before, _ := ann.get()
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			w := svc.InTx(bunstore.New(tx))
			kept, err := w.Create(ctx, alice, txInput("Kept"))
			require.NoError(t, err)
			err = tx.RunInTx(ctx, nil, func(ctx context.Context, sp bun.Tx) error {
				if _, err := w.Create(ctx, alice, txInput("Undone")); err != nil {
					return err
				}
				return assert.AnError
			})
			require.ErrorIs(t, err, assert.AnError)
			require.NoError(t, tx.Commit())
			require.NoError(t, w.Committed(ctx))

			assert.EqualValues(t, 1, campaignRows(t, db, kept.ID()))
			wakes, observed := ann.get()
			assert.Equal(t, before+1, wakes)
			assert.Equal(t, campaign.EventCreated, observed[len(observed)-1])
			assert.Len(t, observed, 6, "only the kept campaign's event is announced: %v", observed)
		})
	})
}

// A service built on a host's transaction (the way before InTx) can no longer announce a change
// that the host then rolls back.
func TestServiceOverTxAnnouncesNothing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		ctx := context.Background()
		var ann announcements
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		svc := campaign.NewService(bunstore.New(tx), ann.config())
		c, err := svc.Create(ctx, alice, txInput("Over a tx"))
		require.NoError(t, err)
		require.NoError(t, tx.Rollback())

		assert.Zero(t, campaignRows(t, db, c.ID()))
		wakes, observed := ann.get()
		assert.Zero(t, wakes)
		assert.Empty(t, observed)
	})
}

// The tests' schema (the campaign store's), clock and users.
var (
	sets  = bunstore.Schema()
	base  = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	alice = campaigntest.Alice
	bob   = campaigntest.Bob
)
