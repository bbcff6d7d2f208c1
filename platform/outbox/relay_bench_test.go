package outbox_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// The relay benchmarks compare publishing from the outbox (read batch, publish async, wait for
// acks, mark published) with raw JetStream async publishing of the same envelopes, on the same
// embedded server in the same run.
//
//	CAMPAIGNS_TEST_POSTGRES_URL=... go test ./platform/outbox -run '^$' -bench RelayThroughput -benchtime 40000x
//	CAMPAIGNS_TEST_POSTGRES_URL=... go test ./platform/outbox -run '^$' -bench RelayLatency -benchtime 3000x

var payload = json.RawMessage(`{"from":"ACTIVE","to":"PAUSED","action":"pause","reason":"benchmark","automatic":false,"stopCode":""}`)

// benchEnv is a migrated database and an embedded NATS server.
type benchEnv struct {
	db *bun.DB
	nc *natsx.Conn
}

// setup gives the benchmarks and tests their environment.
func setup(b testing.TB, target dbtest.Target) *benchEnv {
	db := dbtest.Open(b, target, outbox.Migrations())
	return &benchEnv{db: db, nc: natstest.Connect(b, natstest.Embedded(b))}
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

// BenchmarkRelayThroughput: events/s from a full outbox to JetStream acks, marked published
// (Drain: batch after batch, the next read while a batch's acks are awaited, each marked while
// the next is published), against raw JetStream async publishing of the same number of
// envelopes, built beforehand, DefaultBatchSize in flight (the relay's batch size), on the same embedded
// server. The two alternate in rounds of 5,000 events so that both see the same machine;
// ratio is relay/raw.
func BenchmarkRelayThroughput(b *testing.B) {
	eachTarget(b, func(b *testing.B, target dbtest.Target) {
		env := setup(b, target)
		relay := outbox.NewRelay(env.db, env.nc.JS, relayConfig())
		ctx := context.Background()
		seed(b, env.db, 1)
		if _, err := relay.Drain(ctx); err != nil { // creates the stream
			b.Fatal(err)
		}
		const round = 5000
		var relayTime, rawTime time.Duration
		b.ResetTimer()
		for done := 0; done < b.N; done += round {
			n := min(round, b.N-done)
			b.StopTimer()
			seed(b, env.db, n)
			if target.Name == "postgres" && done == 0 {
				// What autovacuum does in production: statistics for the planner.
				if _, err := env.db.ExecContext(ctx, "ANALYZE outbox_events, outbox_pending"); err != nil {
					b.Fatal(err)
				}
			}
			msgs := rawMessages(n)
			b.StartTimer()
			start := time.Now()
			published, err := relay.Drain(ctx)
			if err != nil || published != n {
				b.Fatalf("relay published %d of %d: %v", published, n, err)
			}
			relayTime += time.Since(start)
			start = time.Now()
			rawPublish(b, env.nc.JS, msgs)
			rawTime += time.Since(start)
		}
		relayRate := float64(b.N) / relayTime.Seconds()
		rawRate := float64(b.N) / rawTime.Seconds()
		b.ReportMetric(relayRate, "relay-events/s")
		b.ReportMetric(rawRate, "raw-events/s")
		b.ReportMetric(relayRate/rawRate, "ratio")
	})
}

// rawMessages builds n envelopes as the relay would publish them.
func rawMessages(n int) []*nats.Msg {
	msgs := make([]*nats.Msg, n)
	agg := uuid.New()
	for i := range msgs {
		id := uuid.Must(uuid.NewV7())
		body, _ := json.Marshal(outbox.Envelope(outbox.Event{ID: id, AggregateID: agg, Type: "CampaignPaused",
			Version: int64(i), OccurredAt: time.Now(), Payload: payload}, "/campaigns"))
		m := nats.NewMsg("campaigns.events.CampaignPaused")
		m.Data = body
		m.Header.Set(jetstream.MsgIDHeader, id.String())
		m.Header.Set(outbox.HeaderEventType, "CampaignPaused")
		msgs[i] = m
	}
	return msgs
}

// rawPublish publishes msgs async, outbox.DefaultBatchSize in flight (as the relay does), and waits
// for every ack.
func rawPublish(b *testing.B, js jetstream.JetStream, msgs []*nats.Msg) {
	const window = outbox.DefaultBatchSize
	futures := make([]jetstream.PubAckFuture, 0, window)
	for i := 0; i < len(msgs); i += window {
		futures = futures[:0]
		for _, m := range msgs[i:min(len(msgs), i+window)] {
			f, err := js.PublishMsgAsync(m)
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
}

// BenchmarkRawPublish: raw JetStream async publishing alone (BenchmarkRelayThroughput measures
// it alongside the relay).
func BenchmarkRawPublish(b *testing.B) {
	env := setup(b, dbtest.SQLiteTarget(b))
	ctx := context.Background()
	if _, err := env.nc.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "CAMPAIGN_EVENTS", Subjects: []string{"campaigns.events.>"}, Storage: jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
	}); err != nil {
		b.Fatal(err)
	}
	msgs := rawMessages(b.N)
	b.ResetTimer()
	start := time.Now()
	rawPublish(b, env.nc.JS, msgs)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) Published(_ int, lat []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.d = append(l.d, lat...)
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// BenchmarkRelayLatency: commit-to-ack latency (from before the transaction began to the
// JetStream ack) with the relay running and woken on commit, one event per transaction, as the
// API writes them: a paced writer commits about a thousand a second while 4 more goroutines
// append events (one per transaction) as fast as they can, so that every commit and every
// relay mark contends for the database (SQLite's one write lock). The percentiles are over
// every event, the paced writer's and the others'; bg-events/s is the others' rate.
func BenchmarkRelayLatency(b *testing.B) {
	eachTarget(b, func(b *testing.B, target dbtest.Target) {
		env := setup(b, target)
		lat := &latencies{}
		relay := outbox.NewRelay(env.db, env.nc.JS, observed(relayConfig(), lat))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan struct{})
		go func() { relay.Run(ctx); close(done) }()
		appendOne := func(agg uuid.UUID, v int) error {
			err := env.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				return outbox.Append(ctx, tx, outbox.Event{AggregateID: agg, Type: "CampaignPaused",
					Version: int64(v), OccurredAt: time.Now(), Payload: payload})
			})
			if err == nil {
				relay.Notify()
			}
			return err
		}
		var written atomic.Int64
		stopWriters := make(chan struct{})
		var writers sync.WaitGroup
		const background = 4
		errs := make(chan error, background)
		for range background {
			writers.Go(func() {
				agg := uuid.New()
				for v := 0; ; v++ {
					select {
					case <-stopWriters:
						return
					default:
					}
					if err := appendOne(agg, v); err != nil {
						errs <- err
						return
					}
					written.Add(1)
				}
			})
		}
		agg := uuid.New()
		pace := time.NewTicker(time.Millisecond)
		defer pace.Stop()
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			<-pace.C
			if err := appendOne(agg, i); err != nil {
				b.Fatal(err)
			}
		}
		close(stopWriters)
		writers.Wait()
		elapsed := time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		total := int(written.Load()) + b.N
		for deadline := time.Now().Add(time.Minute); lat.count() < total; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d events published", lat.count(), total)
			}
		}
		b.StopTimer()
		cancel()
		<-done
		slices.Sort(lat.d)
		b.ReportMetric(float64(lat.d[len(lat.d)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat.d[len(lat.d)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(written.Load())/elapsed.Seconds(), "bg-events/s")
	})
}
