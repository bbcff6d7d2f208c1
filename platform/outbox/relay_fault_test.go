package outbox_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/lease"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// publishes counts every message published on the events' subjects, by event id, with a core
// NATS subscription: it sees each publish, including those the stream drops as duplicates.
type publishes struct {
	mu    sync.Mutex
	count map[string]int
}

func (e *benchEnv) countPublishes(t *testing.T, subjects string) *publishes {
	t.Helper()
	p := &publishes{count: map[string]int{}}
	sub, err := e.nc.NC.Subscribe(subjects, func(m *nats.Msg) {
		var ce outbox.CloudEvent
		if json.Unmarshal(m.Data, &ce) == nil {
			p.mu.Lock()
			p.count[ce.ID]++
			p.mu.Unlock()
		}
	})
	require.NoError(t, err)
	require.NoError(t, e.nc.NC.Flush())
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return p
}

// total is how many publishes were seen, once the server has delivered what it received.
func (p *publishes) total(t *testing.T, e *benchEnv) int {
	t.Helper()
	require.NoError(t, e.nc.NC.Flush())
	time.Sleep(20 * time.Millisecond) // deliveries trail the flush's round trip
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.count {
		n += c
	}
	return n
}

// perEvent is how many times each event was published.
func (p *publishes) perEvent() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.count))
	for id, c := range p.count {
		out[id] = c
	}
	return out
}

// recorded is how many seqs outbox_published records (its runs never overlap).
func (e *benchEnv) recorded(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, e.db.NewSelect().TableExpr("outbox_published").
		ColumnExpr("COALESCE(SUM(last_seq - first_seq + 1), 0)").Scan(context.Background(), &n))
	return n
}

// streamMsgs is how many messages the events stream holds.
func (e *benchEnv) streamMsgs(t *testing.T, stream string) uint64 {
	t.Helper()
	s, err := e.nc.JS.Stream(context.Background(), stream)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

// A leader that pauses after reading a batch (a long GC, a stalled host) until its lease has
// expired and another relay has taken over and published that batch publishes nothing once it
// resumes: its check of the lease right before publishing finds the tenure over, and it
// follows. Every event goes out exactly once.
func TestFaultAPausedRelayPublishesNothingOnceReplaced(t *testing.T) {
	// Not parallel: the relays keep a 1.5 s lease in real time.
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		env := setup(t, target)
		cfg := testRelayConfig()
		seen := env.countPublishes(t, "campaigns.events.>")
		aggs := []uuid.UUID{uuid.New(), uuid.New()}

		var logs logtest.Buffer
		cfgA := cfg
		cfgA.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		var a, b counter
		relayA := outbox.NewRelay(env.db, env.nc.JS, observed(cfgA, &a))
		var pause atomic.Bool
		paused, resume := make(chan struct{}), make(chan struct{})
		outbox.SetAfterRead(relayA, func() {
			if pause.CompareAndSwap(true, false) {
				close(paused)
				<-resume
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		doneA := make(chan struct{})
		go func() { relayA.Run(ctx); close(doneA) }()
		stopA := func() { cancel(); <-doneA }
		t.Cleanup(stopA)
		env.appendEvents(t, aggs, 0, 20)
		env.waitPublished(t, 20, &a) // A leads
		_, stopB := env.start(t, cfg, &b)

		pause.Store(true)
		env.appendEvents(t, aggs, 20, 50)
		select {
		case <-paused:
		case <-time.After(10 * time.Second):
			t.Fatal("the leader never read the new events")
		}
		env.waitPublished(t, 50, &a, &b) // B, once A's lease expired
		assert.EqualValues(t, 30, b.n.Load(), "the new leader published what the paused one had read")
		before := seen.total(t, env)

		close(resume)
		assert.Eventually(t, func() bool { return strings.Contains(logs.String(), "lost the lease") }, 5*time.Second, 5*time.Millisecond,
			"the old leader resumed, found its lease lost and followed")
		assert.Equal(t, before, seen.total(t, env), "the old leader published nothing once it resumed")
		env.appendEvents(t, aggs, 50, 60)
		env.waitPublished(t, 60, &a, &b)
		stopA()
		stopB()

		assert.EqualValues(t, 20, a.n.Load(), "the old leader marked only what it published while it led")
		assert.EqualValues(t, 40, b.n.Load())
		per := seen.perEvent()
		assert.Len(t, per, 60, "every event was published")
		for id, n := range per {
			assert.Equal(t, 1, n, "event %s published once", id)
		}
		assert.EqualValues(t, 60, env.streamMsgs(t, cfg.Stream))
		assert.EqualValues(t, 60, env.recorded(t), "each event recorded as published once")
		backlog, err := outbox.Backlog(context.Background(), env.db)
		require.NoError(t, err)
		assert.Zero(t, backlog)
	})
}

// A leader that pauses after publishing a batch and before marking it, until another relay has
// taken over (and published the batch again, as it must: it cannot know the batch went out),
// has its mark refused: the mark names the old tenure's token. It marks nothing, publishes
// nothing more, and each event is recorded once and stored once in the stream.
func TestFaultARelayReplacedBeforeItsMarkHasTheMarkRefused(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		env := setup(t, target)
		cfg := testRelayConfig()
		cfg.LeaseTTL = time.Second
		cfg.AckTimeout = 300 * time.Millisecond
		seen := env.countPublishes(t, "campaigns.events.>")
		env.appendEvents(t, []uuid.UUID{uuid.New()}, 0, 10)

		var a, b counter
		relayA := outbox.NewRelay(env.db, env.nc.JS, observed(cfg, &a))
		paused, resume := make(chan struct{}), make(chan struct{})
		var once sync.Once
		outbox.SetBeforeMark(relayA, func() { once.Do(func() { close(paused); <-resume }) })
		type result struct {
			n   int
			err error
		}
		stepped := make(chan result, 1)
		go func() {
			n, err := relayA.Step(ctx)
			stepped <- result{n, err}
		}()
		select {
		case <-paused:
		case <-time.After(10 * time.Second):
			t.Fatal("the leader never published")
		}

		relayB := outbox.NewRelay(env.db, env.nc.JS, observed(cfg, &b))
		published := 0
		require.Eventually(t, func() bool { // B waits for A's lease to expire, then publishes
			n, err := relayB.Drain(ctx)
			published += n
			return err == nil && published == 10
		}, 10*time.Second, 50*time.Millisecond)
		before := seen.total(t, env)
		assert.Equal(t, 20, before, "A published the batch before it lost the lease, B again after")

		close(resume)
		res := <-stepped
		require.ErrorIs(t, res.err, lease.ErrFenced, "the old leader's mark is refused")
		assert.Zero(t, res.n)
		assert.Zero(t, a.n.Load(), "the old leader marked nothing")
		assert.EqualValues(t, 10, b.n.Load())
		n, err := relayA.Step(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "the old leader follows")
		assert.Equal(t, before, seen.total(t, env), "and publishes nothing more")

		assert.EqualValues(t, 10, env.streamMsgs(t, cfg.Stream), "the stream dropped the copies")
		assert.EqualValues(t, 10, env.recorded(t), "each event recorded as published once")
		backlog, err := outbox.Backlog(ctx, env.db)
		require.NoError(t, err)
		assert.Zero(t, backlog)
	})
}
