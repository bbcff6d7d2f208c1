package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
)

// faultTally counts the answers of a load by operation and status, and remembers the writes
// answered 2xx (campaign id -> the versions they stored).
type faultTally struct {
	mu       sync.Mutex
	byStatus map[int]int
	byOp     map[string]map[int]int
	stored   map[string][]int64 // 2xx writes: campaign id -> versions
	names    map[string]string  // 2xx creates: campaign id -> name
	noRetry  []string           // 503s without Retry-After
	types    map[string]int     // 5xx answers by status and problem type
}

func newFaultTally() *faultTally {
	return &faultTally{byStatus: map[int]int{}, byOp: map[string]map[int]int{},
		stored: map[string][]int64{}, names: map[string]string{}, types: map[string]int{}}
}

func (f *faultTally) add(op string, r *apptest.Response) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byStatus[r.Status]++
	if f.byOp[op] == nil {
		f.byOp[op] = map[int]int{}
	}
	f.byOp[op][r.Status]++
	if r.Status >= 500 {
		var p struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(r.Body, &p)
		f.types[fmt.Sprintf("%d %s", r.Status, p.Type)]++
	}
	if r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") == "" {
		f.noRetry = append(f.noRetry, op+": "+string(r.Body))
	}
}

func (f *faultTally) wrote(id string, version int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored[id] = append(f.stored[id], version)
}

func (f *faultTally) created(id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[id] = name
	f.stored[id] = append(f.stored[id], 1)
}

func (f *faultTally) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "by status: %s", statusLine(f.byStatus))
	if len(f.types) > 0 {
		fmt.Fprintf(&b, "\n  5xx by type: %v", f.types)
	}
	ops := make([]string, 0, len(f.byOp))
	for op := range f.byOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		fmt.Fprintf(&b, "\n  %-10s %s", op, statusLine(f.byOp[op]))
	}
	return b.String()
}

func statusLine(m map[int]int) string {
	codes := make([]int, 0, len(m))
	total := 0
	for c, n := range m {
		codes = append(codes, c)
		total += n
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes)+1)
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d: %d", c, m[c]))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (total %d)", total)
}

// versionOf is the version an ETag ("3") names.
func versionOf(r *apptest.Response) (int64, bool) {
	v, err := strconv.ParseInt(strings.Trim(r.Header.Get("ETag"), `"`), 10, 64)
	return v, err == nil
}

// TestFaultPostgresBackendKills runs a mixed load of reads and writes against the API on
// PostgreSQL while every server process of the API's pool is terminated (pg_terminate_backend)
// five times, as a failover or a restart does. No request may answer 500: reads and writes that
// had not reached COMMIT are retried on fresh connections, the rest are 503 with Retry-After.
// Every write answered 2xx must be stored.
func TestFaultPostgresBackendKills(t *testing.T) {
	target := dbtest.PostgresTarget(t)
	// The API's connections carry a name of their own: the test terminates those, and no other
	// session of the shared server.
	appName := "campaigns_fault_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	u, err := url.Parse(target.URL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("application_name", appName)
	u.RawQuery = q.Encode()
	target.URL = u.String()

	// The API's warnings say which faults outlasted the retries.
	var logs logtest.Buffer
	a, err := app.NewAPI(t.Context(), apptest.Config(t, target),
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})), app.APIConfig{})
	require.NoError(t, err)
	s := apptest.Start(t, a)
	admin, err := sql.Open("pgx/v5", os.Getenv(dbtest.EnvPostgresURL))
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	kill := func(ctx context.Context) int {
		var n int
		err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName).Scan(&n)
		require.NoError(t, err)
		return n
	}

	var ids struct {
		sync.Mutex
		list []string
	}
	pick := func(r *rand.Rand) string {
		ids.Lock()
		defer ids.Unlock()
		return ids.list[r.IntN(len(ids.list))]
	}
	var seq atomic.Int64
	name := func() string { return fmt.Sprintf("Fault %s %d", appName[len(appName)-6:], seq.Add(1)) }
	for range 24 {
		c := create(t, s, validBody(name()))
		ids.list = append(ids.list, c["id"].(string))
	}

	tally := newFaultTally()
	do := func(op, method, path string, body any, header ...string) *apptest.Response {
		r := s.Do(method, path, body, append(append([]string{}, asUserA...), header...)...)
		tally.add(op, r)
		return r
	}
	// One step of a client: a read, or a write that reads the version it replaces first.
	step := func(r *rand.Rand) {
		switch n := r.IntN(100); {
		case n < 30:
			do("get", http.MethodGet, "/api/v1/campaigns/"+pick(r), nil)
		case n < 45:
			do("list", http.MethodGet, "/api/v1/campaigns?limit=20", nil)
		case n < 50:
			do("list-q", http.MethodGet, "/api/v1/campaigns?limit=20&status=ACTIVE&sort=name", nil)
		case n < 65:
			nm := name()
			res := do("create", http.MethodPost, "/api/v1/campaigns", validBody(nm))
			if res.Status == http.StatusCreated {
				id := res.Map(t)["id"].(string)
				tally.created(id, nm)
				ids.Lock()
				ids.list = append(ids.list, id)
				ids.Unlock()
			}
		default:
			id := pick(r)
			got := do("get", http.MethodGet, "/api/v1/campaigns/"+id, nil)
			v, ok := versionOf(got)
			if got.Status != http.StatusOK || !ok {
				return
			}
			status, _ := got.Map(t)["status"].(string)
			var res *apptest.Response
			var op string
			switch {
			case n < 80 && status != "ACTIVE":
				op = "put"
				res = do(op, http.MethodPut, "/api/v1/campaigns/"+id, validBody(name()), "If-Match", fmt.Sprintf(`"%d"`, v))
			case status == "DRAFT":
				op = "activate"
				res = do(op, http.MethodPost, "/api/v1/campaigns/"+id+"/activate", nil, "If-Match", fmt.Sprintf(`"%d"`, v))
			case status == "ACTIVE" && n < 90:
				op = "track"
				do(op, http.MethodPost, "/api/v1/campaigns/"+id+"/track",
					fmt.Sprintf(`{"eventId":%q,"type":"IMPRESSION","variant":"A","channel":"EMAIL"}`, uuid.NewString()))
				return
			case status == "ACTIVE":
				op = "pause"
				res = do(op, http.MethodPost, "/api/v1/campaigns/"+id+"/pause", nil, "If-Match", fmt.Sprintf(`"%d"`, v))
			case status == "PAUSED":
				op = "resume"
				res = do(op, http.MethodPost, "/api/v1/campaigns/"+id+"/resume", nil, "If-Match", fmt.Sprintf(`"%d"`, v))
			default:
				return
			}
			if res.Status/100 == 2 {
				nv, ok := versionOf(res)
				if assert.True(t, ok, "%s answered %d without an ETag", op, res.Status) {
					tally.wrote(id, nv)
				}
			}
		}
	}

	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	const clients = 12
	for i := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for ctx.Err() == nil {
				step(r)
			}
		})
	}
	var killed []int
	for range 5 {
		time.Sleep(time.Second)
		killed = append(killed, kill(t.Context()))
	}
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	t.Logf("backends terminated per round: %v\n%s", killed, tally)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "database fault") {
			t.Log(line)
		}
	}

	for i, n := range killed {
		assert.Positive(t, n, "round %d terminated no backend of the API: the fault was not injected", i+1)
	}
	for code, n := range tally.byStatus {
		assert.False(t, code >= 500 && code != http.StatusServiceUnavailable, "%d answers of %d", n, code)
	}
	assert.Zero(t, tally.byStatus[http.StatusInternalServerError], "answers of 500")
	assert.Empty(t, tally.noRetry, "503s without Retry-After")
	assert.Positive(t, tally.byStatus[http.StatusOK]+tally.byStatus[http.StatusCreated], "the load made no progress")

	// Every write answered 2xx is stored: its campaign row, and the event of the version it
	// answered (written in the same transaction). No version is stored twice.
	var events []struct {
		AggregateID uuid.UUID `bun:"aggregate_id"`
		Version     int64     `bun:"version"`
		N           int       `bun:"n"`
	}
	require.NoError(t, s.API.DB.NewRaw(`SELECT aggregate_id, version, count(*) AS n FROM outbox_events GROUP BY aggregate_id, version`).
		Scan(t.Context(), &events))
	have := map[string]map[int64]int{}
	for _, e := range events {
		id := e.AggregateID.String()
		if have[id] == nil {
			have[id] = map[int64]int{}
		}
		have[id][e.Version] = e.N
		assert.Equal(t, 1, e.N, "campaign %s has %d events of version %d", id, e.N, e.Version)
	}
	var lost []string
	for id, versions := range tally.stored {
		for _, v := range versions {
			if have[id][v] == 0 {
				lost = append(lost, fmt.Sprintf("%s@%d", id, v))
			}
		}
	}
	assert.Empty(t, lost, "writes answered 2xx but not stored")
	var stored int64
	for id := range tally.names {
		n, err := s.API.DB.NewSelect().Table("campaigns").Where("id = ?", id).Count(t.Context())
		require.NoError(t, err)
		stored += n
	}
	assert.EqualValues(t, len(tally.names), stored, "campaigns answered 201 but not stored")
}
