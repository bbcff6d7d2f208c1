package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
	"github.com/engine-rules-sp/campaigns/platform/longtest"
)

// faultImportLines is how many lines the import of TestFaultImportDoesNotStarveWriters sends:
// the size the fault was found with when the long tests are asked for (CAMPAIGNS_TEST_LONG=1)
// without the race detector, where the same import would take half an hour; a tenth
// otherwise (.ci/run runs it both ways).
func faultImportLines() int {
	if raceDetector {
		return 4_000
	}
	return longtest.Size(4_000, 40_000)
}

// TestFaultImportDoesNotStarveWriters runs a 40,000-line import (a dry run, then the
// all-or-nothing import) with the worker running (event relay, aggregator, automation and
// housekeeping), and meanwhile: creates a campaign every 250 ms, each of which must answer 201
// within 2 s; writes a probe row every 50 ms, whose wait is how long the longest write
// transaction held the database (on SQLite, its one write lock); watches the aggregator's
// leases (metrics.lease_ttl, 5 s), which must stay with their worker and never expire; and checks the relay publishes
// the probes' events meanwhile. The import's longest transaction (it logs it) must stay under
// 2 s, its results must be right, and no SQLITE_BUSY or "database is locked" may be logged.
func TestFaultImportDoesNotStarveWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("a 40,000-line import: not in -short")
	}
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		cfg := apptest.Config(t, target)
		logs := &logtest.Buffer{}
		logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		ctx := context.Background()
		a, err := app.NewAPI(ctx, cfg, logger, app.APIConfig{})
		require.NoError(t, err)
		s := apptest.Start(t, a)
		wctx, stopWorker := context.WithCancel(ctx)
		workerDone := make(chan struct{})
		go func() { defer close(workerDone); a.Client.RunWorker(wctx) }()
		t.Cleanup(func() { stopWorker(); <-workerDone })
		db := a.DB

		_, err = db.ExecContext(ctx, "CREATE TABLE fault_probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "INSERT INTO fault_probe (id, n) VALUES (1, 0)")
		require.NoError(t, err)

		// The aggregator takes its partitions' leases once it runs.
		type leaseRow struct {
			Name      string    `bun:"name"`
			Holder    string    `bun:"holder"`
			ExpiresAt time.Time `bun:"expires_at"`
		}
		readLeases := func() ([]leaseRow, error) {
			var rows []leaseRow
			err := db.NewSelect().Table("metrics_leases").Column("name", "holder", "expires_at").OrderExpr("name").Scan(ctx, &rows)
			return rows, err
		}
		var leases []leaseRow
		require.Eventually(t, func() bool {
			leases, err = readLeases()
			return err == nil && len(leases) == cfg.Metrics.Partitions
		}, 20*time.Second, 100*time.Millisecond, "the aggregator holds its partitions")

		var file strings.Builder
		for i := range faultImportLines() {
			file.Write(mustJSON(t, validBody(fmt.Sprintf("Fault import %05d", i))))
			file.WriteByte('\n')
		}
		body := []byte(file.String())

		type probe struct {
			status  int
			latency time.Duration
			id      string
			sent    time.Time
		}
		var (
			mu          sync.Mutex
			probes      []probe
			longestLock time.Duration
			lockErrs    []error
			leaseFaults []string
		)
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { // creates, every 250 ms
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				raw := mustJSON(t, validBody(fmt.Sprintf("Fault probe %d", i)))
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/campaigns", bytes.NewReader(raw))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-User-ID", userA)
				start := time.Now()
				resp, err := s.Client.Do(req)
				p := probe{latency: time.Since(start), sent: start}
				if err == nil {
					var c struct{ ID string }
					_ = json.NewDecoder(resp.Body).Decode(&c)
					_ = resp.Body.Close()
					p.status, p.id = resp.StatusCode, c.ID
				}
				mu.Lock()
				probes = append(probes, p)
				mu.Unlock()
			}
		})
		wg.Go(func() { // a one-row write, every 50 ms: its wait bounds the longest write transaction
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				start := time.Now()
				_, err := db.ExecContext(ctx, "UPDATE fault_probe SET n = n + 1 WHERE id = 1")
				d := time.Since(start)
				mu.Lock()
				longestLock = max(longestLock, d)
				if err != nil {
					lockErrs = append(lockErrs, err)
				}
				mu.Unlock()
			}
		})
		wg.Go(func() { // the aggregator's leases: same holders, never expired
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				rows, err := readLeases()
				now := time.Now()
				mu.Lock()
				switch {
				case err != nil:
					leaseFaults = append(leaseFaults, err.Error())
				case len(rows) != len(leases):
					leaseFaults = append(leaseFaults, fmt.Sprintf("%d leases, want %d", len(rows), len(leases)))
				default:
					for i, r := range rows {
						if r.Holder != leases[i].Holder {
							leaseFaults = append(leaseFaults, fmt.Sprintf("lease %s moved from %s to %s", r.Name, leases[i].Holder, r.Holder))
						}
						if r.ExpiresAt.Before(now) {
							leaseFaults = append(leaseFaults, fmt.Sprintf("lease %s expired %v ago", r.Name, now.Sub(r.ExpiresAt)))
						}
					}
				}
				mu.Unlock()
			}
		})

		post := func(query string) (*http.Response, []byte, time.Duration) {
			req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/campaigns/import?"+query, bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-ndjson")
			req.Header.Set("X-User-ID", userA)
			start := time.Now()
			resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			out, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return resp, out, time.Since(start)
		}
		time.Sleep(time.Second) // the probes' pace before the import
		dryResp, dryBody, dryTook := post("dryRun=true")
		importResp, importBody, importTook := post("mode=all-or-nothing")
		time.Sleep(time.Second) // and after it
		close(done)
		wg.Wait()

		var dry, rep struct {
			Summary struct{ Lines, Created, Valid, Failed int }
			Results []struct {
				Line   int
				Status string
				ID     string
			}
		}
		require.Equal(t, http.StatusOK, dryResp.StatusCode, "%.500s", dryBody)
		require.NoError(t, json.Unmarshal(dryBody, &dry))
		assert.Equal(t, faultImportLines(), dry.Summary.Valid)
		assert.Zero(t, dry.Summary.Failed)
		require.Equal(t, http.StatusOK, importResp.StatusCode, "%.500s", importBody)
		require.NoError(t, json.Unmarshal(importBody, &rep))
		assert.Equal(t, faultImportLines(), rep.Summary.Created)
		assert.Zero(t, rep.Summary.Failed)
		require.Len(t, rep.Results, faultImportLines())
		ids := map[string]bool{}
		for i, r := range rep.Results {
			require.Equal(t, "created", r.Status, "line %d", r.Line)
			require.Equal(t, i+1, r.Line)
			ids[r.ID] = true
		}
		assert.Len(t, ids, faultImportLines(), "one new id per line")
		n, err := db.NewSelect().Table("campaigns").Where("name LIKE 'Fault import %'").Where("deleted_at IS NULL").Count(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, faultImportLines(), n, "every line is a live campaign")
		n, err = db.NewSelect().Table("outbox_events").Where("type = 'CampaignCreated'").Count(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, faultImportLines()+len(probes), n, "one CampaignCreated event per campaign, no more")

		mu.Lock()
		defer mu.Unlock()
		var slowest time.Duration
		created := 0
		for _, p := range probes {
			slowest = max(slowest, p.latency)
			if assert.Equal(t, http.StatusCreated, p.status, "a create sent at %s", p.sent.Format(time.StampMilli)) {
				created++
			}
			assert.Less(t, p.latency, 2*time.Second, "a create sent at %s", p.sent.Format(time.StampMilli))
		}
		assert.Greater(t, len(probes), 8, "creates were sent during the import")
		assert.Empty(t, lockErrs, "the probe writes")
		assert.Empty(t, leaseFaults, "the aggregator kept its leases")
		// The relay kept publishing while the import ran: each create's event left within 10 s
		// of the create (the import's own 40,000 events share its queue).
		var lag time.Duration
		for _, p := range probes {
			if p.id == "" {
				continue
			}
			var published *time.Time
			require.Eventually(t, func() bool {
				var ev struct {
					Events []struct {
						PublishedAt *time.Time `json:"publishedAt"`
					}
				}
				r := s.Do(http.MethodGet, "/api/v1/campaigns/"+p.id+"/events", nil, asUserA...)
				require.Equal(t, http.StatusOK, r.Status)
				r.Decode(t, &ev)
				require.NotEmpty(t, ev.Events)
				published = ev.Events[0].PublishedAt
				return published != nil
			}, time.Minute, 100*time.Millisecond, "the event of the create sent at %s", p.sent.Format(time.StampMilli))
			lag = max(lag, published.Sub(p.sent))
		}
		assert.Less(t, lag, 10*time.Second, "the relay kept publishing during the import")
		for _, bad := range []string{"SQLITE_BUSY", "database is locked"} {
			assert.NotContains(t, logs.String(), bad)
		}
		// The import's longest write transaction (its longest chunk, waits for the lock
		// included), as it logs it.
		m := regexp.MustCompile(`msg="import written".* longest_chunk=(\S+)`).FindStringSubmatch(logs.String())
		require.NotNil(t, m, "the import logs its chunks")
		longestChunk, err := time.ParseDuration(m[1])
		require.NoError(t, err)
		assert.Less(t, longestChunk, 2*time.Second, "the import's longest transaction")
		assert.Less(t, longestLock, 2*time.Second, "the longest wait of a one-row write")
		t.Logf("%s: dry run %v, import %v (%d lines), its longest transaction %v; %d creates meanwhile (%d answered 201), slowest %v; longest wait of a one-row write %v; longest relay lag of a create's event %v",
			target.Name, dryTook.Round(time.Millisecond), importTook.Round(time.Millisecond), faultImportLines(), longestChunk.Round(time.Millisecond),
			len(probes), created, slowest.Round(time.Millisecond), longestLock.Round(time.Millisecond), lag.Round(time.Millisecond))
	})
}
