package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// received is a CloudEvent as a consumer sees it, with its NATS metadata.
type received struct {
	outbox.CloudEvent
	Subject string
	MsgID   string
	CorrID  string
}

// collector reads the events stream from a start time on, as an outside consumer would.
type collector struct {
	js      jetstream.JetStream
	mu      sync.Mutex
	msgs    []received
	lastSeq uint64 // the stream sequence of the last message received
	stop    func()
}

func collect(t *testing.T, nc *nats.Conn, since time.Time) *collector {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The stream may not exist before the first relay round; create it as the relay would.
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "CAMPAIGN_EVENTS", Subjects: []string{"campaigns.events.>"}, Storage: jetstream.FileStorage,
		Duplicates: 2 * time.Minute, MaxAge: 30 * 24 * time.Hour,
	})
	require.NoError(t, err)
	cons, err := js.OrderedConsumer(ctx, "CAMPAIGN_EVENTS", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"campaigns.events.>"}, DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime: &since,
	})
	require.NoError(t, err)
	c := &collector{js: js}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			t.Errorf("message without metadata: %v", err)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.lastSeq = md.Sequence.Stream
		var ce outbox.CloudEvent
		if err := json.Unmarshal(m.Data(), &ce); err != nil {
			t.Errorf("undecodable event: %v", err)
			return
		}
		c.msgs = append(c.msgs, received{CloudEvent: ce, Subject: m.Subject(),
			MsgID: m.Headers().Get("Nats-Msg-Id"), CorrID: m.Headers().Get("X-Correlation-ID")})
	})
	require.NoError(t, err)
	c.stop = cc.Stop
	t.Cleanup(cc.Stop)
	return c
}

// of returns the events of the given campaigns once there are want of them (or fails), and
// once everything the stream held by then has been received: an unexpected extra copy,
// published before the call, is among them. Callers have published everything (the outbox
// is empty) before they call it.
func (c *collector) of(t *testing.T, want int, ids ...string) []received {
	t.Helper()
	keep := map[string]bool{}
	for _, id := range ids {
		keep[id] = true
	}
	var out []received
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		out = out[:0]
		for _, m := range c.msgs {
			if keep[m.CloudEvent.Subject] {
				out = append(out, m)
			}
		}
		return len(out) >= want
	}, 30*time.Second, 20*time.Millisecond, "events arrived")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := c.js.Stream(ctx, "CAMPAIGN_EVENTS")
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	last := info.State.LastSeq
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		c.mu.Lock()
		defer c.mu.Unlock()
		assert.GreaterOrEqual(ct, c.lastSeq, last, "received up to the stream's last message")
	}, 30*time.Second, 5*time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	out = out[:0]
	for _, m := range c.msgs {
		if keep[m.CloudEvent.Subject] {
			out = append(out, m)
		}
	}
	return out
}

// drain runs relay rounds until the outbox is empty.
func drain(t *testing.T, s *apptest.Server) {
	t.Helper()
	ctx := context.Background()
	require.Eventually(t, func() bool {
		_, err := s.API.Relay.Step(ctx)
		if err != nil {
			return false
		}
		n, err := outbox.Backlog(ctx, s.API.DB)
		return err == nil && n == 0
	}, 30*time.Second, 10*time.Millisecond, "outbox drained")
}

func withNATS(nc config.NATS) func(*config.Config) {
	return func(c *config.Config) { c.NATS = nc }
}

// natsSection is the nats section that connects to target.
func natsSection(target natstest.Target) config.NATS {
	return config.NATS{URL: target.URL, Embedded: target.URL == ""}
}

func TestEventsReachJetStream(t *testing.T) {
	t.Parallel()
	natstest.EachTarget(t, func(t *testing.T, nt natstest.Target) {
		t.Parallel()
		dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
			t.Parallel()
			s := apptest.New(t, target, apptest.ServerConfig{Configure: withNATS(natsSection(nt))})
			col := collect(t, s.API.NATS.NC, time.Now().Add(-time.Second))

			r := s.Do(http.MethodPost, "/api/v1/campaigns", validBody("Events "+nt.Name+" "+target.Name), "X-User-ID", userA, "X-Request-ID", "corr-create")
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
			id := r.Map(t)["id"].(string)
			upd := validBody("Events renamed " + nt.Name + " " + target.Name)
			upd["budget"] = map[string]any{"amount": "12000.00", "currency": "EUR"}
			require.Equal(t, http.StatusOK, s.Do(http.MethodPut, "/api/v1/campaigns/"+id, upd, "If-Match", `"1"`, "X-User-ID", userB).Status)
			requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
			requireStatus(t, action(s, id, "pause", map[string]any{"reason": "stock out"}, "X-Request-ID", "corr-pause"), http.StatusOK)
			drain(t, s)

			got := col.of(t, 4, id)
			require.Len(t, got, 4, "exactly these events, once each")
			var types []string
			for i, m := range got {
				types = append(types, m.Type)
				assert.EqualValues(t, i+1, m.AggregateVersion, "in version order")
				assert.Equal(t, "1.0", m.SpecVersion)
				assert.Equal(t, "/campaigns", m.Source)
				assert.Equal(t, "application/json", m.DataContentType)
				assert.Equal(t, "urn:campaigns:events:"+m.Type+":1", m.DataSchema, "the payload's schema and version")
				assert.Equal(t, "campaigns.events."+m.Type, m.Subject)
				assert.Equal(t, m.ID, m.MsgID, "Nats-Msg-Id is the event id")
				assert.False(t, m.Time.IsZero())
			}
			assert.Equal(t, []string{"CampaignCreated", "CampaignUpdated", "CampaignActivated", "CampaignPaused"}, types)
			assert.Equal(t, "corr-create", got[0].CorrelationID)
			assert.Equal(t, "corr-create", got[0].CorrID)
			assert.Equal(t, "corr-pause", got[3].CorrelationID)
			assert.Equal(t, userA, got[0].Actor)
			assert.Equal(t, userB, got[1].Actor)

			var created struct {
				Campaign map[string]any `json:"campaign"`
			}
			require.NoError(t, json.Unmarshal(got[0].Data, &created))
			assert.Equal(t, id, created.Campaign["id"])
			assert.Equal(t, "DRAFT", created.Campaign["status"])
			var updated struct {
				Changes map[string]struct{ Old, New json.RawMessage } `json:"changes"`
			}
			require.NoError(t, json.Unmarshal(got[1].Data, &updated))
			assert.Contains(t, updated.Changes, "name")
			assert.JSONEq(t, `{"amount":"10000.00","currency":"EUR"}`, string(updated.Changes["budget"].Old))
			assert.JSONEq(t, `{"amount":"12000.00","currency":"EUR"}`, string(updated.Changes["budget"].New))
			assert.NotContains(t, updated.Changes, "type", "only changed fields")
			var paused map[string]any
			require.NoError(t, json.Unmarshal(got[3].Data, &paused))
			assert.Equal(t, map[string]any{"from": "ACTIVE", "to": "PAUSED", "action": "pause", "reason": "stock out",
				"automatic": false, "stopCode": ""}, paused)

			// The audit trail shows the same events, now published.
			trail := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/events", nil), http.StatusOK)
			evs := trail["events"].([]any)
			require.Len(t, evs, 4)
			for i, e := range evs {
				ev := e.(map[string]any)
				assert.Equal(t, got[i].ID, ev["id"])
				assert.NotNil(t, ev["publishedAt"])
			}
			only := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/events?type=CampaignPaused,CampaignCreated", nil), http.StatusOK)
			assert.Len(t, only["events"], 2)
		})
	})
}

func TestEventsSurviveANATSOutage(t *testing.T) {
	t.Parallel()
	srv := natstest.NewServer(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: withNATS(config.NATS{URL: srv.URL()})})
	since := time.Now().Add(-time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { s.API.RunBackground(ctx); close(done) }()

	srv.Stop()
	require.Eventually(t, func() bool { return !s.API.NATS.NC.IsConnected() }, 10*time.Second, 10*time.Millisecond)
	ids := make([]string, 0, 200)
	for i := range 200 {
		r := s.Do(http.MethodPost, "/api/v1/campaigns", validBody(fmt.Sprintf("Outage %03d", i)), asUserA...)
		require.Equal(t, http.StatusCreated, r.Status, "writes go on while NATS is down: %s", r.Body)
		ids = append(ids, r.Map(t)["id"].(string))
	}
	n, err := outbox.Backlog(context.Background(), s.API.DB)
	require.NoError(t, err)
	assert.EqualValues(t, 200, n, "the events wait in the outbox")

	srv.Start()
	require.Eventually(t, func() bool {
		n, err := outbox.Backlog(context.Background(), s.API.DB)
		return err == nil && n == 0
	}, 60*time.Second, 50*time.Millisecond, "the relay catches up after NATS returns")

	col := collect(t, s.API.NATS.NC, since)
	got := col.of(t, 200, ids...)
	distinct := map[string]bool{}
	for _, m := range got {
		distinct[m.ID] = true
	}
	assert.Len(t, got, 200, "each event exactly once")
	assert.Len(t, distinct, 200)
	cancel()
	<-done
}

func TestRepublishAfterCrashIsDeduplicated(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	col := collect(t, s.API.NATS.NC, time.Now().Add(-time.Second))
	id := create(t, s, validBody("Crash Before Mark"))["id"].(string)
	drain(t, s)

	// The relay published but "crashed" before marking: the row is back in the queue.
	_, err := s.API.DB.NewRaw("INSERT INTO outbox_pending (seq) SELECT seq FROM outbox_events WHERE aggregate_id = ?", id).
		Exec(context.Background())
	require.NoError(t, err)
	n, err := outbox.Backlog(context.Background(), s.API.DB)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	drain(t, s)

	got := col.of(t, 1, id)
	assert.Len(t, got, 1, "JetStream dropped the copy (same Nats-Msg-Id)")
}

func TestRolledBackChangesLeaveNoEvent(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{})
		ctx := context.Background()
		c := create(t, s, validBody("Rollback One"))
		create(t, s, validBody("Rollback Two"))
		id := c["id"].(string)

		// A rename onto a taken name fails inside the transaction: no CampaignUpdated.
		r := s.Do(http.MethodPut, "/api/v1/campaigns/"+id, validBody("rollback two"), "If-Match", `"1"`)
		requireProblem(t, r, http.StatusConflict)
		// A failure after the event was appended rolls the event back with the change.
		errChange := errors.New("the change failed")
		err := s.API.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			uid := uuid.MustParse(id)
			if err := outbox.Append(ctx, tx, outbox.Event{AggregateID: uid, Type: "CampaignUpdated", Version: 99,
				OccurredAt: time.Now(), Payload: json.RawMessage(`{}`)}); err != nil {
				return err
			}
			return errChange
		})
		require.ErrorIs(t, err, errChange)

		trail := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/events", nil), http.StatusOK)
		require.Len(t, trail["events"], 1)
		assert.Equal(t, "CampaignCreated", trail["events"].([]any)[0].(map[string]any)["type"])
	})
}

// events.max_age sets the retention of the events stream; 0 keeps events forever.
func TestEventsMaxAgeSetsTheStreamRetention(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
	}{
		{"forever", 0},
		{"a week", 7 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{
				Configure: func(c *config.Config) { c.Events.MaxAge = tc.maxAge },
			})
			create(t, s, validBody("Retention "+tc.name))
			drain(t, s)
			stream, err := s.API.NATS.JS.Stream(context.Background(), s.API.Config.Events.Stream)
			require.NoError(t, err)
			assert.Equal(t, tc.maxAge, stream.CachedInfo().Config.MaxAge)
		})
	}
}
