package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/database/sqlite"
	"github.com/engine-rules-sp/campaigns/platform/datadir"
	"github.com/engine-rules-sp/campaigns/platform/lease"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/embedded"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// These tests run the binaries' entry points (RunAPI, RunWorker) in-process on the embedded
// default: a SQLite file and the embedded NATS server under a fresh data dir.

// processConfig is the embedded default on dataDir, with free ports for the API and the worker.
func processConfig(t *testing.T, dataDir string) *config.Config {
	t.Helper()
	target := dbtest.SQLiteTarget(t)
	target.Path = filepath.Join(dataDir, "campaigns.db")
	cfg := apptest.Config(t, target)
	cfg.DataDir = dataDir
	cfg.HTTP.Port = freePort(t)
	cfg.Worker.Port = freePort(t)
	cfg.HTTP.ShutdownTimeout = 10 * time.Second
	return cfg
}

// process is RunAPI or RunWorker running in a goroutine.
type process struct {
	logs   *logtest.Buffer
	cancel context.CancelFunc
	done   chan error
}

type runFunc func(ctx context.Context, cfg *config.Config, logger *slog.Logger) error

func start(t *testing.T, run runFunc, cfg *config.Config) *process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{logs: &logtest.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	logger := slog.New(slog.NewTextHandler(p.logs, nil))
	go func() { p.done <- run(ctx, cfg, logger) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Error("process did not stop")
		}
	})
	return p
}

// stop cancels the process and returns what it returned.
func (p *process) stop(t *testing.T) error {
	t.Helper()
	p.cancel()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("process did not stop within 30s")
		return nil
	}
}

// waitStatus waits until GET url answers want.
func waitStatus(t *testing.T, p *process, url string, want int) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.After(30 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	last := "no answer"
	for {
		resp, err := client.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = resp.Status
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("process stopped (%v) before %s answered %d; logs:\n%s", err, url, want, p.logs.String())
		case <-deadline:
			t.Fatalf("%s: want %d, last %s; logs:\n%s", url, want, last, p.logs.String())
		case <-poll.C:
		}
	}
}

// waitLoops waits until the worker loops of the process on db have done their work once
// against their tables: the relay has published an event appended now, and the automation has
// ticked and purged an expired idempotency key (its housekeeping, after each tick).
func waitLoops(t *testing.T, p *process, db *bun.DB) {
	t.Helper()
	ctx := context.Background()
	appendEvents(t, db, 1)
	past := time.Now().Add(-time.Hour)
	_, err := db.NewInsert().Table("idempotency_keys").Model(&map[string]any{
		"caller": userA, "key": "expired-" + uuid.NewString(), "fingerprint": "f", "state": "done",
		"status": 200, "headers": "{}", "body": "", "locked_at": past, "expires_at": past,
	}).Exec(ctx)
	require.NoError(t, err)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		backlog, err := outbox.Backlog(ctx, db)
		require.NoError(c, err)
		assert.Zero(c, backlog, "the relay published the event")
		keys, err := db.NewSelect().Table("idempotency_keys").Count(ctx)
		require.NoError(c, err)
		assert.Zero(c, keys, "the automation's housekeeping purged the key")
	}, 30*time.Second, 20*time.Millisecond, "logs:\n%s", p.logs)
}

func apiURL(cfg *config.Config) string    { return fmt.Sprintf("http://127.0.0.1:%d", cfg.HTTP.Port) }
func workerURL(cfg *config.Config) string { return fmt.Sprintf("http://127.0.0.1:%d", cfg.Worker.Port) }

// A worker started on the data dir of a running API (which runs the worker itself and owns
// the embedded NATS store) refuses at once, naming the data dir and what to do; once the API
// has stopped, the same worker starts.
func TestWorkerRefusesTheDataDirOfARunningAPI(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	apiCfg := processConfig(t, dataDir)
	api := start(t, app.RunAPI, apiCfg)
	waitStatus(t, api, apiURL(apiCfg)+"/ready", http.StatusOK)

	workerCfg := processConfig(t, dataDir)
	var logs logtest.Buffer
	err := app.RunWorker(context.Background(), workerCfg, slog.New(slog.NewTextHandler(&logs, nil)))
	var inUse *datadir.InUseError
	require.ErrorAs(t, err, &inUse)
	assert.Equal(t, dataDir, inUse.Dir)
	assert.Contains(t, err.Error(), "data dir "+dataDir+" is in use")
	assert.Contains(t, err.Error(), "worker.embedded")
	assert.Contains(t, err.Error(), "nats.embedded_port")
	_, dialErr := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", workerCfg.Worker.Port), time.Second)
	assert.ErrorIs(t, dialErr, syscall.ECONNREFUSED, "the refused worker must not serve")

	// An API cannot join the worker-less data dir either.
	_, err = app.NewAPI(context.Background(), processConfig(t, dataDir), slog.New(slog.DiscardHandler), app.APIConfig{})
	require.ErrorAs(t, err, &inUse)

	require.NoError(t, api.stop(t))
	worker := start(t, app.RunWorker, workerCfg)
	waitStatus(t, worker, workerURL(workerCfg)+"/ready", http.StatusOK)
	require.NoError(t, worker.stop(t))
}

// On a fresh data dir the worker migrates (the embedded default auto-migrates) and its loops
// find their tables.
func TestWorkerMigratesAFreshDataDir(t *testing.T) {
	t.Parallel()
	cfg := processConfig(t, t.TempDir())
	cfg.Automation.Interval = 100 * time.Millisecond
	w := start(t, app.RunWorker, cfg)
	waitStatus(t, w, workerURL(cfg)+"/ready", http.StatusOK)
	db, err := sqlite.Open(context.Background(), cfg.Database.SQLitePath, sqlite.Pool())
	require.NoError(t, err)
	defer db.Close()
	waitLoops(t, w, db)
	require.NoError(t, w.stop(t))

	require.NoError(t, migrate.Current(context.Background(), db, app.Migrations()...))
	assert.NotContains(t, w.logs.String(), "no such table")
	assert.NotContains(t, w.logs.String(), "level=ERROR")
}

// A worker that does not migrate waits for the schema, not ready meanwhile, without failing
// every tick, and starts once someone has migrated.
func TestWorkerWaitsForTheSchema(t *testing.T) {
	t.Parallel()
	cfg := processConfig(t, t.TempDir())
	cfg.Database.AutoMigrate = false
	cfg.Automation.Interval = 100 * time.Millisecond
	w := start(t, app.RunWorker, cfg)
	waitStatus(t, w, workerURL(cfg)+"/ready", http.StatusServiceUnavailable)
	waitStatus(t, w, workerURL(cfg)+"/health", http.StatusOK)
	require.Eventually(t, func() bool {
		return bytes.Contains([]byte(w.logs.String()), []byte("waiting for the database schema"))
	}, 10*time.Second, 20*time.Millisecond)

	ctx := context.Background()
	db, err := sqlite.Open(ctx, cfg.Database.SQLitePath, sqlite.Pool())
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, migrate.Up(ctx, db, app.Migrations()...))
	waitStatus(t, w, workerURL(cfg)+"/ready", http.StatusOK)
	waitLoops(t, w, db)
	require.NoError(t, w.stop(t))

	logs := w.logs.String()
	assert.Equal(t, 1, bytes.Count([]byte(logs), []byte("waiting for the database schema")), "said once: %s", logs)
	assert.Contains(t, logs, "database schema is up to date")
	assert.NotContains(t, logs, "no such table")
}

// On shutdown the API (running the worker) and the worker binary publish every committed
// event before they stop, rather than leaving them for the next start.
func TestShutdownPublishesTheOutbox(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		run   runFunc
		ready func(*config.Config) string
	}{
		{"api with embedded worker", app.RunAPI, apiURL},
		{"worker", app.RunWorker, workerURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := processConfig(t, t.TempDir())
			// The relay only looks at the outbox when woken or at its poll, not within the test.
			cfg.Events.PollInterval = time.Hour
			db, err := sqlite.Open(ctx, cfg.Database.SQLitePath, sqlite.Pool())
			require.NoError(t, err)
			defer db.Close()
			require.NoError(t, migrate.Up(ctx, db, app.Migrations()...))

			// While the test holds the relay's lease the process cannot publish: the events are
			// still in the outbox when it is told to stop.
			held := lease.New(db, "outbox_leases", outbox.LeaseName, lease.Config{TTL: time.Hour})
			ok, err := held.Hold(ctx)
			require.NoError(t, err)
			require.True(t, ok)
			const n = 25
			ids := appendEvents(t, db, n)

			p := start(t, tc.run, cfg)
			waitStatus(t, p, tc.ready(cfg)+"/ready", http.StatusOK)
			backlog, err := outbox.Backlog(ctx, db)
			require.NoError(t, err)
			require.EqualValues(t, n, backlog, "published before the shutdown")

			require.NoError(t, held.Release(ctx))
			require.NoError(t, p.stop(t))

			backlog, err = outbox.Backlog(ctx, db)
			require.NoError(t, err)
			assert.Zero(t, backlog, "events left in the outbox; logs:\n%s", p.logs.String())
			assert.Equal(t, ids, streamIDs(t, cfg.DataDir, cfg.Events.Stream, n))
			assert.Contains(t, p.logs.String(), fmt.Sprintf("published=%d", n))
		})
	}
}

func appendEvents(t *testing.T, db *bun.DB, n int) []string {
	t.Helper()
	agg := uuid.New()
	ids := make([]string, n)
	err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		for i := range n {
			id := uuid.New()
			ids[i] = id.String()
			if err := outbox.Append(ctx, tx, outbox.Event{ID: id, AggregateID: agg, Type: "CampaignUpdated",
				Version: int64(i + 2), OccurredAt: time.Now(), Payload: json.RawMessage(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	return ids
}

// streamIDs reads the event ids on the events stream, opening the data dir's embedded NATS
// store again once the process that wrote it has stopped.
func streamIDs(t *testing.T, dataDir, stream string, max int) []string {
	t.Helper()
	ctx := context.Background()
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: dataDir})
	require.NoError(t, err)
	defer srv.Close()
	nc, err := natsx.Connect(ctx, natsx.Config{InProcess: srv, Name: "test", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer nc.Close()
	cons, err := nc.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	batch, err := cons.Fetch(max+1, jetstream.FetchMaxWait(time.Second))
	require.NoError(t, err)
	var ids []string
	for msg := range batch.Messages() {
		var ce outbox.CloudEvent
		require.NoError(t, json.Unmarshal(msg.Data(), &ce))
		ids = append(ids, ce.ID)
	}
	return ids
}
