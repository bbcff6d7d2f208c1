package outbox_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// The relay benchmarks compare publishing from the outbox (read batch, publish async, wait for
// acks, mark published) with raw JetStream async publishing of the same envelopes, on the same
// embedded server in the same run.
//
//	CAMPAIGNS_TEST_POSTGRES_URL=... go test ./platform/outbox -run '^$' -bench . -benchtime 20000x

var payload = json.RawMessage(`{"from":"ACTIVE","to":"PAUSED","action":"pause","reason":"benchmark","automatic":false,"stopCode":""}`)

// benchEnv is a migrated database and an embedded NATS server.
type benchEnv struct {
	db *bun.DB
	nc *natsx.Conn
}

// setup gives the benchmarks and tests their environment.
func setup(b testing.TB, target dbtest.Target) *benchEnv {
	db := dbtest.Open(b, target, outbox.Migrations())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, err := natsx.Connect(context.Background(), config.NATS{Embedded: true}, b.TempDir(), "bench", logger)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return &benchEnv{db: db, nc: nc}
}

func seed(b *testing.B, db *bun.DB, n int) {
	ctx := context.Background()
	agg := make([]uuid.UUID, 100)
	for i := range agg {
		agg[i] = uuid.New()
	}
	for start := 0; start < n; start += 1000 {
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for i := start; i < min(n, start+1000); i++ {
				if err := outbox.Append(ctx, tx, outbox.Event{AggregateID: agg[i%len(agg)], Type: "CampaignPaused",
					Version: int64(i), OccurredAt: time.Now(), Payload: payload}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func eachTarget(b *testing.B, fn func(b *testing.B, target dbtest.Target)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, dbtest.SQLiteTarget(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, dbtest.PostgresTarget(b)) })
}

func relayConfig() outbox.RelayConfig {
	return outbox.RelayConfig{PollInterval: time.Millisecond}
}

// BenchmarkRelayThroughput: events/s from a full outbox to JetStream acks, marked published.
func BenchmarkRelayThroughput(b *testing.B) {
	eachTarget(b, func(b *testing.B, target dbtest.Target) {
		env := setup(b, target)
		seed(b, env.db, b.N)
		if target.Name == "postgres" {
			// What autovacuum does in production: without statistics the planner sorts the
			// whole backlog instead of walking the partial index.
			if _, err := env.db.ExecContext(context.Background(), "ANALYZE outbox_events"); err != nil {
				b.Fatal(err)
			}
		}
		relay := outbox.NewRelay(env.db, env.nc.JS, relayConfig())
		ctx := context.Background()
		b.ResetTimer()
		start := time.Now()
		for published := 0; published < b.N; {
			n, err := relay.Step(ctx)
			if err != nil {
				b.Fatal(err)
			}
			published += n
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	})
}

// BenchmarkRawPublish: the same envelopes published straight to JetStream, async, all acked.
func BenchmarkRawPublish(b *testing.B) {
	env := setup(b, dbtest.SQLiteTarget(b))
	ctx := context.Background()
	if _, err := env.nc.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "CAMPAIGN_EVENTS", Subjects: []string{"campaigns.events.>"}, Storage: jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
	}); err != nil {
		b.Fatal(err)
	}
	msgs := make([]*nats.Msg, b.N)
	agg := uuid.New()
	for i := range msgs {
		id := uuid.Must(uuid.NewV7())
		body, _ := json.Marshal(outbox.Envelope(outbox.Event{ID: id, AggregateID: agg, Type: "CampaignPaused",
			Version: int64(i), OccurredAt: time.Now(), Payload: payload}, "/campaigns"))
		m := nats.NewMsg("campaigns.events.CampaignPaused")
		m.Data = body
		m.Header.Set(jetstream.MsgIDHeader, id.String())
		msgs[i] = m
	}
	b.ResetTimer()
	start := time.Now()
	const window = 500 // the relay's batch size: the same amount in flight
	for i := 0; i < len(msgs); i += window {
		futures := make([]jetstream.PubAckFuture, 0, window)
		for _, m := range msgs[i:min(len(msgs), i+window)] {
			f, err := env.nc.JS.PublishMsgAsync(m)
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

type latencies struct {
	mu   sync.Mutex
	d    []time.Duration
	want int
	all  chan struct{} // closed once want latencies are in
}

func newLatencies(want int) *latencies {
	return &latencies{want: want, all: make(chan struct{})}
}

func (l *latencies) Published(_ int, lat []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	before := len(l.d)
	l.d = append(l.d, lat...)
	if before < l.want && len(l.d) >= l.want {
		close(l.all)
	}
}

// BenchmarkRelayLatency: commit-to-ack latency with the relay running and woken on commit,
// one event per transaction, as the API writes them, about a thousand a second.
func BenchmarkRelayLatency(b *testing.B) {
	eachTarget(b, func(b *testing.B, target dbtest.Target) {
		env := setup(b, target)
		lat := newLatencies(b.N)
		relay := outbox.NewRelay(env.db, env.nc.JS, observed(relayConfig(), lat))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { relay.Run(ctx); close(done) }()
		agg := uuid.New()
		pace := time.NewTicker(time.Millisecond)
		defer pace.Stop()
		b.ResetTimer()
		for i := range b.N {
			<-pace.C
			err := env.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				return outbox.Append(ctx, tx, outbox.Event{AggregateID: agg, Type: "CampaignPaused",
					Version: int64(i), OccurredAt: time.Now(), Payload: payload})
			})
			if err != nil {
				b.Fatal(err)
			}
			relay.Notify()
		}
		<-lat.all
		b.StopTimer()
		cancel()
		<-done
		slices.Sort(lat.d)
		b.ReportMetric(float64(lat.d[len(lat.d)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat.d[len(lat.d)*99/100].Microseconds()), "p99-µs")
	})
}
