package app_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// The worker binary is killed with SIGKILL while it works through a backlog on the external
// NATS server (CAMPAIGNS_TEST_NATS_URL: on these machines Debian's nats-server 2.9.10, which
// has no subject transforms) and PostgreSQL. A new process resumes counting within 10 s of
// its start (the dead worker's leases expire after metrics.lease_ttl, 5 s), and the totals
// are exact. CAMPAIGNS_TEST_KILL_EVENTS sets the backlog (default 200,000).
func TestWorkerBinaryKilledResumesWithinTheLeaseTTL(t *testing.T) {
	target := dbtest.PostgresTarget(t)
	natsURL := natstest.External(t).URL
	n := envInt(t, "CAMPAIGNS_TEST_KILL_EVENTS", 200_000)
	ctx := context.Background()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "campaigns-worker")
	buildWorker(t, bin)

	defaults, err := config.Load("", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	streamCfg := metrics.StreamConfig{Name: defaults.Metrics.Stream, MaxAge: time.Hour, DuplicateWindow: time.Minute,
		Partitions: defaults.Metrics.Partitions}
	// The tracking subjects are the product's: the stream is this test's alone on the shared
	// server, and removed when it ends.
	_, js := connectNATS(t, natsURL)
	dropStreams := func() {
		for _, name := range []string{streamCfg.Name, streamCfg.Name + "_DLQ"} {
			if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Fatalf("delete stream %s: %v", name, err)
			}
		}
	}
	dropStreams()
	t.Cleanup(dropStreams)

	db := dbtest.Open(t, target, app.Migrations()...)
	ids := seedTrackingCampaigns(t, db.DB, ingestCampaigns)
	gen, _ := publishEvents(t, natsURL, streamCfg, ids, n, distCurrent)

	env := map[string]string{
		"CAMPAIGNS_DATABASE_DRIVER":          config.DriverPostgres,
		"CAMPAIGNS_DATABASE_URL":             target.URL,
		"CAMPAIGNS_DATABASE_AUTO_MIGRATE":    "false",
		"CAMPAIGNS_NATS_URL":                 natsURL,
		"CAMPAIGNS_NATS_EMBEDDED":            "false",
		"CAMPAIGNS_DATA_DIR":                 tmp,
		"CAMPAIGNS_METRICS_MAX_AGE":          "1h",
		"CAMPAIGNS_METRICS_DUPLICATE_WINDOW": "1m",
		"CAMPAIGNS_LOG_LEVEL":                "warn",
	}
	env["CAMPAIGNS_WORKER_PORT"] = strconv.Itoa(freePort(t))
	first := startWorkerProcess(t, bin, tmp, env)
	atKill := waitAtLeast(t, db.DB, int64(n)/10, first.exited)
	first.kill()
	if atKill >= int64(n) {
		t.Fatalf("the worker counted the whole backlog (%d) before it could be killed: raise CAMPAIGNS_TEST_KILL_EVENTS", n)
	}
	// A commit the killed process had sent may still land: wait until the count is still.
	atKill = counted(t, db.DB)
	for still := 0; still < 5; {
		time.Sleep(50 * time.Millisecond)
		c := counted(t, db.DB)
		if c == atKill {
			still++
		} else {
			atKill, still = c, 0
		}
	}

	env["CAMPAIGNS_WORKER_PORT"] = strconv.Itoa(freePort(t))
	restarted := time.Now()
	second := startWorkerProcess(t, bin, tmp, env)
	waitAtLeast(t, db.DB, atKill+1, second.exited)
	resumed := time.Since(restarted)
	t.Logf("killed at %d of %d events counted; the new process counted again %v after its start", atKill, n, resumed.Round(time.Millisecond))
	if resumed > 10*time.Second {
		t.Errorf("counting resumed %v after the restart, want within 10s", resumed)
	}
	if _, _, err := waitCounted(db.DB, int64(n), 5*time.Minute, second.exited); err != nil {
		t.Fatalf("after the restart: %v\n%s", err, second.logs())
	}
	second.stop(t)
	requireExactTotals(t, db.DB, gen.totals, n)
}

// counted is how many events the partitions have counted or dead-lettered.
func counted(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var done int64
	if err := db.QueryRow(`SELECT COALESCE(SUM(processed + dead_lettered), 0) FROM metrics_consumer_positions`).Scan(&done); err != nil {
		t.Fatal(err)
	}
	return done
}

// waitAtLeast polls until at least n events are counted and returns the count then.
func waitAtLeast(t *testing.T, db *sql.DB, n int64, exited <-chan struct{}) int64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if c := counted(t, db); c >= n {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d events counted after 2 minutes", n)
		}
		select {
		case <-exited:
			t.Fatal("the worker exited")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
