package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// The benchmarks compare the full stack (HTTP on loopback, Echo, service, Bun, PostgreSQL) with
// the same SQL statement sent straight through database/sql and pgx, in the same run, so the
// ratio holds on a noisy machine. They need CAMPAIGNS_TEST_POSTGRES_URL.
//
//	go test ./platform/app -run '^$' -bench . -benchtime 3s

const seedRows = 101_000 // so that a page after row 100,000 exists

type benchEnv struct {
	s       *apptest.Server
	raw     *sql.DB
	ids     []string
	deepCur campaign.Cursor
}

var (
	benchOnce sync.Once
	benchData *benchEnv
)

// setup seeds one schema for all benchmarks in the process: seeding 100,000 rows takes a while.
func setup(b *testing.B) *benchEnv {
	benchOnce.Do(func() {
		// The schema must outlive this first benchmark: its clean-up waits for TestMain.
		ll := &longLived{TB: b}
		target := dbtest.PostgresTarget(ll) // skips without PostgreSQL
		s := apptest.New(ll, target, apptest.ServerConfig{})
		raw, err := sql.Open("pgx/v5", target.URL)
		if err != nil {
			b.Fatal(err)
		}
		raw.SetMaxOpenConns(16)
		raw.SetMaxIdleConns(16)
		ctx := context.Background()
		_, err = raw.ExecContext(ctx, `
INSERT INTO campaigns (id, name, description, status, type, targeting_rules, start_date, end_date,
  budget_amount, budget_currency, created_by, created_at, updated_at, settings, version)
SELECT gen_random_uuid(), 'Seed ' || g, 'seeded', 'DRAFT', 'PROMOTION', '[]',
  now() + interval '1 day', NULL, 1000, 'EUR', $1, now() - g * interval '1 second',
  now() - g * interval '1 second',
  '{"targetAudience":[],"channels":["EMAIL"],"frequency":"ONCE","maxImpressions":null,"budgetLimit":null,"abTestSettings":null,"schedulingRules":[],"personalization":{"enabled":false,"rules":[]}}',
  1
FROM generate_series(1, $2) AS g`, userA, seedRows)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := raw.ExecContext(ctx, "ANALYZE campaigns"); err != nil {
			b.Fatal(err)
		}
		env := &benchEnv{s: s, raw: raw}
		rows, err := raw.QueryContext(ctx, "SELECT id FROM campaigns ORDER BY random() LIMIT 1000")
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var id string
			_ = rows.Scan(&id)
			env.ids = append(env.ids, id)
		}
		_ = rows.Close()
		var at time.Time
		var id uuid.UUID
		err = raw.QueryRowContext(ctx, `SELECT created_at, id FROM campaigns WHERE deleted_at IS NULL
ORDER BY created_at DESC, id DESC OFFSET 100000 LIMIT 1`).Scan(&at, &id)
		if err != nil {
			b.Fatal(err)
		}
		env.deepCur = campaign.Cursor{Sort: campaign.SortCreatedAt, Desc: true, Value: at.UTC().Format(time.RFC3339Nano), ID: campaign.ID(id)}
		benchData = env
	})
	if benchData == nil {
		b.Fatal("benchmark set-up failed earlier")
	}
	return benchData
}

// longLived defers clean-ups to the end of TestMain: the seeded schema is shared by every
// benchmark.
type longLived struct{ testing.TB }

func (l *longLived) Cleanup(fn func()) { atExit = append(atExit, fn) }

var atExit []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(atExit) - 1; i >= 0; i-- {
		atExit[i]()
	}
	os.Exit(code)
}

// latencies records per-request durations to report p50 and p99 next to ns/op.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	b.ReportMetric(float64(l.d[len(l.d)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(l.d[len(l.d)*99/100].Microseconds()), "p99-µs")
}

func run(b *testing.B, fn func(i int64) error) {
	var n atomic.Int64
	var lat latencies
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			if err := fn(n.Add(1)); err != nil {
				b.Error(err)
				return
			}
			lat.add(time.Since(start))
		}
	})
	b.StopTimer()
	lat.report(b)
}

func httpDo(client *http.Client, method, url string, body []byte, want int) error {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User-ID", userA)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
	}
	return nil
}

const rawSelect = `SELECT id, name, description, status, type, targeting_rules, start_date, end_date,
budget_amount, budget_currency, created_by, created_at, updated_at, settings, version, deleted_at
FROM campaigns`

func scanAll(rows *sql.Rows) error {
	defer rows.Close()
	for rows.Next() {
		var (
			id, name, desc, status, typ, rules, cur, by, settings string
			start, created, updated                               time.Time
			end, deleted                                          *time.Time
			amount                                                string
			version                                               int64
		)
		if err := rows.Scan(&id, &name, &desc, &status, &typ, &rules, &start, &end, &amount, &cur, &by,
			&created, &updated, &settings, &version, &deleted); err != nil {
			return err
		}
	}
	return rows.Err()
}

func BenchmarkGetCampaign(b *testing.B) {
	env := setup(b)
	b.Run("raw-sql", func(b *testing.B) {
		run(b, func(i int64) error {
			rows, err := env.raw.Query(rawSelect+" WHERE id = $1 AND deleted_at IS NULL", env.ids[i%int64(len(env.ids))])
			if err != nil {
				return err
			}
			return scanAll(rows)
		})
	})
	b.Run("http-api", func(b *testing.B) {
		run(b, func(i int64) error {
			return httpDo(env.s.Client, http.MethodGet, env.s.URL+"/api/v1/campaigns/"+env.ids[i%int64(len(env.ids))], nil, http.StatusOK)
		})
	})
}

func BenchmarkListCampaigns(b *testing.B) {
	env := setup(b)
	const page = 20
	deepAt, _ := time.Parse(time.RFC3339Nano, env.deepCur.Value)
	b.Run("first-page/raw-sql", func(b *testing.B) {
		run(b, func(int64) error {
			rows, err := env.raw.Query(rawSelect+" WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT $1", page+1)
			if err != nil {
				return err
			}
			return scanAll(rows)
		})
	})
	b.Run("first-page/http-api", func(b *testing.B) {
		run(b, func(int64) error {
			return httpDo(env.s.Client, http.MethodGet, env.s.URL+"/api/v1/campaigns?limit=20", nil, http.StatusOK)
		})
	})
	b.Run("after-100k/raw-sql", func(b *testing.B) {
		run(b, func(int64) error {
			rows, err := env.raw.Query(rawSelect+` WHERE deleted_at IS NULL AND (created_at, id) < ($1, $2)
ORDER BY created_at DESC, id DESC LIMIT $3`, deepAt, env.deepCur.ID.String(), page+1)
			if err != nil {
				return err
			}
			return scanAll(rows)
		})
	})
	b.Run("after-100k/http-api", func(b *testing.B) {
		url := env.s.URL + "/api/v1/campaigns?limit=20&cursor=" + env.deepCur.Encode()
		run(b, func(int64) error { return httpDo(env.s.Client, http.MethodGet, url, nil, http.StatusOK) })
	})
}

func BenchmarkCreateCampaign(b *testing.B) {
	env := setup(b)
	// The framework calls each sub-benchmark several times with a growing b.N; names come from
	// one counter so that no round repeats an earlier round's (unique) name.
	run0 := time.Now().UnixNano()
	var seq atomic.Int64
	b.Run("raw-sql", func(b *testing.B) {
		run(b, func(i int64) error {
			_, err := env.raw.Exec(`INSERT INTO campaigns (id, name, description, status, type, targeting_rules,
start_date, end_date, budget_amount, budget_currency, created_by, created_at, updated_at, settings, version)
VALUES ($1, $2, '', 'DRAFT', 'PROMOTION', '[]', $3, NULL, 1000, 'EUR', $4, $5, $5, $6, 1)`,
				uuid.Must(uuid.NewV7()), fmt.Sprintf("Raw %d-%d", run0, seq.Add(1)), time.Now().Add(24*time.Hour), userA, time.Now(),
				`{"targetAudience":[],"channels":["EMAIL"],"frequency":"ONCE","maxImpressions":null,"budgetLimit":null,"abTestSettings":null,"schedulingRules":[],"personalization":{"enabled":false,"rules":[]}}`)
			return err
		})
	})
	b.Run("http-api", func(b *testing.B) {
		run(b, func(i int64) error {
			body := validBody(fmt.Sprintf("Bench %d-%d", run0, seq.Add(1)))
			raw, _ := json.Marshal(body)
			return httpDo(env.s.Client, http.MethodPost, env.s.URL+"/api/v1/campaigns", raw, http.StatusCreated)
		})
	})
}
