package outbox_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/lease"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// streamOrder is the store seqs of the aggregate's events on the stream, in stream order.
func streamOrder(t *testing.T, env *benchEnv, stream string, bySeq map[uuid.UUID]int64, want int) []int64 {
	t.Helper()
	ctx := context.Background()
	cons, err := env.nc.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	batch, err := cons.Fetch(want+10, jetstream.FetchMaxWait(time.Second))
	require.NoError(t, err)
	var got []int64
	for msg := range batch.Messages() {
		var ce outbox.CloudEvent
		require.NoError(t, json.Unmarshal(msg.Data(), &ce))
		if seq, ok := bySeq[uuid.MustParse(ce.ID)]; ok {
			got = append(got, seq)
		}
	}
	require.NoError(t, batch.Error())
	return got
}

// A transaction that commits late, below a batch in flight, goes before the later events of
// its campaign even when the in-flight batch's mark commits between the prefetch of the next
// batch and the prefetch's check for late commits.
func TestALateCommitIsPublishedBeforeThePrefetchedBatch(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		env := setup(t, target)
		a, x, b, c := uuid.New(), uuid.New(), uuid.New(), uuid.New()
		// seq 1..5: A v1, X v1 (the late commit), B v1, X v2, C v1.
		env.appendEvents(t, []uuid.UUID{a, x, b, x, c}, 0, 5)
		events := map[uuid.UUID]int64{}
		for _, agg := range []uuid.UUID{a, x, b, c} {
			got, err := outbox.List(ctx, env.db, outbox.Query{AggregateID: agg, Limit: 10})
			require.NoError(t, err)
			for _, e := range got {
				events[e.ID] = e.Seq
			}
		}
		require.Len(t, events, 5)
		var late int64
		xs, err := outbox.List(ctx, env.db, outbox.Query{AggregateID: x, Limit: 10})
		require.NoError(t, err)
		require.Len(t, xs, 2)
		late = xs[0].Seq
		// X v1's transaction has not committed yet: its seq is not in the queue.
		_, err = env.db.NewDelete().TableExpr("outbox_pending").Where("seq = ?", late).Exec(ctx)
		require.NoError(t, err)

		cfg := testRelayConfig()
		cfg.BatchSize = 2
		cfg.LeaseTTL = time.Minute
		r := outbox.NewRelay(env.db, env.nc.JS, cfg)
		var once sync.Once
		hooked := false
		outbox.SetAfterPrefetchRead(r, func() {
			once.Do(func() {
				hooked = true
				// The first batch (A v1, B v1) is marked, then X v1 commits.
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					n, err := env.db.NewSelect().TableExpr("outbox_pending").Where("seq < ?", xs[1].Seq).Count(ctx)
					if err == nil && n == 0 {
						break
					}
					time.Sleep(time.Millisecond)
				}
				_, err := env.db.NewRaw("INSERT INTO outbox_pending (seq) VALUES (?)", late).Exec(ctx)
				assert.NoError(t, err)
			})
		})
		n, err := r.Drain(ctx)
		require.NoError(t, err)
		require.True(t, hooked, "the relay prefetched")
		assert.Equal(t, 5, n)

		var order []int64
		for _, seq := range streamOrder(t, env, cfg.Stream, events, 5) {
			if seq == xs[0].Seq || seq == xs[1].Seq {
				order = append(order, seq)
			}
		}
		assert.Equal(t, []int64{xs[0].Seq, xs[1].Seq}, order, "campaign X's events in version order")
	})
}

// An event published again after it was put back in the queue (a relay that crashed before
// its mark) keeps its first publication time, and so do its neighbours in the same run.
func TestRepublishingAnEventKeepsEveryPublicationTime(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		env := setup(t, target)
		agg := uuid.New()
		env.appendEvents(t, []uuid.UUID{agg}, 0, 5)
		r := outbox.NewRelay(env.db, env.nc.JS, testRelayConfig())
		n, err := r.Drain(ctx)
		require.NoError(t, err)
		require.Equal(t, 5, n)
		events, err := outbox.List(ctx, env.db, outbox.Query{AggregateID: agg, Limit: 10})
		require.NoError(t, err)
		require.Len(t, events, 5)

		_, err = env.db.NewRaw("INSERT INTO outbox_pending (seq) VALUES (?)", events[1].Seq).Exec(ctx)
		require.NoError(t, err)
		n, err = r.Drain(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		again, err := outbox.List(ctx, env.db, outbox.Query{AggregateID: agg, Limit: 10})
		require.NoError(t, err)
		require.Len(t, again, 5)
		for i, e := range again {
			if assert.NotNil(t, e.PublishedAt, "version %d", e.Version) {
				assert.True(t, events[i].PublishedAt.Equal(*e.PublishedAt), "version %d keeps its time", e.Version)
			}
		}
		runs, err := env.db.NewSelect().TableExpr("outbox_published").Count(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 1, runs, "no overlapping run")
	})
}

// The queue holds only seqs of stored events: an event deleted while pending leaves the queue,
// and a seq without an event (which would never leave it) is refused.
func TestTheQueueHoldsOnlyStoredEvents(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		env := setup(t, target)
		agg := uuid.New()
		env.appendEvents(t, []uuid.UUID{agg}, 0, 3)
		events, err := outbox.List(ctx, env.db, outbox.Query{AggregateID: agg, Limit: 10})
		require.NoError(t, err)
		require.Len(t, events, 3)

		_, err = env.db.NewDelete().TableExpr("outbox_events").Where("seq = ?", events[0].Seq).Exec(ctx)
		require.NoError(t, err)
		backlog, err := outbox.Backlog(ctx, env.db)
		require.NoError(t, err)
		assert.EqualValues(t, 2, backlog, "the deleted event left the queue")
		_, err = env.db.NewRaw("INSERT INTO outbox_pending (seq) VALUES (?)", events[2].Seq+100).Exec(ctx)
		require.Error(t, err, "a seq without an event")

		n, err := outbox.NewRelay(env.db, env.nc.JS, testRelayConfig()).Drain(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		backlog, err = outbox.Backlog(ctx, env.db)
		require.NoError(t, err)
		assert.Zero(t, backlog)
	})
}

// After the upgrade to the pending queue a relay of the previous version (its lease is
// "relay") never leads again, even one that held the lease during the upgrade, while this
// version's relays publish under their own lease.
func TestAnUpgradeRetiresThePreviousRelaysLease(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		env := setup(t, target)
		_, err := migrate.Down(ctx, env.db, outbox.Migrations())
		require.NoError(t, err)
		require.NoError(t, migrate.Up(ctx, env.db, migrationsBefore(t, "20261203001701")))
		clock := time.Now()
		old := lease.New(env.db, "outbox_leases", "relay", lease.Config{TTL: time.Minute, Now: func() time.Time { return clock }})
		leads, err := old.Hold(ctx)
		require.NoError(t, err)
		require.True(t, leads, "before the upgrade")

		require.NoError(t, migrate.Up(ctx, env.db, outbox.Migrations()))
		clock = clock.Add(old.Renewal()) // its next renewal
		leads, err = old.Hold(ctx)
		require.NoError(t, err)
		assert.False(t, leads, "the leader of the previous version lost its lease")
		other := lease.New(env.db, "outbox_leases", "relay", lease.Config{TTL: time.Minute})
		leads, err = other.Hold(ctx)
		require.NoError(t, err)
		assert.False(t, leads, "no relay of the previous version takes it")

		env.appendEvents(t, []uuid.UUID{uuid.New()}, 0, 3)
		n, err := outbox.NewRelay(env.db, env.nc.JS, testRelayConfig()).Drain(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, n, "this version's relay leads")

		// Rolled back, the previous version's relays lead again.
		_, err = migrate.Down(ctx, env.db, outbox.Migrations())
		require.NoError(t, err)
		leads, err = other.Hold(ctx)
		require.NoError(t, err)
		assert.True(t, leads, "after a rollback")
	})
}

// Rolling the queue back writes published_at of the published events, and not of an event
// put back in the queue (it is to be published again).
func TestARollbackLeavesQueuedEventsUnpublished(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		env := setup(t, target)
		// The queue's migration applied on its own, so that Down rolls back only it.
		_, err := migrate.Down(ctx, env.db, outbox.Migrations())
		require.NoError(t, err)
		require.NoError(t, migrate.Up(ctx, env.db, migrationsBefore(t, "20261203001701")))
		require.NoError(t, migrate.Up(ctx, env.db, outbox.Migrations()))
		agg := uuid.New()
		env.appendEvents(t, []uuid.UUID{agg}, 0, 3)
		n, err := outbox.NewRelay(env.db, env.nc.JS, testRelayConfig()).Drain(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		events, err := outbox.List(ctx, env.db, outbox.Query{AggregateID: agg, Limit: 10})
		require.NoError(t, err)
		require.Len(t, events, 3)
		_, err = env.db.NewRaw("INSERT INTO outbox_pending (seq) VALUES (?)", events[1].Seq).Exec(ctx)
		require.NoError(t, err)

		_, err = migrate.Down(ctx, env.db, outbox.Migrations())
		require.NoError(t, err)
		var unpublished []int64
		require.NoError(t, env.db.NewSelect().TableExpr("outbox_events").Column("seq").
			Where("published_at IS NULL").OrderExpr("seq").Scan(ctx, &unpublished))
		assert.Equal(t, []int64{events[1].Seq}, unpublished)
	})
}

// A mark that cannot commit gives up within AckTimeout, so that a round (which waits for the
// previous round's mark) never outlasts the lease's margin.
func TestAStuckMarkGivesUpWithinTheAckTimeout(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		env := setup(t, target)
		cfg := testRelayConfig()
		cfg.LeaseTTL = time.Minute // no lease write for a second after the first Step
		cfg.AckTimeout = 300 * time.Millisecond
		r := outbox.NewRelay(env.db, env.nc.JS, cfg)
		n, err := r.Step(ctx) // takes the lease
		require.NoError(t, err)
		require.Zero(t, n)
		env.appendEvents(t, []uuid.UUID{uuid.New()}, 0, 3)

		// Another writer holds what the mark needs: the queue's rows (PostgreSQL), the write
		// lock (SQLite).
		tx, err := env.db.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback() }()
		if target.Name == "postgres" {
			_, err = tx.ExecContext(ctx, "SELECT seq FROM outbox_pending FOR UPDATE")
		} else {
			_, err = tx.ExecContext(ctx, "UPDATE outbox_leases SET holder = holder WHERE name = ''")
		}
		require.NoError(t, err)

		start := time.Now()
		n, err = r.Step(ctx)
		took := time.Since(start)
		assert.ErrorContains(t, err, "mark published")
		assert.Zero(t, n)
		assert.Less(t, took, 3*time.Second, "the mark waited about AckTimeout, not 10 s")
		// (Whether the given-up statement still commits once the lock is free is the server's
		// affair: on PostgreSQL the cancel can arrive after it ran. Either way nothing is lost:
		// a batch left queued is published again and de-duplicated.)
	})
}
