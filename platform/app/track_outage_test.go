package app_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// A tracking client either sends its own eventIds or lets the server make them up.
var idClients = []struct {
	name   string
	ownIDs bool
}{{"own eventIds", true}, {"server eventIds", false}}

// sentBatch is one /track request a client made during a fault, and what it was told.
type sentBatch struct {
	events []map[string]any
	sent   []string // the ids the client chose; nil when the server made them up
	took   time.Duration
	ids    []string // the eventIds of the answer
}

// clickBatch is n clicks, each with an eventId of its own when ownIDs.
func clickBatch(n int, ownIDs bool) ([]map[string]any, []string) {
	events := make([]map[string]any, n)
	var ids []string
	for i := range events {
		events[i] = map[string]any{"type": "CLICK", "channel": "EMAIL"}
		if ownIDs {
			ids = append(ids, uuid.NewString())
			events[i]["eventId"] = ids[i]
		}
	}
	return events, ids
}

// sendFaulty sends a batch during a fault and checks the problem that answers it: status,
// type, Retry-After, and every event named with its id and outcome.
func sendFaulty(t *testing.T, s *apptest.Server, id string, ownIDs bool, n, status int, slug, outcome string) sentBatch {
	t.Helper()
	events, sent := clickBatch(n, ownIDs)
	start := time.Now()
	r := track(s, id, map[string]any{"events": events})
	b := sentBatch{events: events, sent: sent, took: time.Since(start)}
	p := requireProblem(t, r, status)
	assert.Equal(t, "urn:campaigns:problem:"+slug, p["type"])
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	assert.Less(t, b.took, 2*time.Second, "answered within 2 s")
	for _, v := range p["eventIds"].([]any) {
		b.ids = append(b.ids, v.(string))
	}
	require.Len(t, b.ids, n)
	if ownIDs {
		assert.Equal(t, sent, b.ids, "the client's own ids")
	}
	seen := map[string]bool{}
	for i, v := range p["events"].([]any) {
		e := v.(map[string]any)
		assert.EqualValues(t, i, e["index"])
		assert.Equal(t, b.ids[i], e["eventId"])
		assert.Equal(t, outcome, e["outcome"])
		_, err := uuid.Parse(b.ids[i])
		assert.NoError(t, err)
		seen[b.ids[i]] = true
	}
	assert.Len(t, seen, n, "one id per event")
	assert.Empty(t, p["rejected"])
	return b
}

// retry sends a batch again with the ids its answer named, and expects them stored.
func retry(t *testing.T, s *apptest.Server, id string, b sentBatch) {
	t.Helper()
	for i := range b.events {
		b.events[i]["eventId"] = b.ids[i]
	}
	got := requireStatus(t, track(s, id, map[string]any{"events": b.events}), http.StatusAccepted)
	assert.EqualValues(t, len(b.events), got["accepted"])
	ids := make([]string, 0, len(b.events))
	for _, v := range got["eventIds"].([]any) {
		ids = append(ids, v.(string))
	}
	assert.Equal(t, b.ids, ids)
}

// trackingMsgs is how many events the tracking stream holds.
func trackingMsgs(t *testing.T, s *apptest.Server) uint64 {
	t.Helper()
	st, err := s.API.NATS.JS.Stream(t.Context(), "CAMPAIGN_TRACKING")
	require.NoError(t, err)
	info, err := st.Info(t.Context())
	require.NoError(t, err)
	return info.State.Msgs
}

// clicksCounted aggregates what the stream holds and returns the campaign's clicks.
func clicksCounted(t *testing.T, s *apptest.Server, id string) int64 {
	t.Helper()
	aggregate(t, s)
	m := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics", nil), http.StatusOK)
	return int64(m["clicks"].(float64))
}

// logFigures reports the answers of a fault: how many, of which status, how long the slowest took.
func logFigures(t *testing.T, status int, sent []sentBatch) {
	t.Helper()
	var slowest time.Duration
	events := 0
	for _, b := range sent {
		slowest = max(slowest, b.took)
		events += len(b.events)
	}
	t.Logf("%d requests (%d events) answered %d, slowest in %s", len(sent), events, status, slowest.Round(time.Millisecond))
}

// While NATS is down, /track answers 503 at once, naming the ids of events that were not
// stored (and are not stored later: nothing waits in a buffer); after NATS is back, sending them
// again with those ids counts each exactly once, whether the client chose the ids or not.
func TestFaultTrackDuringNATSOutage(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		srv := natstest.NewServer(t)
		s := apptest.New(t, target, apptest.ServerConfig{Configure: withNATS(config.NATS{URL: srv.URL()})})
		id := create(t, s, validBody("Outage "+target.Name))["id"].(string)
		requireStatus(t, track(s, id, map[string]any{"type": "CLICK", "channel": "EMAIL"}), http.StatusAccepted)

		srv.Stop()
		require.Eventually(t, func() bool { return !s.API.NATS.NC.IsConnected() }, 10*time.Second, 10*time.Millisecond)
		const batches, size = 3, 100
		var sent []sentBatch
		for _, c := range idClients {
			for range batches {
				sent = append(sent, sendFaulty(t, s, id, c.ownIDs, size, http.StatusServiceUnavailable, "tracking-unavailable", "notStored"))
			}
		}
		logFigures(t, http.StatusServiceUnavailable, sent)

		srv.Start()
		require.Eventually(t, func() bool { return s.API.NATS.NC.IsConnected() }, 10*time.Second, 10*time.Millisecond)
		// A marker, acked: anything a buffer held would have been sent, and stored, before it.
		requireStatus(t, track(s, id, map[string]any{"type": "CLICK", "channel": "EMAIL"}), http.StatusAccepted)
		assert.EqualValues(t, 2, trackingMsgs(t, s), "events answered not stored were stored")

		for _, b := range sent {
			retry(t, s, id, b)
			retry(t, s, id, b) // a retry whose answer was lost, say: dropped as duplicates
		}
		want := int64(2 + len(idClients)*batches*size)
		assert.EqualValues(t, want, trackingMsgs(t, s))
		got := clicksCounted(t, s, id)
		assert.Equal(t, want, got, "each event counted exactly once")
		t.Logf("after the retries: %d clicks counted of %d sent (lost %d, doubled %d)", got, want, max(want-got, 0), max(got-want, 0))
	})
}

// When NATS takes events but no ack comes back (a partition the client does not notice),
// /track answers 504 after the ack timeout, naming the events as unknown; they were stored
// after all, and sending them again with those ids counts each exactly once.
func TestFaultTrackOutcomeUnknown(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		srv := natstest.NewServer(t)
		px := natstest.NewProxy(t, srv.URL())
		s := apptest.New(t, target, apptest.ServerConfig{Configure: withNATS(config.NATS{URL: px.URL()})})
		id := create(t, s, validBody("In Doubt "+target.Name))["id"].(string)
		requireStatus(t, track(s, id, map[string]any{"type": "CLICK", "channel": "EMAIL"}), http.StatusAccepted)

		px.Hold()
		const size = 100
		var sent []sentBatch
		for _, c := range idClients {
			b := sendFaulty(t, s, id, c.ownIDs, size, http.StatusGatewayTimeout, "tracking-outcome-unknown", "unknown")
			assert.GreaterOrEqual(t, b.took, time.Second, "waited for the ack timeout")
			sent = append(sent, b)
		}
		require.True(t, s.API.NATS.NC.IsConnected(), "the client saw no disconnection")
		logFigures(t, http.StatusGatewayTimeout, sent)

		px.Release()
		want := int64(1 + len(idClients)*size)
		require.Eventually(t, func() bool { return trackingMsgs(t, s) == uint64(want) }, 10*time.Second, 10*time.Millisecond,
			"the events in doubt were stored: new ids would count them twice")

		for _, b := range sent {
			retry(t, s, id, b)
		}
		assert.EqualValues(t, want, trackingMsgs(t, s), "the retries were duplicates")
		got := clicksCounted(t, s, id)
		assert.Equal(t, want, got, "each event counted exactly once")
		t.Logf("after the retries: %d clicks counted of %d sent (lost %d, doubled %d)", got, want, max(want-got, 0), max(got-want, 0))
	})
}

// Clients track without pause while NATS stops and starts again, each sending every batch
// that was not answered 202 again with the ids of its answer: whatever the moment of the
// outage (before a publish, or between the publish and its ack), nothing is lost and nothing
// counted twice.
func TestFaultTrackThroughAnOutage(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		srv := natstest.NewServer(t)
		s := apptest.New(t, target, apptest.ServerConfig{Configure: withNATS(config.NATS{URL: srv.URL()})})
		id := create(t, s, validBody("Through "+target.Name))["id"].(string)

		type answer struct {
			status int
			took   time.Duration
		}
		const clients, size = 4, 50
		var (
			mu      sync.Mutex
			answers []answer
			events  int64
		)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					batch, _ := clickBatch(size, c%2 == 0)
					for {
						start := time.Now()
						r := s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/track", map[string]any{"events": batch})
						mu.Lock()
						answers = append(answers, answer{r.Status, time.Since(start)})
						mu.Unlock()
						if r.Status == http.StatusAccepted {
							break
						}
						if !assert.Contains(t, []int{http.StatusServiceUnavailable, http.StatusGatewayTimeout}, r.Status, "%s", r.Body) {
							return
						}
						ids := r.Map(t)["eventIds"].([]any)
						for i := range batch {
							batch[i]["eventId"] = ids[i]
						}
						time.Sleep(100 * time.Millisecond) // Retry-After, shortened for the test
					}
					mu.Lock()
					events += size
					mu.Unlock()
				}
			})
		}
		time.Sleep(500 * time.Millisecond)
		srv.Stop()
		time.Sleep(2 * time.Second)
		srv.Start()
		require.Eventually(t, func() bool { return s.API.NATS.NC.IsConnected() }, 10*time.Second, 10*time.Millisecond)
		time.Sleep(500 * time.Millisecond)
		close(stop)
		wg.Wait()

		byStatus := map[int]int{}
		slowest := map[int]time.Duration{}
		for _, a := range answers {
			byStatus[a.status]++
			slowest[a.status] = max(slowest[a.status], a.took)
		}
		for status, n := range byStatus {
			t.Logf("%d answers %d, slowest in %s", n, status, slowest[status].Round(time.Millisecond))
			assert.Less(t, slowest[status], 2*time.Second, "%d answered within 2 s", status)
		}
		assert.Positive(t, byStatus[http.StatusServiceUnavailable], "the outage was seen")
		got := clicksCounted(t, s, id)
		assert.Equal(t, events, got, "each event counted exactly once")
		t.Logf("%d events acknowledged, %d counted (lost %d, doubled %d)", events, got, max(events-got, 0), max(got-events, 0))
	})
}
