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
	"github.com/engine-rules-sp/campaigns/platform/logtest"
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
//	CAMPAIGNS_BENCH_BATCH_SIZE        the worker's batch (default: config)
//	CAMPAIGNS_BENCH_ONE_WORKER        when set, time one worker only (not one, then two)
//	CAMPAIGNS_BENCH_MAX_CELLS         the worker's metrics.max_cells (default: config)
//	CAMPAIGNS_BENCH_MAX_WAIT          the worker's metrics.max_wait (default: config)
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

// ingestDist is how the generated events spread over time and customers.
type ingestDist struct {
	name string
	// days: events spread over this many days, at random seconds of one hour a day (the worst
	// case for combining: many hourly and daily cells); 0: within the last window.
	days   int
	window time.Duration
	// customers: when > 0, every impression carries a customerId drawn from this many
	// customers with a Zipf skew (s = 1.1, v = 1: the first customer takes about 12% of the
	// impressions, the first thousand about half).
	customers uint64
}

var (
	// distCurrent is the worst case: 5 days of hours, no customers.
	distCurrent = ingestDist{name: "current", days: ingestDays}
	// distRealTime is tracking as it arrives: within the last five minutes, a customer on
	// every impression, from 1,000,000 customers.
	distRealTime = ingestDist{name: "realtime", window: 5 * time.Minute, customers: 1_000_000}
)

// eventGen produces deterministic tracking events spread over campaigns, times (dist),
// variants and channels: 70% impressions, 20% clicks, 5% conversions with revenue, 5% costs.
type eventGen struct {
	rng    *rand.Rand
	zipf   *rand.Zipf // nil: no customers
	dist   ingestDist
	now    time.Time
	totals ingestTotals
	reach  map[reachKey]struct{} // the distinct (campaign, customer) pairs of the impressions
	buf    []byte
}

type reachKey struct {
	campaign int
	customer uint64
}

func newEventGen(seed uint64, dist ingestDist) *eventGen {
	g := &eventGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), dist: dist, now: time.Now().UTC(),
		reach: map[reachKey]struct{}{}}
	if dist.customers > 0 {
		g.zipf = rand.NewZipf(g.rng, 1.1, 1, dist.customers-1)
	}
	return g
}

// next returns the campaign index and the JSON of one event; the slice is reused by the next
// call. eventID is set into the body.
func (g *eventGen) next(eventID uuid.UUID, campaigns int) (int, []byte) {
	r := g.rng
	c := r.IntN(campaigns)
	var at time.Time
	if g.dist.days > 0 {
		at = g.now.Add(-time.Duration(r.IntN(g.dist.days))*24*time.Hour - time.Duration(r.IntN(3600))*time.Second)
	} else {
		at = g.now.Add(-time.Duration(r.Int64N(int64(g.dist.window))))
	}
	b := append(g.buf[:0], `{"eventId":"`...)
	b = append(b, eventID.String()...)
	b = append(b, `","type":"`...)
	var money, moneyCents int64
	switch p := r.IntN(100); {
	case p < 70:
		b = append(b, "IMPRESSION"...)
		g.totals.Impressions++
		if g.zipf != nil {
			cust := g.zipf.Uint64()
			g.reach[reachKey{c, cust}] = struct{}{}
			b = append(b, `","customerId":"c`...)
			b = strconv.AppendUint(b, cust, 10)
		}
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
// campaigns and 16 partitions, then times (a) raw ordered consumers that only read the
// partitions, with the same client, and (b) the real worker binary aggregating it into PostgreSQL
// exactly once, one worker and then two (the rollups reset between them), and checks each
// time that the rollups (and the reach) add up to what was published. It runs once per
// distribution of the events (sub-benchmarks "current" and "realtime", each with its own
// stream, schema and raw baseline). Run it with -benchtime 1x.
func BenchmarkIngestionEndToEnd(b *testing.B) {
	dbtest.PostgresTarget(b) // skips without PostgreSQL
	profile := os.Getenv("CAMPAIGNS_BENCH_WORKER_CPUPROFILE")
	// The worker binary, built before anything is timed.
	bin := filepath.Join(b.TempDir(), "campaigns-worker")
	if profile == "" {
		buildWorker(b, bin)
	}
	for _, dist := range []ingestDist{distCurrent, distRealTime} {
		b.Run(dist.name, func(b *testing.B) { benchIngestion(b, bin, dist, profile) })
	}
}

func benchIngestion(b *testing.B, bin string, dist ingestDist, profile string) {
	target := dbtest.PostgresTarget(b)
	n := envInt(b, "CAMPAIGNS_BENCH_EVENTS", defaultIngestEvents)
	defaults, err := config.Load("", func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	batch := envInt(b, "CAMPAIGNS_BENCH_BATCH_SIZE", defaults.Metrics.BatchSize)
	tmp := b.TempDir()

	db := dbtest.Open(b, target, app.Migrations()...)
	ids := seedTrackingCampaigns(b, db.DB, ingestCampaigns)
	ns := natstest.NewServer(b)
	streamCfg := metrics.StreamConfig{Name: defaults.Metrics.Stream, MaxAge: defaults.Metrics.MaxAge,
		DuplicateWindow: defaults.Metrics.DuplicateWindow, Partitions: defaults.Metrics.Partitions}
	gen, pubDur := publishEvents(b, ns.URL(), streamCfg, ids, n, dist)
	b.Logf("%s: published %d events in %v (%.0f events/s), %d distinct campaign-customer pairs", dist.name, n,
		pubDur.Round(time.Millisecond), float64(n)/pubDur.Seconds(), len(gen.reach))

	// (a) The raw baselines: read every message with ordered consumers and nothing else, one
	// per partition (the worker's way, the baseline of the ratios), and one consumer of the
	// whole stream (the server's fastest read: what the per-partition filters cost the NATS
	// server shows as the gap between the two).
	// The machine is shared: the raw reads are timed again after each worker run, and a run is
	// compared with the mean of the raw reads just before and just after it.
	raw := func() (perPartition, one time.Duration) {
		perPartition = rawConsume(b, ns.URL(), streamCfg.Name, streamCfg.Partitions, n)
		one = rawConsume(b, ns.URL(), streamCfg.Name, 0, n)
		b.Logf("%s: raw consumers: %d events in %v with one per partition (%.0f events/s), in %v with one (%.0f events/s)", dist.name, n,
			perPartition.Round(time.Millisecond), float64(n)/perPartition.Seconds(), one.Round(time.Millisecond), float64(n)/one.Seconds())
		return perPartition, one
	}
	rawBefore, oneBefore := raw()
	b.ReportMetric(0, "ns/op") // one whole run; the rates below are what matter
	b.ReportMetric(float64(n)/rawBefore.Seconds(), "raw-consume-events/s")
	b.ReportMetric(float64(n)/oneBefore.Seconds(), "raw-one-consumer-events/s")
	b.ReportMetric(float64(n)/pubDur.Seconds(), "publish-events/s")

	// (b) The workers, as separate processes (or one in this process when profiling).
	env := map[string]string{
		"CAMPAIGNS_DATABASE_DRIVER":       config.DriverPostgres,
		"CAMPAIGNS_DATABASE_URL":          target.URL,
		"CAMPAIGNS_DATABASE_AUTO_MIGRATE": "false",
		"CAMPAIGNS_NATS_URL":              ns.URL(),
		"CAMPAIGNS_NATS_EMBEDDED":         "false",
		"CAMPAIGNS_DATA_DIR":              tmp,
		"CAMPAIGNS_METRICS_BATCH_SIZE":    strconv.Itoa(batch),
		"CAMPAIGNS_LOG_LEVEL":             "warn",
	}
	for bench, setting := range map[string]string{"CAMPAIGNS_BENCH_MAX_CELLS": "CAMPAIGNS_METRICS_MAX_CELLS",
		"CAMPAIGNS_BENCH_MAX_WAIT": "CAMPAIGNS_METRICS_MAX_WAIT"} {
		if v := os.Getenv(bench); v != "" {
			env[setting] = v
		}
	}
	counts := []int{1, 2}
	if profile != "" || os.Getenv("CAMPAIGNS_BENCH_ONE_WORKER") != "" {
		counts = []int{1}
	}
	var oneRate float64
	for _, k := range counts {
		resetAggregation(b, db.DB)
		writes := tableWrites(b, db.DB)
		var runs []workerRun
		for range k {
			env["CAMPAIGNS_WORKER_PORT"] = strconv.Itoa(freePort(b))
			if profile == "" {
				runs = append(runs, startWorkerProcess(b, bin, tmp, env))
			} else {
				runs = append(runs, startWorkerInProcess(b, env, strings.TrimSuffix(profile, ".pprof")+"-"+dist.name+".pprof"))
			}
		}
		aggDur, pause, err := waitCounted(db.DB, int64(n), 10*time.Minute, runs[0].exited)
		if err != nil {
			for _, w := range runs {
				w.stop(b)
			}
			b.Fatalf("worker: %v\n%s", err, runs[0].logs())
		}
		var peakRSS float64
		for _, w := range runs {
			peakRSS = max(peakRSS, w.stop(b))
		}
		rate := float64(n) / aggDur.Seconds()
		rawAfter, oneAfter := raw()
		rawDur, oneDur := (rawBefore+rawAfter)/2, (oneBefore+oneAfter)/2
		rawBefore, oneBefore = rawAfter, oneAfter
		unit := fmt.Sprintf("workers%d-", k)
		rows := writesReport(b, db.DB, writes, n, unit)
		b.Logf("%s: %d worker(s): %d events aggregated in %v (%.0f events/s; %.2f of the raw reads around it with a consumer per partition, %.0f events/s; %.2f of those with one consumer, %.0f events/s); longest pause %v; peak RSS %.1f MiB; %s",
			dist.name, k, n, aggDur.Round(time.Millisecond), rate, rawDur.Seconds()/aggDur.Seconds(), float64(n)/rawDur.Seconds(),
			oneDur.Seconds()/aggDur.Seconds(), float64(n)/oneDur.Seconds(), pause.Round(time.Millisecond), peakRSS, rows)
		requireExactTotals(b, db.DB, gen.totals, n)
		requireExactReach(b, db.DB, int64(len(gen.reach)))
		b.ReportMetric(rate, unit+"aggregated-events/s")
		b.ReportMetric(rawDur.Seconds()/aggDur.Seconds(), unit+"aggregated/raw")
		b.ReportMetric(oneDur.Seconds()/aggDur.Seconds(), unit+"aggregated/raw-one-consumer")
		b.ReportMetric(float64(pause.Milliseconds()), unit+"longest-pause-ms")
		if peakRSS > 0 {
			b.ReportMetric(peakRSS, unit+"peak-RSS-MiB")
		}
		if k == 1 {
			oneRate = rate
		} else {
			b.ReportMetric(rate/oneRate, "two-workers/one")
		}
	}
}

// tableWrites reads PostgreSQL's own count of the rows inserted or updated in each metrics
// table of the test schema (pg_stat_user_tables).
func tableWrites(tb testing.TB, db *sql.DB) map[string]int64 {
	tb.Helper()
	rows, err := db.Query(`SELECT relname, n_tup_ins + n_tup_upd FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND relname LIKE 'metrics_%'`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var writes int64
		if err := rows.Scan(&name, &writes); err != nil {
			tb.Fatal(err)
		}
		out[strings.TrimPrefix(name, "metrics_")] = writes
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// writesReport turns two readings of tableWrites around a run of n events into rows written
// per event (the rollups and exposures) and events per flush (a flush moves its position
// once). The statistics reach the view when the workers' connections close: it is read after
// they stop, and a second later.
func writesReport(tb *testing.B, db *sql.DB, before map[string]int64, n int, unit string) string {
	tb.Helper()
	time.Sleep(time.Second)
	after := tableWrites(tb, db)
	var rows int64
	var parts []string
	for _, t := range []string{"hourly", "daily", "totals", "campaign_spend", "exposures"} {
		d := after[t] - before[t]
		rows += d
		parts = append(parts, fmt.Sprintf("%s %.3f", t, float64(d)/float64(n)))
	}
	flushes := after["consumer_positions"] - before["consumer_positions"]
	tb.ReportMetric(float64(rows)/float64(n), unit+"rows/event")
	if flushes > 0 {
		tb.ReportMetric(float64(n)/float64(flushes), unit+"events/flush")
	}
	return fmt.Sprintf("%.3f rows written per event (%s), %d flushes", float64(rows)/float64(n), strings.Join(parts, ", "), flushes)
}

// requireExactReach checks that each distinct campaign and customer of the impressions has one
// exposure row and counts once in the reach of the all-time totals.
func requireExactReach(tb testing.TB, db *sql.DB, want int64) {
	tb.Helper()
	var rows, reach int64
	if err := db.QueryRow(`SELECT COUNT(*) FROM metrics_exposures`).Scan(&rows); err != nil {
		tb.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COALESCE(SUM(reach), 0) FROM metrics_totals`).Scan(&reach); err != nil {
		tb.Fatal(err)
	}
	if rows != want || reach != want {
		tb.Fatalf("%d exposure rows and a reach of %d; want %d of each", rows, reach, want)
	}
}

// buildWorker builds the worker binary to path.
func buildWorker(tb testing.TB, path string) {
	tb.Helper()
	build := exec.Command("go", "build", "-o", path, "github.com/engine-rules-sp/campaigns/cmd/campaigns-worker")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("build the worker: %v\n%s", err, out)
	}
}

// publishEvents creates the tracking stream on the server at url and publishes n events
// generated with dist on their partitions' subjects, asynchronously with at most 4096 in flight.
func publishEvents(tb testing.TB, url string, streamCfg metrics.StreamConfig, ids []uuid.UUID, n int, dist ingestDist) (*eventGen, time.Duration) {
	tb.Helper()
	ctx := context.Background()
	subjects := make([]string, len(ids))
	for i, id := range ids {
		subjects[i] = metrics.PartitionSubject(id, streamCfg.Partitions)
	}
	var pubErrs atomic.Int64
	var firstPubErr atomic.Value
	_, js := connectNATS(tb, url, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			if pubErrs.Add(1) == 1 {
				firstPubErr.Store(err)
			}
		}))
	if err := metrics.EnsureStream(ctx, js, streamCfg); err != nil {
		tb.Fatal(err)
	}
	stream, err := js.Stream(ctx, streamCfg.Name)
	if err != nil {
		tb.Fatal(err)
	}
	before := stream.CachedInfo().State.Msgs
	gen := newEventGen(1, dist)
	start := time.Now()
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
				tb.Fatalf("publish: %v", err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		tb.Fatal("publish acks did not arrive within 5 minutes")
	}
	dur := time.Since(start)
	if k := pubErrs.Load(); k > 0 {
		tb.Fatalf("%d publishes failed, first: %v", k, firstPubErr.Load())
	}
	info, err := stream.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if info.State.Msgs-before != uint64(n) {
		tb.Fatalf("the stream holds %d new messages, want %d", info.State.Msgs-before, n)
	}
	return gen, dur
}

// resetAggregation empties the rollups and the positions, so that the stream is counted again
// from its start.
func resetAggregation(tb testing.TB, db *sql.DB) {
	tb.Helper()
	for _, table := range []string{"metrics_hourly", "metrics_daily", "metrics_totals", "metrics_campaign_spend",
		"metrics_exposures", "metrics_consumer_positions", "metrics_leases", "metrics_workers"} {
		if _, err := db.Exec("DELETE FROM " + table); err != nil {
			tb.Fatalf("reset %s: %v", table, err)
		}
	}
}

// requireExactTotals checks that the rollups hold what was published, nothing more, nothing
// less, and that the positions counted each event once.
func requireExactTotals(tb testing.TB, db *sql.DB, want ingestTotals, n int) {
	tb.Helper()
	var got ingestTotals
	var processed, dead int64
	err := db.QueryRow(`SELECT COALESCE(SUM(impressions), 0), COALESCE(SUM(clicks), 0),
COALESCE(SUM(conversions), 0), COALESCE(SUM(revenue_e4), 0), COALESCE(SUM(cost_e4), 0) FROM metrics_daily`).
		Scan(&got.Impressions, &got.Clicks, &got.Conversions, &got.RevenueE4, &got.CostE4)
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COALESCE(SUM(processed), 0), COALESCE(SUM(dead_lettered), 0)
FROM metrics_consumer_positions`).Scan(&processed, &dead); err != nil {
		tb.Fatal(err)
	}
	if got != want || processed != int64(n) || dead != 0 {
		tb.Fatalf("rollups %+v, processed %d, dead-lettered %d; want %+v, %d, 0", got, processed, dead, want, n)
	}
	// The hourly rows and the all-time totals hold the same.
	for _, table := range []string{"metrics_hourly", "metrics_totals"} {
		var level ingestTotals
		err = db.QueryRow(`SELECT COALESCE(SUM(impressions), 0), COALESCE(SUM(clicks), 0),
COALESCE(SUM(conversions), 0), COALESCE(SUM(revenue_e4), 0), COALESCE(SUM(cost_e4), 0) FROM `+table).
			Scan(&level.Impressions, &level.Clicks, &level.Conversions, &level.RevenueE4, &level.CostE4)
		if err != nil {
			tb.Fatal(err)
		}
		if level != want {
			tb.Fatalf("%s %+v; want %+v", table, level, want)
		}
	}
}

// rawConsume reads the whole stream with the worker's client and nothing else, only counting:
// with one ordered consumer per partition, all at once (partitions > 0), as the worker's
// partitions do; or with one ordered consumer of the whole stream (partitions == 0).
func rawConsume(tb testing.TB, url, streamName string, partitions, n int) time.Duration {
	tb.Helper()
	_, js := connectNATS(tb, url)
	filters := [][]string{nil}
	if partitions > 0 {
		filters = nil
		for p := range partitions {
			filters = append(filters, []string{metrics.SubjectPrefix + "." + strconv.Itoa(p) + ".*"})
		}
	}
	return natstest.ReadAll(tb, js, streamName, filters, n)
}

// waitCounted polls the positions until the partitions have counted (or dead-lettered) n
// events. It also returns the longest pause: the longest time the count stood still after the
// first event was counted (a run's mean rate hides a partition or a whole worker that stops for
// seconds). A worker that counts nothing for stallLimit (one that cannot write, say) fails the
// wait at once rather than at the timeout.
func waitCounted(db *sql.DB, n int64, timeout time.Duration, exited <-chan struct{}) (took, longestPause time.Duration, err error) {
	const stallLimit = time.Minute
	start := time.Now()
	var last int64
	lastMove := start
	for {
		var done int64
		err := db.QueryRow(`SELECT COALESCE(SUM(processed + dead_lettered), 0) FROM metrics_consumer_positions`).Scan(&done)
		if err != nil {
			return 0, 0, err
		}
		now := time.Now()
		if done != last {
			if last > 0 {
				longestPause = max(longestPause, now.Sub(lastMove))
			}
			last, lastMove = done, now
		}
		switch {
		case done >= n:
			return now.Sub(start), longestPause, nil
		case now.Sub(start) > timeout:
			return 0, 0, fmt.Errorf("%d of %d events counted after %v", done, n, timeout)
		case now.Sub(lastMove) > stallLimit:
			return 0, 0, fmt.Errorf("%d of %d events counted, and no more for %v", done, n, stallLimit)
		}
		select {
		case <-exited:
			return 0, 0, fmt.Errorf("exited early with %d of %d events counted", done, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// workerRun is a running worker: stop ends it and returns its peak RSS in MiB (0: unknown).
type workerRun struct {
	exited <-chan struct{}
	kill   func() // as kill -9 would

	stop func(tb testing.TB) float64
	logs func() string
}

func startWorkerProcess(b testing.TB, bin, dir string, env map[string]string) workerRun {
	b.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = dir // no configs/config.yaml there: built-in defaults plus the environment
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out logtest.Buffer
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
	stop := func(b testing.TB) float64 {
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
	kill := func() {
		stopped.Store(true)
		_ = cmd.Process.Kill()
		<-exited
	}
	return workerRun{exited: exited, stop: stop, kill: kill, logs: out.String}
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
	var out logtest.Buffer
	logger := app.NewLogger(cfg.Log, &out)
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	var runErr error
	go func() { runErr = app.RunWorker(ctx, cfg, logger); close(exited) }()
	var once sync.Once
	stop := func(b testing.TB) float64 {
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
	s := apptest.New(b, target, apptest.ServerConfig{Configure: func(cfg *config.Config) {
		cfg.NATS = config.NATS{URL: ns.URL()}
		cfg.RateLimit.Enabled = false // one benchmark client would exhaust a caller's bucket at once
	}})
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
			msg := &nats.Msg{Subject: metrics.PartitionSubject(cid, metrics.DefaultPartitions), Data: body, Header: nats.Header{jetstream.MsgIDHeader: []string{eid.String()}}}
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
