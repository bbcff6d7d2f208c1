package outbox_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// counter counts what one relay published (a duplicate ack counts too, so a second relay
// publishing the same event would show).
type counter struct{ n atomic.Int64 }

func (c *counter) Published(n int, _ []time.Duration) { c.n.Add(int64(n)) }

// start runs a relay until the returned stop is called; stop does not release the lease (a
// crash), release does.
func (e *benchEnv) start(t *testing.T, cfg outbox.RelayConfig, m outbox.RelayMetrics) (r *outbox.Relay, stop func()) {
	r = outbox.NewRelay(e.db, e.nc.JS, observed(cfg, m))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return r, stop
}

func (e *benchEnv) appendEvents(t *testing.T, aggs []uuid.UUID, from, to int) {
	t.Helper()
	for v := from; v < to; v++ {
		err := e.db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
			return outbox.Append(ctx, tx, outbox.Event{AggregateID: aggs[v%len(aggs)], Type: "CampaignUpdated",
				Version: int64(v), OccurredAt: time.Now(), Payload: json.RawMessage(`{}`)})
		})
		require.NoError(t, err)
	}
}

// waitPublished waits until the relays counted want events and the outbox is empty. A relay
// counts a batch just after marking it, so an empty outbox alone would not do.
func (e *benchEnv) waitPublished(t *testing.T, want int64, counters ...*counter) {
	t.Helper()
	require.Eventually(t, func() bool {
		var sum int64
		for _, c := range counters {
			sum += c.n.Load()
		}
		n, err := outbox.Backlog(context.Background(), e.db)
		return sum >= want && err == nil && n == 0
	}, 20*time.Second, 5*time.Millisecond, "the outbox drains")
}

func testRelayConfig() outbox.RelayConfig {
	return outbox.RelayConfig{
		Stream: "CAMPAIGN_EVENTS", PollInterval: 5 * time.Millisecond, LeaseTTL: 1500 * time.Millisecond, AckTimeout: time.Second,
	}
}

// observed is cfg with the relay's measurements going to m.
func observed(cfg outbox.RelayConfig, m outbox.RelayMetrics) outbox.RelayConfig {
	cfg.Metrics = m
	return cfg
}

func TestSeveralRelaysPublishEachEventOnceInOrder(t *testing.T) {
	// Not parallel: the relays keep a 1.5 s lease in real time, and a renewal held up by
	// a loaded machine moves the lease mid-run.
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		env := setup(t, target)
		counters := []*counter{{}, {}, {}}
		var stops []func()
		for _, c := range counters {
			_, stop := env.start(t, testRelayConfig(), c)
			stops = append(stops, stop)
		}
		aggs := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
		const events = 300
		env.appendEvents(t, aggs, 0, events)
		env.waitPublished(t, events, counters...)
		for _, stop := range stops {
			stop() // no count can change after this
		}

		var total int64
		publishers := 0
		for _, c := range counters {
			total += c.n.Load()
			if c.n.Load() > 0 {
				publishers++
			}
		}
		assert.EqualValues(t, events, total, "no event was published by two relays")
		assert.Equal(t, 1, publishers, "one relay holds the lease while it keeps renewing it")

		// The stream holds every event once, each aggregate's in version order.
		ctx := context.Background()
		cons, err := env.nc.JS.OrderedConsumer(ctx, "CAMPAIGN_EVENTS", jetstream.OrderedConsumerConfig{})
		require.NoError(t, err)
		batch, err := cons.Fetch(events+10, jetstream.FetchMaxWait(time.Second))
		require.NoError(t, err)
		last := map[string]int64{}
		seen := map[string]bool{}
		for msg := range batch.Messages() {
			var ce outbox.CloudEvent
			require.NoError(t, json.Unmarshal(msg.Data(), &ce))
			assert.False(t, seen[ce.ID], "event %s delivered twice", ce.ID)
			seen[ce.ID] = true
			if prev, ok := last[ce.Subject]; ok {
				assert.Greater(t, ce.AggregateVersion, prev, "aggregate %s out of order", ce.Subject)
			}
			last[ce.Subject] = ce.AggregateVersion
		}
		require.NoError(t, batch.Error())
		assert.Len(t, seen, events)
	})
}

func TestTheLeaseMovesWhenTheLeaderStops(t *testing.T) {
	// Not parallel: the relays keep a 1.5 s lease in real time, and a renewal held up by
	// a loaded machine moves the lease mid-run.
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		env := setup(t, target)
		aggs := []uuid.UUID{uuid.New()}
		var a, b counter
		_, stopA := env.start(t, testRelayConfig(), &a)
		env.appendEvents(t, aggs, 0, 20) // A is the only relay: it leads
		env.waitPublished(t, 20, &a)
		require.EqualValues(t, 20, a.n.Load())

		env.start(t, testRelayConfig(), &b)
		env.appendEvents(t, aggs, 20, 40)
		env.waitPublished(t, 40, &a, &b)
		assert.EqualValues(t, 40, a.n.Load(), "the leader keeps publishing")
		assert.Zero(t, b.n.Load(), "the follower waits")

		// A crashes: its lease is not released, and B takes over once it expires.
		stopA()
		crashed := time.Now()
		env.appendEvents(t, aggs, 40, 60)
		env.waitPublished(t, 60, &a, &b)
		assert.EqualValues(t, 20, b.n.Load(), "the follower published what the crashed leader left")
		assert.GreaterOrEqual(t, time.Since(crashed), time.Second, "not before the lease expired")
	})
}

func TestAReleasedLeaseIsTakenAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		env := setup(t, target)
		aggs := []uuid.UUID{uuid.New()}
		cfg := testRelayConfig()
		cfg.LeaseTTL = time.Minute // a takeover within the test must come from the release
		var a, b counter
		relayA, stopA := env.start(t, cfg, &a)
		env.appendEvents(t, aggs, 0, 5)
		env.waitPublished(t, 5, &a)
		env.start(t, cfg, &b)

		stopA()
		relayA.Release(context.Background())
		env.appendEvents(t, aggs, 5, 10)
		env.waitPublished(t, 10, &a, &b)
		assert.EqualValues(t, 5, a.n.Load())
		assert.EqualValues(t, 5, b.n.Load())
	})
}

// Drain publishes the whole backlog, over several batches, and stops when it is empty; it
// leaves the events to the relay that holds the lease.
func TestDrainPublishesTheBacklog(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		env := setup(t, target)
		ctx := context.Background()
		aggs := []uuid.UUID{uuid.New(), uuid.New()}
		cfg := testRelayConfig()
		cfg.BatchSize = 40
		cfg.LeaseTTL = time.Minute
		const events = 130
		env.appendEvents(t, aggs, 0, events)
		var other counter
		leader := outbox.NewRelay(env.db, env.nc.JS, observed(cfg, &other))
		held, err := leader.Step(ctx) // takes the lease and publishes one batch
		require.NoError(t, err)
		require.Equal(t, cfg.BatchSize, held)

		var c counter
		r := outbox.NewRelay(env.db, env.nc.JS, observed(cfg, &c))
		n, err := r.Drain(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "another relay holds the lease: the backlog is its work")
		backlog, err := outbox.Backlog(ctx, env.db)
		require.NoError(t, err)
		assert.EqualValues(t, events-cfg.BatchSize, backlog)

		leader.Release(ctx)
		n, err = r.Drain(ctx)
		require.NoError(t, err)
		assert.Equal(t, events-cfg.BatchSize, n)
		assert.EqualValues(t, events-cfg.BatchSize, c.n.Load())
		backlog, err = outbox.Backlog(ctx, env.db)
		require.NoError(t, err)
		assert.Zero(t, backlog)
		info, err := env.nc.JS.Stream(ctx, cfg.Stream)
		require.NoError(t, err)
		si, err := info.Info(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, events, si.State.Msgs, "every event is on the stream")
	})
}

// A zero RelayConfig is the service's relay: the CAMPAIGN_EVENTS stream on campaigns.events.>,
// kept 30 days, with a 2-minute de-duplication window. A negative MaxAge keeps events forever
// (what events.max_age: 0 asks for).
func TestRelayConfigZeroFieldsAreTheDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
		want   time.Duration
	}{
		{"zero", 0, 30 * 24 * time.Hour},
		{"forever", -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := setup(t, dbtest.SQLiteTarget(t))
			ctx := context.Background()
			env.appendEvents(t, []uuid.UUID{uuid.New()}, 0, 1)
			n, err := outbox.NewRelay(env.db, env.nc.JS, outbox.RelayConfig{MaxAge: tc.maxAge}).Step(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, n)

			stream, err := env.nc.JS.Stream(ctx, "CAMPAIGN_EVENTS")
			require.NoError(t, err)
			info := stream.CachedInfo()
			assert.Equal(t, []string{"campaigns.events.>"}, info.Config.Subjects)
			assert.Equal(t, tc.want, info.Config.MaxAge)
			assert.Equal(t, 2*time.Minute, info.Config.Duplicates)
			assert.EqualValues(t, 1, info.State.Msgs)
		})
	}
}
