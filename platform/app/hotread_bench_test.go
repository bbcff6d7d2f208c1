package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/database/sqlite"
)

// BenchmarkHotReads compares the API's hot reads, served as in production (the production
// HTTP server, a bearer JWT checked on every request, the per-caller rate limiter, the JSON
// access log, Prometheus, RBAC), with the simplest hand-written equivalent: a net/http handler
// that makes the same reads with prepared statements (pgx's pool on PostgreSQL, database/sql
// on SQLite) and writes JSON of about the same size. 32 clients with keep-alive drive each
// side over loopback, in alternating rounds of hotRound requests, so that both see the same
// machine. Both sides start fresh for every run, and the first round's p99 is reported on its
// own ("the first second").
//
// The seeded table holds 101,000 campaigns; GET reads ACTIVE, serving campaigns with four
// metrics totals rows each (the product also judges their delivery: impressions and spend).
//
//	CAMPAIGNS_TEST_POSTGRES_URL=... go test ./platform/app -run '^$' -bench HotReads -benchtime 20000x
//	go test ./platform/app -run '^$' -bench 'HotReads/sqlite' -benchtime 20000x
func BenchmarkHotReads(b *testing.B) {
	for _, target := range []string{"postgres", "sqlite"} {
		b.Run(target, func(b *testing.B) {
			env := hotSetup(b, target)
			deep := env.deep.Encode()
			cases := []struct {
				name string
				path func(i int) string
			}{
				{"get", func(i int) string { return "/api/v1/campaigns/" + env.hot[i%len(env.hot)].String() }},
				{"list-first", func(int) string { return "/api/v1/campaigns?limit=20" }},
				{"list-after-100k", func(int) string { return "/api/v1/campaigns?limit=20&cursor=" + deep }},
			}
			for _, tc := range cases {
				b.Run(tc.name, func(b *testing.B) { hotCompare(b, env, tc.path) })
			}
		})
	}
}

const (
	hotClients = 32
	hotRound   = 2000 // requests per side per round; the first round is the "first run"
	hotHotIDs  = 1000
)

type hotEnv struct {
	target dbtest.Target
	hot    []uuid.UUID // ACTIVE, serving, with totals
	deep   campaign.Cursor
}

var (
	hotMu   sync.Mutex
	hotEnvs = map[string]*hotEnv{}
)

// hotSetup seeds one database per target for the process (seeding takes a while).
func hotSetup(b *testing.B, name string) *hotEnv {
	hotMu.Lock()
	defer hotMu.Unlock()
	if env := hotEnvs[name]; env != nil {
		return env
	}
	ll := &longLived{TB: b}
	var target dbtest.Target
	if name == "postgres" {
		target = dbtest.PostgresTarget(ll) // skips without PostgreSQL
	} else {
		target = dbtest.SQLiteTarget(ll)
	}
	db := dbtest.Open(ll, target, app.Migrations()...)
	env := &hotEnv{target: target}
	if err := hotSeed(context.Background(), db, env); err != nil {
		b.Fatal(err)
	}
	hotEnvs[name] = env
	return env
}

type hotSeedTotals struct {
	bun.BaseModel `bun:"table:metrics_totals"`

	CampaignID  uuid.UUID `bun:"campaign_id"`
	Variant     string    `bun:"variant"`
	Channel     string    `bun:"channel"`
	Impressions int64     `bun:"impressions"`
	Clicks      int64     `bun:"clicks"`
	Conversions int64     `bun:"conversions"`
	RevenueE4   int64     `bun:"revenue_e4"`
	CostE4      int64     `bun:"cost_e4"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

const hotSettings = `{"targetAudience":[],"channels":["EMAIL"],"frequency":"ONCE","maxImpressions":null,"budgetLimit":null,"abTestSettings":null,"schedulingRules":[],"personalization":{"enabled":false,"rules":[]}}`

func hotSeed(ctx context.Context, db *bun.DB, env *hotEnv) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	author := uuid.MustParse(userA)
	const batch = 1000
	stride := seedRows / hotHotIDs
	for start := 0; start < seedRows; start += batch {
		rows := make([]benchCampaignRow, 0, batch)
		var totals []hotSeedTotals
		for g := start; g < min(start+batch, seedRows); g++ {
			at := now.Add(-time.Duration(g+1) * time.Second)
			r := benchCampaignRow{ID: uuid.New(), Name: "Seed " + strconv.Itoa(g), Description: "seeded",
				Status: "DRAFT", Type: "PROMOTION", TargetingRules: "[]", StartDate: now.Add(24 * time.Hour),
				BudgetAmount: decimal.NewFromInt(1000), BudgetCurrency: "EUR", CreatedBy: author,
				CreatedAt: at, UpdatedAt: at, Settings: hotSettings, Version: 1}
			if g%stride == 0 && len(env.hot) < hotHotIDs {
				r.Status, r.StartDate = "ACTIVE", now.Add(-24*time.Hour)
				env.hot = append(env.hot, r.ID)
				for _, v := range []string{"A", "B"} {
					for _, ch := range []string{"EMAIL", "SMS"} {
						totals = append(totals, hotSeedTotals{CampaignID: r.ID, Variant: v, Channel: ch,
							Impressions: 10_000, Clicks: 420, Conversions: 37, RevenueE4: 1_234_5600, CostE4: 98_7600, UpdatedAt: now})
					}
				}
			}
			rows = append(rows, r)
		}
		if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return fmt.Errorf("seed campaigns: %w", err)
		}
		if len(totals) > 0 {
			if _, err := db.NewInsert().Model(&totals).Exec(ctx); err != nil {
				return fmt.Errorf("seed totals: %w", err)
			}
		}
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		return err
	}
	var deep struct {
		ID        uuid.UUID `bun:"id"`
		CreatedAt time.Time `bun:"created_at"`
	}
	err := db.NewSelect().Table("campaigns").Column("id", "created_at").Where("deleted_at IS NULL").
		OrderExpr("created_at DESC, id DESC").Offset(100_000).Limit(1).Scan(ctx, &deep)
	if err != nil {
		return fmt.Errorf("deep cursor: %w", err)
	}
	env.deep = campaign.Cursor{Sort: campaign.SortCreatedAt, Desc: true,
		Value: deep.CreatedAt.UTC().Format(time.RFC3339Nano), ID: campaign.ID(deep.ID)}
	return nil
}

// hotSide is one server under test and its clients.
type hotSide struct {
	url     string
	handler http.Handler // what serves url, for BenchmarkRequestCPUGet
	clients []*http.Client
	tokens  []string // per client; none for the baseline
	lat     []time.Duration
	first   []time.Duration
	elapsed time.Duration
	bytes   int64
	n       int64
}

// round sends n requests from hotClients clients and records their latencies.
func (s *hotSide) round(b *testing.B, n int, next *atomic.Int64, path func(int) string) {
	lat := make([]time.Duration, n)
	var done atomic.Int64
	var bytes atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range hotClients {
		wg.Go(func() {
			for {
				k := done.Add(1) - 1
				if k >= int64(n) {
					return
				}
				i := int(next.Add(1))
				req, _ := http.NewRequest(http.MethodGet, s.url+path(i), nil)
				if s.tokens != nil {
					req.Header.Set("Authorization", "Bearer "+s.tokens[w])
				}
				t0 := time.Now()
				resp, err := s.clients[w].Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				nb, err := io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				lat[k] = time.Since(t0)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Errorf("GET %s: status %d, %v", path(i), resp.StatusCode, err)
					return
				}
				bytes.Add(nb)
			}
		})
	}
	wg.Wait()
	s.elapsed += time.Since(start)
	if s.first == nil {
		s.first = slices.Clone(lat)
	}
	s.lat = append(s.lat, lat...)
	s.bytes += bytes.Load()
	s.n += int64(n)
}

func (s *hotSide) rate() float64 { return float64(s.n) / s.elapsed.Seconds() }

func pct(d []time.Duration, p int) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[min(len(d)-1, len(d)*p/100)]
}

func newClients() []*http.Client {
	out := make([]*http.Client, hotClients)
	// One transport per side: each client keeps its own keep-alive connection.
	tr := &http.Transport{MaxIdleConns: 2 * hotClients, MaxIdleConnsPerHost: 2 * hotClients, IdleConnTimeout: time.Minute,
		DisableCompression: true}
	for i := range out {
		out[i] = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	return out
}

// hotCompare runs b.N requests on each side, interleaved, both started fresh.
func hotCompare(b *testing.B, env *hotEnv, path func(int) string) {
	b.StopTimer()
	product, closeProduct := startProduct(b, env.target)
	defer closeProduct()
	baseline, closeBaseline := startBaseline(b, env.target)
	defer closeBaseline()
	var next atomic.Int64
	var rounds []string // every round's rate and p99 per side, logged
	b.StartTimer()
	for left := b.N; left > 0; left -= hotRound {
		n := min(left, hotRound)
		pl, bl, pe, be := len(product.lat), len(baseline.lat), product.elapsed, baseline.elapsed
		product.round(b, n, &next, path)
		baseline.round(b, n, &next, path)
		if b.Failed() {
			return
		}
		pr, br := float64(n)/(product.elapsed-pe).Seconds(), float64(n)/(baseline.elapsed-be).Seconds()
		pp, bp := pct(product.lat[pl:], 99), pct(baseline.lat[bl:], 99)
		rounds = append(rounds, fmt.Sprintf("%d: %.2f (%.0f/%.0f), p99 %.2f (%.1f/%.1f ms)", len(rounds)+1, pr/br, pr, br,
			float64(pp)/float64(bp), float64(pp.Microseconds())/1000, float64(bp.Microseconds())/1000))
	}
	b.StopTimer()
	// One line: the testing package cuts a benchmark's log after a few lines.
	b.Logf("rounds of %d requests per side, api/base rate (req/s) and p99: %s", hotRound, strings.Join(rounds, "; "))
	b.ReportMetric(product.rate(), "api-req/s")
	b.ReportMetric(baseline.rate(), "base-req/s")
	b.ReportMetric(product.rate()/baseline.rate(), "ratio")
	for _, m := range []struct {
		side *hotSide
		name string
	}{{product, "api"}, {baseline, "base"}} {
		b.ReportMetric(float64(pct(m.side.lat, 50).Microseconds()), m.name+"-p50-µs")
		b.ReportMetric(float64(pct(m.side.lat, 99).Microseconds()), m.name+"-p99-µs")
		b.ReportMetric(float64(pct(m.side.first, 99).Microseconds()), m.name+"-first-p99-µs")
		b.ReportMetric(float64(m.side.bytes/m.side.n), m.name+"-B/resp")
	}
	b.ReportMetric(float64(pct(product.lat, 99))/float64(pct(baseline.lat, 99)), "p99-ratio")
	b.ReportMetric(float64(pct(product.first, 99))/float64(pct(baseline.first, 99)), "first-p99-ratio")
}

const hotSecret = "hot-reads-benchmark-secret-0123456789abcdef"

// startProduct starts the API as production configures it (configs/config.production.yaml):
// JWT auth, the rate limiter on, the JSON access log at info, the production HTTP server.
// The rate is raised so that the 32 callers are never refused: the limiter still runs on
// every request.
func startProduct(b *testing.B, target dbtest.Target) (*hotSide, func()) {
	cfg := apptest.Config(b, target)
	cfg.Auth.Mode = config.AuthJWT
	cfg.Auth.JWTSecret = hotSecret
	cfg.RateLimit.Enabled = true
	cfg.RateLimit.RequestsPerSecond, cfg.RateLimit.Burst = 1e6, 1e6
	cfg.Log.Level, cfg.Log.Format = "info", "json"
	logger := app.NewLogger(cfg.Log, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.NewAPI(ctx, cfg, logger, app.APIConfig{})
	if err != nil {
		b.Fatalf("start API: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, ln) }()
	side := &hotSide{url: "http://" + ln.Addr().String(), handler: a.Handler(), clients: newClients()}
	now := time.Now()
	for range hotClients {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": uuid.NewString(), "roles": []string{"viewer"},
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}).SignedString([]byte(hotSecret))
		if err != nil {
			b.Fatal(err)
		}
		side.tokens = append(side.tokens, tok)
	}
	return side, func() {
		stop()
		if err := <-done; err != nil {
			b.Errorf("serve: %v", err)
		}
		_ = a.Close()
	}
}

// hotStore is the baseline's data access: prepared statements, nothing else.
type hotStore interface {
	campaign(ctx context.Context, id uuid.UUID) (*hotCampaign, error)
	totals(ctx context.Context, id uuid.UUID) ([]hotTotals, error)
	page(ctx context.Context, after *campaign.Cursor, limit int) ([]hotCampaign, error)
	close()
}

type hotCampaign struct {
	ID                uuid.UUID       `json:"id"`
	Name              string          `json:"name"`
	Description       string          `json:"description"`
	Status            string          `json:"status"`
	ServingStatus     string          `json:"servingStatus"`
	Type              string          `json:"type"`
	TargetingRules    json.RawMessage `json:"targetingRules"`
	StartDate         time.Time       `json:"startDate"`
	EndDate           *time.Time      `json:"endDate"`
	Budget            hotMoney        `json:"budget"`
	CreatedBy         uuid.UUID       `json:"createdBy"`
	CreatedAt         time.Time       `json:"createdAt"`
	UpdatedAt         time.Time       `json:"updatedAt"`
	Settings          json.RawMessage `json:"settings"`
	Version           int64           `json:"version"`
	TargetingVerified bool            `json:"targetingVerified"`
	Metrics           *hotMetrics     `json:"metrics,omitempty"`
	deletedAt         *time.Time
	stopCode          string
	amount            decimal.Decimal
}

type hotMoney struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

type hotTotals struct {
	impressions, clicks, conversions, bounces, unsubscribes, revenueE4, costE4, reach int64
	updatedAt                                                                         time.Time
}

type hotMetrics struct {
	Impressions       int64      `json:"impressions"`
	Clicks            int64      `json:"clicks"`
	Conversions       int64      `json:"conversions"`
	Bounces           int64      `json:"bounces"`
	Unsubscribes      int64      `json:"unsubscribes"`
	Revenue           hotMoney   `json:"revenue"`
	Cost              hotMoney   `json:"cost"`
	CTR               *float64   `json:"ctr"`
	ConversionRate    *float64   `json:"conversionRate"`
	CostPerClick      *hotMoney  `json:"costPerClick"`
	CostPerConversion *hotMoney  `json:"costPerConversion"`
	ROAS              *float64   `json:"roas"`
	ROI               *float64   `json:"roi"`
	BudgetSpent       *hotMoney  `json:"budgetSpent"`
	BudgetRemaining   *hotMoney  `json:"budgetRemaining"`
	BudgetSpentShare  *float64   `json:"budgetSpentPercent"`
	Reach             int64      `json:"reach"`
	Frequency         *float64   `json:"frequency"`
	LastUpdated       *time.Time `json:"lastUpdated"`
}

type hotList struct {
	Campaigns  []hotCampaign `json:"campaigns"`
	NextCursor *string       `json:"nextCursor"`
	Limit      int           `json:"limit"`
}

// The baseline's SQL: the statements the API sends, with placeholders.
const (
	hotColumns = `id, name, description, status, type, targeting_rules, start_date, end_date, budget_amount,
budget_currency, created_by, created_at, updated_at, settings, version, deleted_at, stop_code, targeting_verified`
	hotGetSQL    = `SELECT ` + hotColumns + ` FROM campaigns WHERE (id = $1) AND (deleted_at IS NULL)`
	hotTotalsSQL = `SELECT campaign_id, variant, channel, personalization, impressions, clicks, conversions, bounces,
unsubscribes, revenue_e4, cost_e4, reach, revenue_sq_hi, revenue_sq_lo, revenue_sq_known, updated_at
FROM metrics_totals WHERE (campaign_id = $1) ORDER BY variant ASC, channel ASC, personalization ASC`
	hotFirstSQL = `SELECT ` + hotColumns + ` FROM campaigns WHERE (deleted_at IS NULL)
ORDER BY created_at DESC, id DESC LIMIT $1`
	hotAfterSQL = `SELECT ` + hotColumns + ` FROM campaigns WHERE (deleted_at IS NULL) AND ((created_at, id) < ($1, $2))
ORDER BY created_at DESC, id DESC LIMIT $3`
)

type scanner interface{ Scan(dest ...any) error }

// scanEach scans every row of rows with scan (pgx's and database/sql's rows alike).
func scanEach[T any](rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanHotCampaign(r scanner) (hotCampaign, error) {
	var c hotCampaign
	var rules, settings []byte
	err := r.Scan(&c.ID, &c.Name, &c.Description, &c.Status, &c.Type, &rules, &c.StartDate, &c.EndDate,
		&c.amount, &c.Budget.Currency, &c.CreatedBy, &c.CreatedAt, &c.UpdatedAt, &settings, &c.Version,
		&c.deletedAt, &c.stopCode, &c.TargetingVerified)
	c.TargetingRules, c.Settings = rules, settings
	c.Budget.Amount = c.amount.StringFixed(2)
	c.Budget.Currency = strings.TrimSpace(c.Budget.Currency)
	c.ServingStatus = "NONE"
	if c.Status == "ACTIVE" {
		c.ServingStatus = "SERVING"
	}
	return c, err
}

func scanHotTotals(r scanner) (hotTotals, error) {
	var t hotTotals
	var cid uuid.UUID
	var variant, channel, pers string
	var hi, lo int64
	var known bool
	err := r.Scan(&cid, &variant, &channel, &pers, &t.impressions, &t.clicks, &t.conversions, &t.bounces,
		&t.unsubscribes, &t.revenueE4, &t.costE4, &t.reach, &hi, &lo, &known, &t.updatedAt)
	return t, err
}

// pgxStore: pgx's pool, which prepares and caches each statement on each connection.
type pgxStore struct{ pool *pgxpool.Pool }

func (s pgxStore) campaign(ctx context.Context, id uuid.UUID) (*hotCampaign, error) {
	c, err := scanHotCampaign(s.pool.QueryRow(ctx, hotGetSQL, id))
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func (s pgxStore) totals(ctx context.Context, id uuid.UUID) ([]hotTotals, error) {
	rows, err := s.pool.Query(ctx, hotTotalsSQL, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanEach(rows, scanHotTotals)
}

func (s pgxStore) page(ctx context.Context, after *campaign.Cursor, limit int) ([]hotCampaign, error) {
	var err error
	var rows interface {
		Next() bool
		Scan(...any) error
		Err() error
		Close()
	}
	if after == nil {
		rows, err = s.pool.Query(ctx, hotFirstSQL, limit+1)
	} else {
		at, _ := time.Parse(time.RFC3339Nano, after.Value)
		rows, err = s.pool.Query(ctx, hotAfterSQL, at, uuid.UUID(after.ID), limit+1)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanEach(rows, scanHotCampaign)
}

func (s pgxStore) close() { s.pool.Close() }

// sqlStore: database/sql over SQLite with prepared statements.
type sqlStore struct {
	db                       *sql.DB
	get, tot, first, afterSt *sql.Stmt
}

func sqliteSQL(q string) string {
	for i := 3; i >= 1; i-- {
		q = strings.ReplaceAll(q, "$"+strconv.Itoa(i), "?")
	}
	return q
}

func (s *sqlStore) campaign(ctx context.Context, id uuid.UUID) (*hotCampaign, error) {
	c, err := scanHotCampaign(s.get.QueryRowContext(ctx, id.String()))
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func (s *sqlStore) totals(ctx context.Context, id uuid.UUID) ([]hotTotals, error) {
	rows, err := s.tot.QueryContext(ctx, id.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanEach(rows, scanHotTotals)
}

func (s *sqlStore) page(ctx context.Context, after *campaign.Cursor, limit int) ([]hotCampaign, error) {
	var rows *sql.Rows
	var err error
	if after == nil {
		rows, err = s.first.QueryContext(ctx, limit+1)
	} else {
		at, _ := time.Parse(time.RFC3339Nano, after.Value)
		rows, err = s.afterSt.QueryContext(ctx, at.UTC().Format("2006-01-02 15:04:05.999999-07:00"), uuid.UUID(after.ID).String(), limit+1)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanEach(rows, scanHotCampaign)
}

func (s *sqlStore) close() { _ = s.db.Close() }

func openHotStore(ctx context.Context, target dbtest.Target) (hotStore, error) {
	if target.Name == "postgres" {
		pc, err := pgxpool.ParseConfig(target.URL)
		if err != nil {
			return nil, err
		}
		pc.MaxConns = int32(target.Pool.MaxOpenConns)
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return nil, err
		}
		return pgxStore{pool}, nil
	}
	db, err := sql.Open("sqlite", sqlite.DSN(target.Path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(target.Pool.MaxOpenConns)
	db.SetMaxIdleConns(target.Pool.MaxOpenConns)
	s := &sqlStore{db: db}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{{&s.get, hotGetSQL}, {&s.tot, hotTotalsSQL}, {&s.first, hotFirstSQL}, {&s.afterSt, hotAfterSQL}} {
		if *p.st, err = db.PrepareContext(ctx, sqliteSQL(p.q)); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return s, nil
}

// startBaseline serves the same two routes with net/http and hand-written SQL.
func startBaseline(b *testing.B, target dbtest.Target) (*hotSide, func()) {
	ctx := context.Background()
	store, err := openHotStore(ctx, target)
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, v any, etag string) {
		body, err := json.Marshal(v)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		_, _ = w.Write(body)
	}
	mux.HandleFunc("GET /api/v1/campaigns/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		c, err := store.campaign(r.Context(), id)
		if errors.Is(err, sql.ErrNoRows) || (err != nil && strings.Contains(err.Error(), "no rows")) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ts, err := store.totals(r.Context(), id)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		c.Metrics = hotKPIs(c, ts)
		writeJSON(w, c, `"`+strconv.FormatInt(c.Version, 10)+`"`)
	})
	mux.HandleFunc("GET /api/v1/campaigns", func(w http.ResponseWriter, r *http.Request) {
		limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
		if err != nil || limit < 1 || limit > 100 {
			limit = 20
		}
		var after *campaign.Cursor
		if s := r.URL.Query().Get("cursor"); s != "" {
			if after, err = campaign.DecodeCursor(s); err != nil {
				http.Error(w, "bad cursor", http.StatusBadRequest)
				return
			}
		}
		cs, err := store.page(r.Context(), after, limit)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := hotList{Campaigns: cs, Limit: limit}
		if len(cs) > limit {
			last := cs[limit-1]
			next := campaign.Cursor{Sort: campaign.SortCreatedAt, Desc: true,
				Value: last.CreatedAt.UTC().Format(time.RFC3339Nano), ID: campaign.ID(last.ID)}.Encode()
			out.Campaigns, out.NextCursor = cs[:limit], &next
		}
		writeJSON(w, out, "")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &hotSide{url: "http://" + ln.Addr().String(), handler: mux, clients: newClients()}, func() {
		_ = srv.Close()
		store.close()
	}
}

func hotKPIs(c *hotCampaign, ts []hotTotals) *hotMetrics {
	var m hotMetrics
	var revenue, cost int64
	for _, t := range ts {
		m.Impressions += t.impressions
		m.Clicks += t.clicks
		m.Conversions += t.conversions
		m.Bounces += t.bounces
		m.Unsubscribes += t.unsubscribes
		m.Reach += t.reach
		revenue += t.revenueE4
		cost += t.costE4
		if m.LastUpdated == nil || t.updatedAt.After(*m.LastUpdated) {
			u := t.updatedAt
			m.LastUpdated = &u
		}
	}
	money := func(e4 int64) hotMoney {
		return hotMoney{Amount: decimal.New(e4, -4).StringFixed(2), Currency: c.Budget.Currency}
	}
	rate := func(num, den float64) *float64 {
		if den == 0 {
			return nil
		}
		v := float64(int64(num/den*10000)) / 100
		return &v
	}
	m.Revenue, m.Cost = money(revenue), money(cost)
	m.CTR = rate(float64(m.Clicks), float64(m.Impressions))
	m.ConversionRate = rate(float64(m.Conversions), float64(m.Clicks))
	if m.Clicks > 0 {
		v := money(cost / m.Clicks)
		m.CostPerClick = &v
	}
	if m.Conversions > 0 {
		v := money(cost / m.Conversions)
		m.CostPerConversion = &v
	}
	m.ROAS = rate(float64(revenue), float64(cost)*100)
	m.ROI = rate(float64(revenue-cost), float64(cost))
	spent := money(cost)
	remaining := money(c.amount.Shift(4).IntPart() - cost)
	m.BudgetSpent, m.BudgetRemaining = &spent, &remaining
	m.BudgetSpentShare = rate(float64(cost), float64(c.amount.Shift(4).IntPart()))
	return &m
}
