package campaigns_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/campaigns"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// The streams' names in this test (the defaults).
const (
	trackingStream = "CAMPAIGN_TRACKING"
	eventsStream   = "CAMPAIGN_EVENTS"
)

// A three-node JetStream cluster loses, under load, the node the service is connected to,
// which also leads the tracking and the domain-event streams (replicas 3). The service
// reconnects to a survivor, the streams elect new leaders, and:
//   - every tracking event /track acknowledged with 202 is counted, once: the counted totals
//     equal the acknowledged events, campaign by campaign (a client retries what was not
//     acknowledged with the same eventIds, as the 503 or 504 tells it to);
//   - every domain event committed is on the events stream exactly once, by id;
//   - /track acknowledges again, and counting resumes, within a bound after the kill.
func TestFaultConnectedStreamLeaderLostNATSCluster(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		clusterFault(t, target)
	})
}

// Load of the fault test.
const (
	faultCampaigns = 4                       // tracked campaigns
	faultSenders   = 4                       // concurrent /track callers
	faultBatch     = 25                      // events per /track request
	faultBefore    = 1500 * time.Millisecond // load before the kill
	faultAfter     = 5 * time.Second         // load after it
)

func clusterFault(t *testing.T, target dbtest.Target) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cluster := natstest.NewCluster(t, 3)
	var logs logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})
	conn, err := natsx.Connect(ctx, natsx.Config{URL: cluster.URLs(), Name: "campaigns-test", Logger: logger})
	require.NoError(t, err)
	t.Cleanup(conn.Close) // before the cluster's shutdown
	db := dbtest.Connect(t, target)
	client, err := campaigns.New(db, conn.JS, campaigns.Config{
		Identify: identify, StreamReplicas: 3,
		Tracking: campaigns.TrackingConfig{
			Stream:  metrics.StreamConfig{Partitions: 4},
			MaxWait: 50 * time.Millisecond, LeaseTTL: 2 * time.Second,
		},
		Events: campaigns.EventsConfig{PollInterval: 50 * time.Millisecond},
		Logger: logger,
	})
	require.NoError(t, err)
	require.NoError(t, client.Migrate(ctx))
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, client.Stop(sctx))
	})
	h := client.Handler("/api/v1")

	var ids []string
	for i := range faultCampaigns + 1 { // the last one is the marker of the resumption
		var created struct {
			ID string `json:"id"`
		}
		require.Equal(t, http.StatusCreated, post(t, h, "/api/v1/campaigns", "loader", "", newCampaign("Cluster "+uuid.NewString()[:8]), &created), "campaign %d", i)
		ids = append(ids, created.ID)
	}
	marker, tracked := ids[faultCampaigns], ids[:faultCampaigns]

	// Every stream the service made is replicated on the three nodes.
	for _, name := range []string{trackingStream, trackingStream + "_DLQ", eventsStream} {
		info := waitStream(ctx, t, conn.JS, name)
		assert.Equal(t, 3, info.Config.Replicas, "stream %s", name)
		require.NotNil(t, info.Cluster, "stream %s", name)
		assert.Len(t, info.Cluster.Replicas, 2, "stream %s: a leader and two replicas", name)
	}
	// The node to lose: the one the service is connected to, made the leader of both streams.
	victim := cluster.Index(conn.NC.ConnectedServerName())
	require.GreaterOrEqual(t, victim, 0, "connected to %q", conn.NC.ConnectedServerName())
	cluster.MoveStreamLeader(conn.NC, trackingStream, victim)
	cluster.MoveStreamLeader(conn.NC, eventsStream, victim)

	// The load: senders post batches to /track, each retried with the same eventIds until it
	// is acknowledged; a writer creates campaigns (a domain event each) all along.
	load := &trackLoad{acked: map[string]int64{}, statuses: map[int]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for s := range faultSenders {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				load.send(ctx, t, h, tracked[(s+i)%len(tracked)])
			}
		})
	}
	var written atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if post(t, h, "/api/v1/campaigns", "writer", "", newCampaign("Event "+uuid.NewString()), nil) == http.StatusCreated {
				written.Add(1)
			}
		}
	})

	time.Sleep(faultBefore)
	require.Equal(t, cluster.Index(conn.NC.ConnectedServerName()), victim, "still connected to the victim")
	require.Equal(t, victim, cluster.StreamLeader(trackingStream), "the victim leads the tracking stream")
	killed := time.Now()
	load.kill(killed)
	cluster.Stop(victim)
	t.Logf("%s: killed %s (connected, leader of %s and %s) with %d events acknowledged", target.Name,
		cluster.Name(victim), trackingStream, eventsStream, load.total())

	// The marker: one event, sent right after the kill and retried until acknowledged; the
	// time until it is counted is the time counting takes to resume.
	markerAcked := make(chan time.Duration, 1)
	wg.Go(func() {
		body := map[string]any{"type": "IMPRESSION", "eventId": uuid.NewString()}
		for ctx.Err() == nil {
			if post(t, h, "/api/v1/campaigns/"+marker+"/track", "marker", "", body, nil) == http.StatusAccepted {
				markerAcked <- time.Since(killed)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	counted := func(id string) int64 {
		totals, err := client.MetricsStore().CampaignTotals(ctx, []uuid.UUID{uuid.MustParse(id)})
		require.NoError(t, err)
		return totals[uuid.MustParse(id)].Impressions
	}
	var countResumed time.Duration
	for deadline := time.Now().Add(90 * time.Second); ; {
		if counted(marker) == 1 {
			countResumed = time.Since(killed)
			break
		}
		require.True(t, time.Now().Before(deadline), "the marker event was not counted within 90s of the kill")
		time.Sleep(20 * time.Millisecond)
	}
	trackResumed := <-markerAcked

	time.Sleep(max(0, faultAfter-time.Since(killed)))
	close(stop)
	wg.Wait()

	// Every acknowledged event is counted, once: wait until the totals stop short of nothing.
	acked, sent := load.snapshot()
	var total, countedTotal int64
	for deadline := time.Now().Add(2 * time.Minute); ; {
		countedTotal, total = 0, 0
		for _, id := range tracked {
			countedTotal += counted(id)
			total += acked[id]
		}
		if countedTotal >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a late double would show now
	for _, id := range tracked {
		assert.Equal(t, acked[id], counted(id), "campaign %s: counted impressions = acknowledged events", id)
	}
	assert.Equal(t, sent, total, "every event sent was acknowledged in the end")
	dlq, err := conn.JS.Stream(ctx, trackingStream+"_DLQ")
	require.NoError(t, err)
	assert.Zero(t, dlq.CachedInfo().State.Msgs, "nothing was dead-lettered")

	// Every committed domain event is on the stream once.
	published := requireEventsOnceOnStream(ctx, t, client, db, conn.JS)

	load.mu.Lock()
	statuses := load.statuses
	first := load.firstAckAfterKill
	load.mu.Unlock()
	t.Logf("%s: tracking: %d events sent, %d acknowledged (202), %d counted; answers by status %v; "+
		"first 202 %v after the kill (a request sent after it: %v), counting resumed %v after it; "+
		"domain events: %d committed during the load, %d on the stream, each once",
		target.Name, sent, total, countedTotal, statuses, first.Round(time.Millisecond),
		trackResumed.Round(time.Millisecond), countResumed.Round(time.Millisecond), written.Load(), published)
	assert.Less(t, trackResumed, 30*time.Second, "/track acknowledges again within 30s of the kill")
	assert.Less(t, countResumed, 45*time.Second, "counting resumes within 45s of the kill")
	assert.Positive(t, load.afterKill.Load(), "events were acknowledged after the kill")
}

// trackLoad is what the senders sent and what was acknowledged.
type trackLoad struct {
	mu                sync.Mutex
	acked             map[string]int64 // by campaign id: events acknowledged with 202
	sent              int64            // events sent (each once, however often retried)
	statuses          map[int]int      // answers by status, retries included
	killedAt          time.Time
	firstAckAfterKill time.Duration
	afterKill         atomic.Int64 // events acknowledged by requests first sent after the kill
}

func (l *trackLoad) kill(at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.killedAt = at
}

func (l *trackLoad) total() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, v := range l.acked {
		n += v
	}
	return n
}

func (l *trackLoad) snapshot() (map[string]int64, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int64, len(l.acked))
	for k, v := range l.acked {
		out[k] = v
	}
	return out, l.sent
}

// send posts one batch of impressions to campaign id, again with the same eventIds until it
// is acknowledged.
func (l *trackLoad) send(ctx context.Context, t *testing.T, h http.Handler, id string) {
	events := make([]map[string]any, faultBatch)
	for i := range events {
		events[i] = map[string]any{"type": "IMPRESSION", "eventId": uuid.NewString()}
	}
	body, err := json.Marshal(map[string]any{"events": events})
	require.NoError(t, err)
	l.mu.Lock()
	l.sent += faultBatch
	killed := l.killedAt
	l.mu.Unlock()
	for {
		if ctx.Err() != nil {
			t.Errorf("a batch was never acknowledged: %v", ctx.Err())
			return
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/campaigns/"+id+"/track", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(headerCaller, "tracker")
		req.Header.Set(headerRoles, string(auth.RoleAdmin))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		l.mu.Lock()
		l.statuses[rec.Code]++
		if rec.Code == http.StatusAccepted {
			l.acked[id] += faultBatch
			if !l.killedAt.IsZero() && l.firstAckAfterKill == 0 {
				l.firstAckAfterKill = time.Since(l.killedAt)
			}
		}
		l.mu.Unlock()
		switch rec.Code {
		case http.StatusAccepted:
			if !killed.IsZero() {
				l.afterKill.Add(faultBatch)
			}
			return
		case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			// 503 (not stored) and 504 (in doubt) both say: send again with the same eventIds;
			// one that was stored after all is dropped as a duplicate.
			time.Sleep(100 * time.Millisecond)
		default:
			t.Errorf("/track answered %d: %s", rec.Code, rec.Body.String())
			return
		}
	}
}

// waitStream waits until stream exists (the relay creates the events stream on its first
// round) and has elected a leader, and returns its info.
func waitStream(ctx context.Context, t *testing.T, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := js.Stream(sctx, name)
		cancel()
		if err == nil && s.CachedInfo().Cluster != nil && s.CachedInfo().Cluster.Leader != "" {
			return s.CachedInfo()
		}
		require.True(t, time.Now().Before(deadline), "stream %s: no leader after 30s (%v)", name, err)
		time.Sleep(50 * time.Millisecond)
	}
}

// requireEventsOnceOnStream waits until the outbox is published, then reads the whole events
// stream: each committed event must be on it exactly once (Nats-Msg-Id is the event id). It
// returns how many there are.
func requireEventsOnceOnStream(ctx context.Context, t *testing.T, client *campaigns.Client, db *bun.DB, js jetstream.JetStream) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		n, err := client.OutboxBacklog(ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d domain events still unpublished a minute after the load", n)
		time.Sleep(50 * time.Millisecond)
	}
	var committed []string
	require.NoError(t, db.NewSelect().Table("outbox_events").Column("id").Scan(ctx, &committed))
	s, err := js.Stream(ctx, eventsStream)
	require.NoError(t, err)
	last := s.CachedInfo().State.LastSeq
	cons, err := js.OrderedConsumer(ctx, eventsStream, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	seen := map[string]int{}
	readBy := time.Now().Add(time.Minute)
	for read := uint64(0); read < last; {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if transientRead(err) && time.Now().Before(readBy) {
			time.Sleep(100 * time.Millisecond) // the cluster still moving its leaders
			continue
		}
		require.NoError(t, err)
		got := 0
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			require.NoError(t, err)
			read = meta.Sequence.Stream
			var ce struct {
				ID string `json:"id"`
			}
			require.NoError(t, json.Unmarshal(m.Data(), &ce))
			assert.Equal(t, ce.ID, m.Headers().Get(jetstream.MsgIDHeader), "Nats-Msg-Id is the event id")
			seen[ce.ID]++
		}
		if err := batch.Error(); transientRead(err) && time.Now().Before(readBy) {
			continue // the ordered consumer goes on after the last message it delivered
		}
		require.NoError(t, batch.Error())
		require.Positive(t, got, "the events stream ended at %d of %d", read, last)
	}
	var doubled []string
	for id, n := range seen {
		if n > 1 {
			doubled = append(doubled, id)
		}
	}
	sort.Strings(doubled)
	assert.Empty(t, doubled, "events on the stream more than once")
	missing := 0
	for _, id := range committed {
		if seen[id] == 0 {
			missing++
		}
	}
	assert.Zero(t, missing, "committed events missing from the stream (of %d)", len(committed))
	assert.Len(t, seen, len(committed), "the stream holds the committed events and nothing else")
	return len(seen)
}

// transientRead reports whether the test's own read of a stream failed only because the
// cluster was still electing after the kill: no server answered the request yet, or it timed
// out. The read is tried again; what it reads is checked as before.
func transientRead(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrNoHeartbeat)
}
