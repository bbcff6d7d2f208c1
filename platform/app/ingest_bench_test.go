package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// The ingestion benchmarks measure issue 5's goals on PostgreSQL and a real JetStream server
// on loopback, each next to a raw baseline in the same run. They need
// CAMPAIGNS_TEST_POSTGRES_URL and are skipped without it.
//
//	go test ./platform/app -run '^$' -bench IngestionEndToEnd -benchtime 1x -timeout 20m
//	go test ./platform/app -run '^$' -bench TrackHTTP -benchtime 3s
//
// Environment:
//
//	CAMPAIGNS_BENCH_EVENTS            events published by IngestionEndToEnd (default 1,000,000)
//	CAMPAIGNS_BENCH_BATCH_SIZE        the worker's and the raw consumer's batch (default: config)
//	CAMPAIGNS_BENCH_WORKER_CPUPROFILE run the worker in this process instead of as a separate
//	                                  binary and write a CPU profile of that phase to this file
//	                                  (the profile then includes the NATS server; no RSS figure)

const (
	defaultIngestEvents = 1_000_000
	ingestCampaigns     = 1000
	ingestDays          = 5
	trackClients        = 64
	trackBatch          = 100
)

// benchCampaignSettings: two channels and two A/B variants, which the events use.
const benchCampaignSettings = `{"targetAudience":[],"channels":["EMAIL","PUSH"],"frequency":"ONCE",` +
	`"maxImpressions":null,"budgetLimit":null,"abTestSettings":{"enabled":true,"variants":[` +
	`{"key":"A","name":"Control","weight":50},{"key":"B","name":"Bold","weight":50}]},` +
	`"schedulingRules":[],"personalization":{"enabled":false,"rules":[]}}`

// seedTrackingCampaigns inserts n ACTIVE EUR campaigns straight by SQL. The budget is large so
// that the budget automation leaves them alone.
func seedTrackingCampaigns(tb testing.TB, db *sql.DB, n int) []uuid.UUID {
	tb.Helper()
	ctx := context.Background()
	run := uuid.NewString()[:8]
	rows, err := db.QueryContext(ctx, `
INSERT INTO campaigns (id, name, description, status, type, targeting_rules, start_date, end_date,
  budget_amount, budget_currency, created_by, created_at, updated_at, settings, version)
SELECT gen_random_uuid(), 'Ingest ' || $1 || ' ' || g, 'benchmark', 'ACTIVE', 'PROMOTION', '[]',
  now() - interval '30 days', NULL, 1000000000, 'EUR', $2, now(), now(), $3, 1
FROM generate_series(1, $4) AS g
RETURNING id`, run, userA, benchCampaignSettings, n)
	if err != nil {
		tb.Fatalf("seed campaigns: %v", err)
	}
	defer rows.Close()
	ids := make([]uuid.UUID, 0, n)
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			tb.Fatalf("seed campaigns: %v", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("seed campaigns: %v", err)
	}
	return ids
}

// ingestTotals is what the generated events add up to.
type ingestTotals struct {
	Impressions, Clicks, Conversions, RevenueE4, CostE4 int64
}

// eventGen produces deterministic tracking events spread over campaigns, days, variants and
// channels: 70% impressions, 20% clicks, 5% conversions with revenue, 5% costs.
type eventGen struct {
	rng    *rand.Rand
	now    time.Time
	totals ingestTotals
	buf    []byte
}

func newEventGen(seed uint64) *eventGen {
	return &eventGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Now().UTC()}
}

// next returns the campaign index and the JSON of one event; the slice is reused by the next
// call. eventID is set into the body.
func (g *eventGen) next(eventID uuid.UUID, campaigns int) (int, []byte) {
	r := g.rng
	c := r.IntN(campaigns)
	at := g.now.Add(-time.Duration(r.IntN(ingestDays))*24*time.Hour - time.Duration(r.IntN(3600))*time.Second)
	b := append(g.buf[:0], `{"eventId":"`...)
	b = append(b, eventID.String()...)
	b = append(b, `","type":"`...)
	var money, moneyCents int64
	switch p := r.IntN(100); {
	case p < 70:
		b = append(b, "IMPRESSION"...)
		g.totals.Impressions++
	case p < 90:
		b = append(b, "CLICK"...)
		g.totals.Clicks++
	case p < 95:
		b = append(b, "CONVERSION"...)
		g.totals.Conversions++
		moneyCents = 100 + r.Int64N(10_000)
		money = 1
		g.totals.RevenueE4 += moneyCents * 100
	default:
		b = append(b, "COST"...)
		moneyCents = 1 + r.Int64N(500)
		money = 2
		g.totals.CostE4 += moneyCents * 100
	}
	b = append(b, `","occurredAt":"`...)
	b = at.AppendFormat(b, time.RFC3339)
	b = append(b, `","variant":"`...)
	b = append(b, "AB"[r.IntN(2)])
	b = append(b, `","channel":"`...)
	if r.IntN(2) == 0 {
		b = append(b, "EMAIL"...)
	} else {
		b = append(b, "PUSH"...)
	}
	b = append(b, '"')
	if money != 0 {
		if money == 1 {
			b = append(b, `,"revenue":{"amount":"`...)
		} else {
			b = append(b, `,"cost":{"amount":"`...)
		}
		b = strconv.AppendInt(b, moneyCents/100, 10)
		b = append(b, '.', byte('0'+moneyCents%100/10), byte('0'+moneyCents%10))
		b = append(b, `","currency":"EUR"}`...)
	}
	b = append(b, '}')
	g.buf = b
	return c, b
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("pick a port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func connectNATS(tb testing.TB, url string, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(url, nats.Name("bench"))
	if err != nil {
		tb.Fatalf("nats connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// BenchmarkIngestionEndToEnd publishes CAMPAIGNS_BENCH_EVENTS tracking events over 1,000
// campaigns, then times (a) a raw durable consumer that only fetches and acknowledges the
// stream, and (b) the real worker binary aggregating it into PostgreSQL exactly once, and
// checks that the rollups add up to what was published. Run it with -benchtime 1x.
func BenchmarkIngestionEndToEnd(b *testing.B) {
	target := dbtest.PostgresTarget(b) // skips without PostgreSQL
	n := envInt(b, "CAMPAIGNS_BENCH_EVENTS", defaultIngestEvents)
	defaults, err := config.Load("", func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	batch := envInt(b, "CAMPAIGNS_BENCH_BATCH_SIZE", defaults.Metrics.BatchSize)
	profile := os.Getenv("CAMPAIGNS_BENCH_WORKER_CPUPROFILE")
	ctx := context.Background()
	tmp := b.TempDir()

	// The worker binary, built before anything is timed.
	bin := filepath.Join(tmp, "campaigns-worker")
	if profile == "" {
		build := exec.Command("go", "build", "-o", bin, "github.com/engine-rules-sp/campaigns/cmd/campaigns-worker")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build the worker: %v\n%s", err, out)
		}
	}

	db := dbtest.Open(b, target, app.Migrations()...)
	ids := seedTrackingCampaigns(b, db.DB, ingestCampaigns)
	subjects := make([]string, len(ids))
	for i, id := range ids {
		subjects[i] = metrics.Subject(id)
	}

	ns := natstest.NewServer(b)
	var pubErrs atomic.Int64
	var firstPubErr atomic.Value
	_, js := connectNATS(b, ns.URL(), jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			if pubErrs.Add(1) == 1 {
				firstPubErr.Store(err)
			}
		}))
	streamCfg := metrics.DefaultAggregatorConfig().Stream
	streamCfg.Name, streamCfg.MaxAge, streamCfg.DuplicateWindow = defaults.Metrics.Stream, defaults.Metrics.MaxAge, defaults.Metrics.DuplicateWindow
	if err := metrics.EnsureStream(ctx, js, streamCfg); err != nil {
		b.Fatal(err)
	}

	// Publish, asynchronously with at most 4096 in flight.
	gen := newEventGen(1)
	pubStart := time.Now()
	for range n {
		eid := uuid.New()
		c, body := gen.next(eid, len(ids))
		msg := &nats.Msg{Subject: subjects[c], Data: bytes.Clone(body),
			Header: nats.Header{jetstream.MsgIDHeader: []string{eid.String()}}}
		for {
			_, err := js.PublishMsgAsync(msg, jetstream.WithStallWait(10*time.Second))
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				b.Fatalf("publish: %v", err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		b.Fatal("publish acks did not arrive within 2 minutes")
	}
	pubDur := time.Since(pubStart)
	if k := pubErrs.Load(); k > 0 {
		b.Fatalf("%d publishes failed, first: %v", k, firstPubErr.Load())
	}
	stream, err := js.Stream(ctx, streamCfg.Name)
	if err != nil {
		b.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if info.State.Msgs != uint64(n) {
		b.Fatalf("the stream holds %d messages, want %d", info.State.Msgs, n)
	}
	lastSeq := info.State.LastSeq
	b.Logf("published %d events in %v (%.0f events/s); stream %.1f MiB", n, pubDur.Round(time.Millisecond),
		float64(n)/pubDur.Seconds(), float64(info.State.Bytes)/(1<<20))

	// (a) The raw baseline: fetch and acknowledge (AckAll, one ack per batch) until every
	// message was seen. Same consumer settings as the worker's.
	rawDur := rawConsume(b, ns.URL(), streamCfg.Name, batch, n)
	b.Logf("raw consumer: %d events in %v (%.0f events/s)", n, rawDur.Round(time.Millisecond), float64(n)/rawDur.Seconds())

	// (b) The worker, as a separate process (or in this one when profiling).
	env := map[string]string{
		"CAMPAIGNS_DATABASE_DRIVER":       config.DriverPostgres,
		"CAMPAIGNS_DATABASE_URL":          target.Config.URL,
		"CAMPAIGNS_DATABASE_AUTO_MIGRATE": "false",
		"CAMPAIGNS_NATS_URL":              ns.URL(),
		"CAMPAIGNS_NATS_EMBEDDED":         "false",
		"CAMPAIGNS_DATA_DIR":              tmp,
		"CAMPAIGNS_WORKER_PORT":           strconv.Itoa(freePort(b)),
		"CAMPAIGNS_METRICS_BATCH_SIZE":    strconv.Itoa(batch),
		"CAMPAIGNS_LOG_LEVEL":             "warn",
	}
	var w workerRun
	if profile == "" {
		w = startWorkerProcess(b, bin, tmp, env)
	} else {
		w = startWorkerInProcess(b, env, profile)
	}
	aggDur, err := waitPosition(db.DB, lastSeq, 10*time.Minute, w.exited)
	if err != nil {
		w.stop(b)
		b.Fatalf("worker: %v\n%s", err, w.logs())
	}
	peakRSS := w.stop(b)
	b.Logf("worker: %d events aggregated in %v (%.0f events/s); peak RSS %.1f MiB", n,
		aggDur.Round(time.Millisecond), float64(n)/aggDur.Seconds(), peakRSS)

	// Exactly once: the rollups hold what was published, nothing more, nothing less.
	var got ingestTotals
	var processed, dead int64
	err = db.QueryRowContext(ctx, `SELECT COALESCE(SUM(impressions), 0), COALESCE(SUM(clicks), 0),
COALESCE(SUM(conversions), 0), COALESCE(SUM(revenue_e4), 0), COALESCE(SUM(cost_e4), 0) FROM metrics_daily`).
		Scan(&got.Impressions, &got.Clicks, &got.Conversions, &got.RevenueE4, &got.CostE4)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT processed, dead_lettered FROM metrics_consumer_positions
WHERE consumer = 'metrics-aggregator'`).Scan(&processed, &dead); err != nil {
		b.Fatal(err)
	}
	if got != gen.totals || processed != int64(n) || dead != 0 {
		b.Fatalf("rollups %+v, processed %d, dead-lettered %d; want %+v, %d, 0", got, processed, dead, gen.totals, n)
	}
	// The hourly rows and the all-time totals hold the same.
	for _, table := range []string{"metrics_hourly", "metrics_totals"} {
		var level ingestTotals
		err = db.QueryRowContext(ctx, `SELECT COALESCE(SUM(impressions), 0), COALESCE(SUM(clicks), 0),
COALESCE(SUM(conversions), 0), COALESCE(SUM(revenue_e4), 0), COALESCE(SUM(cost_e4), 0) FROM `+table).
			Scan(&level.Impressions, &level.Clicks, &level.Conversions, &level.RevenueE4, &level.CostE4)
		if err != nil {
			b.Fatal(err)
		}
		if level != gen.totals {
			b.Fatalf("%s %+v; want %+v", table, level, gen.totals)
		}
	}

	b.ReportMetric(0, "ns/op") // one whole run; the rates below are what matter
	b.ReportMetric(float64(n)/aggDur.Seconds(), "aggregated-events/s")
	b.ReportMetric(float64(n)/rawDur.Seconds(), "raw-consume-events/s")
	b.ReportMetric(rawDur.Seconds()/aggDur.Seconds(), "aggregated/raw")
	if peakRSS > 0 {
		b.ReportMetric(peakRSS, "worker-peak-RSS-MiB")
	}
	b.ReportMetric(float64(n)/pubDur.Seconds(), "publish-events/s")
}

// rawConsume reads the whole stream with a durable pull consumer configured like the worker's
// (AckAll, max ack pending = batch) and only acknowledges, one ack per batch.
func rawConsume(b *testing.B, url, streamName string, batch, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	_, js := connectNATS(b, url)
	cons, err := js.CreateOrUpdateConsumer(ctx, streamName, jetstream.ConsumerConfig{
		Durable: "bench-raw", FilterSubject: metrics.SubjectPrefix + ".*", AckPolicy: jetstream.AckAllPolicy,
		AckWait: 60 * time.Second, MaxAckPending: batch, MaxDeliver: -1, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	seen := 0
	for seen < n {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("raw consumer: %d of %d after 5 minutes", seen, n)
		}
		msgs, err := cons.Fetch(batch, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			b.Fatalf("raw fetch: %v", err)
		}
		var last jetstream.Msg
		for m := range msgs.Messages() {
			last = m
			seen++
		}
		if last != nil {
			if err := last.Ack(); err != nil {
				b.Fatalf("raw ack: %v", err)
			}
		}
	}
	return time.Since(start)
}

// waitPosition polls the worker's committed stream position until it reaches lastSeq.
func waitPosition(db *sql.DB, lastSeq uint64, timeout time.Duration, exited <-chan struct{}) (time.Duration, error) {
	start := time.Now()
	for {
		var pos uint64
		err := db.QueryRow(`SELECT stream_seq FROM metrics_consumer_positions WHERE consumer = 'metrics-aggregator'`).Scan(&pos)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
		if pos >= lastSeq {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("at stream position %d of %d after %v", pos, lastSeq, timeout)
		}
		select {
		case <-exited:
			return 0, fmt.Errorf("exited early at stream position %d of %d", pos, lastSeq)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// workerRun is a running worker: stop ends it and returns its peak RSS in MiB (0: unknown).
type workerRun struct {
	exited <-chan struct{}
	stop   func(b *testing.B) float64
	logs   func() string
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func startWorkerProcess(b *testing.B, bin, dir string, env map[string]string) workerRun {
	b.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = dir // no configs/config.yaml there: built-in defaults plus the environment
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the worker: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	var stopped atomic.Bool
	b.Cleanup(func() {
		if !stopped.Load() {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	// Peak RSS: the kernel's high-water mark, read until the process is stopped.
	var peak atomic.Int64 // KiB
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		for {
			if kb := procStatusKiB(cmd.Process.Pid, "VmHWM:"); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-exited:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	stop := func(b *testing.B) float64 {
		if kb := procStatusKiB(cmd.Process.Pid, "VmHWM:"); kb > peak.Load() {
			peak.Store(kb)
		}
		stopped.Store(true)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			b.Errorf("the worker did not stop within 30s of SIGTERM\n%s", out.String())
		}
		<-sampleDone
		if waitErr != nil {
			b.Errorf("the worker exited with %v (want 0)\n%s", waitErr, out.String())
		}
		return float64(peak.Load()) / 1024
	}
	return workerRun{exited: exited, stop: stop, logs: out.String}
}

// procStatusKiB reads one "Field:   123 kB" line of /proc/<pid>/status (0 when unavailable).
func procStatusKiB(pid int, field string) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// startWorkerInProcess runs app.RunWorker here, under a CPU profile written to path: the same
// code as the binary, so the profile shows where the worker's time goes.
func startWorkerInProcess(b *testing.B, env map[string]string, path string) workerRun {
	b.Helper()
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatalf("CPU profile (is -cpuprofile set too?): %v", err)
	}
	var out lockedBuffer
	logger := app.NewLogger(cfg.Log, &out)
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	var runErr error
	go func() { runErr = app.RunWorker(ctx, cfg, logger); close(exited) }()
	var once sync.Once
	stop := func(b *testing.B) float64 {
		once.Do(func() {
			pprof.StopCPUProfile()
			_ = f.Close()
			cancel()
			<-exited
			if runErr != nil {
				b.Errorf("the worker stopped with %v\n%s", runErr, out.String())
			}
			b.Logf("worker CPU profile: %s (go tool pprof -top %s)", path, path)
		})
		return 0
	}
	b.Cleanup(func() { stop(b) })
	return workerRun{exited: exited, stop: stop, logs: out.String}
}

// BenchmarkTrackHTTP drives POST /api/v1/campaigns/:id/track on the fully wired API (PostgreSQL,
// JetStream on loopback) from 64 concurrent clients, with single events and with batches of
// 100, next to the raw baseline: the same event published synchronously to JetStream from 64
// goroutines. b.N requests (or publishes) are split over the 64 clients.
func BenchmarkTrackHTTP(b *testing.B) {
	target := dbtest.PostgresTarget(b) // skips without PostgreSQL
	ns := natstest.NewServer(b)
	s := apptest.New(b, target, func(cfg *config.Config) {
		cfg.NATS = config.NATSConfig{URL: ns.URL()}
		cfg.RateLimit.Enabled = false // one benchmark client would exhaust a caller's bucket at once
	})
	ids := seedTrackingCampaigns(b, s.API.DB.DB, 100)
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * trackClients, MaxIdleConnsPerHost: 2 * trackClients}}
	b.Cleanup(client.CloseIdleConnections)
	_, js := connectNATS(b, ns.URL())

	singleEvent := func(i int64) (uuid.UUID, []byte) {
		eid := uuid.New()
		return ids[i%int64(len(ids))], fmt.Appendf(nil, `{"eventId":%q,"type":"CLICK","variant":"A","channel":"EMAIL"}`, eid)
	}

	var rawRate float64
	b.Run("raw-jetstream-publish", func(b *testing.B) {
		// The message the handler publishes for a single event: the full event as JSON.
		lat := parallel(b, func(i int64) error {
			cid := ids[i%int64(len(ids))]
			eid := uuid.New()
			body := fmt.Appendf(nil, `{"eventId":%q,"campaignId":%q,"type":"CLICK","occurredAt":%q,"variant":"A","channel":"EMAIL"}`,
				eid, cid, time.Now().UTC().Format(time.RFC3339Nano))
			msg := &nats.Msg{Subject: metrics.Subject(cid), Data: body, Header: nats.Header{jetstream.MsgIDHeader: []string{eid.String()}}}
			_, err := js.PublishMsg(context.Background(), msg)
			return err
		})
		rawRate = float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rawRate, "msgs/s")
		lat.report(b)
	})
	b.Run("http-single", func(b *testing.B) {
		lat := parallel(b, func(i int64) error {
			cid, body := singleEvent(i)
			return httpDo(client, http.MethodPost, s.URL+"/api/v1/campaigns/"+cid.String()+"/track", body, http.StatusAccepted)
		})
		rate := float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "req/s")
		if rawRate > 0 {
			b.ReportMetric(rate/rawRate, "of-raw-publish")
		}
		lat.report(b)
	})
	b.Run("http-batch100", func(b *testing.B) {
		lat := parallel(b, func(i int64) error {
			cid := ids[i%int64(len(ids))]
			body := append(make([]byte, 0, 100*96), `{"events":[`...)
			for k := range trackBatch {
				if k > 0 {
					body = append(body, ',')
				}
				body = fmt.Appendf(body, `{"eventId":%q,"type":%q,"variant":%q,"channel":"EMAIL"}`,
					uuid.New(), []string{"IMPRESSION", "IMPRESSION", "IMPRESSION", "CLICK"}[k%4], "AB"[k%2:k%2+1])
			}
			body = append(body, "]}"...)
			return httpDo(client, http.MethodPost, s.URL+"/api/v1/campaigns/"+cid.String()+"/track", body, http.StatusAccepted)
		})
		rate := float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "req/s")
		b.ReportMetric(rate*trackBatch, "events/s")
		if rawRate > 0 {
			b.ReportMetric(rate*trackBatch/rawRate, "events-of-raw-publish")
		}
		lat.report(b)
	})
}

// parallel runs fn b.N times over trackClients goroutines and records each call's latency.
func parallel(b *testing.B, fn func(i int64) error) *latencies {
	var next atomic.Int64
	lat := &latencies{d: make([]time.Duration, 0, b.N)}
	var failed atomic.Bool
	var wg sync.WaitGroup
	b.ResetTimer()
	for range trackClients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) || failed.Load() {
					return
				}
				start := time.Now()
				if err := fn(i); err != nil {
					if !failed.Swap(true) {
						b.Error(err)
					}
					return
				}
				lat.add(time.Since(start))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	return lat
}
