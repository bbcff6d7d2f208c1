// Package app wires the capabilities into the two binaries: the API and the worker. It is the
// only package (with cmd/) that imports every capability.
package app

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
	"github.com/engine-rules-sp/campaigns/metrics"
	metricsstore "github.com/engine-rules-sp/campaigns/metrics/bunstore"
	metricsapi "github.com/engine-rules-sp/campaigns/metrics/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/apidocs"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/console"
	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/datadir"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/observability"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
	"github.com/engine-rules-sp/campaigns/targeting"
)

//go:embed openapi.yaml
var openAPISpec []byte

// OpenAPISpec is the OpenAPI 3 document of the whole API, as served at /openapi.yaml.
func OpenAPISpec() []byte { return openAPISpec }

// Migrations lists every capability's schema, in the order they are applied.
func Migrations() []migrate.Set {
	return append(bunstore.Schema(), metricsstore.Migrations(), idempotency.Migrations())
}

// NewLogger returns the JSON (or text) slog logger the configuration asks for.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.Format == "text" {
		return slog.New(httpx.LogHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(httpx.LogHandler(slog.NewJSONHandler(w, opts)))
}

// Process is the binary a set of Components serves.
type Process string

// The two binaries.
const (
	ProcessAPI    Process = "api"
	ProcessWorker Process = "worker"
)

// Components are the capabilities both binaries share, built once by Build from the
// configuration: the API mounts its HTTP routes on top of them, the worker runs their
// background work. Several can live in one process: nothing is global.
type Components struct {
	Config *config.Config
	Logger *slog.Logger
	NATS   *natsx.Conn
	DB     *bun.DB
	// Observability is the process's Prometheus registry and instruments (GET /metrics).
	Observability *observability.Metrics

	Relay       *outbox.Relay
	Campaigns   *campaign.Service
	Idempotency *idempotency.Store
	Metrics     *metricsstore.Store
	Aggregator  *metrics.Aggregator
	Automation  *automation.Automation
	// Rules is the Rules Engine client; nil when none is configured (targeting checks off).
	Rules *targeting.Client

	// changes reports the campaigns the service changes to the caches of them.
	changes *campaignChanges
}

// BuildConfig tunes Build. Zero fields take the defaults noted.
type BuildConfig struct {
	// Process is the binary the components serve (ProcessAPI). It names the process to NATS
	// and says what to do when another process holds the data dir.
	Process Process
	// Observability receives the components' measurements (default: a new registry named
	// after Process). The binaries build it first: their authenticators report to it, and
	// they are checked before anything is opened.
	Observability *observability.Metrics
	// Now replaces the wall clock of the campaign service and the idempotency keys, for tests
	// (default: time.Now).
	Now func() time.Time
}

// Build connects to NATS, opens the database (migrating it when database.auto_migrate says
// so) and builds every capability over them. Close releases what it opened.
func Build(ctx context.Context, cfg *config.Config, logger *slog.Logger, bc BuildConfig) (*Components, error) {
	if bc.Process == "" {
		bc.Process = ProcessAPI
	}
	if bc.Observability == nil {
		bc.Observability = newObservability(string(bc.Process), logger)
	}
	if bc.Now == nil {
		bc.Now = time.Now
	}
	thresholds, err := approvalThresholds(cfg.Approval)
	if err != nil {
		return nil, err
	}
	// NATS first: the embedded server holds the data dir, and a process refused it must not
	// touch the database either.
	nc, err := natsx.Connect(ctx, cfg.NATS, cfg.DataDir, "campaigns-"+string(bc.Process), logger)
	if err != nil {
		return nil, explainDataDir(err, dataDirAdvice(bc.Process))
	}
	db, err := database.Open(ctx, cfg.Database)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if cfg.Database.AutoMigrate {
		if err := migrate.Up(ctx, db, Migrations()...); err != nil {
			nc.Close()
			_ = db.Close()
			return nil, err
		}
	}
	obs := bc.Observability
	watchDependencies(obs, db, nc)
	relay := newRelay(cfg, db, nc, logger, obs)
	rules := newRulesClient(cfg.RulesEngine, logger, obs)
	store := metricsstore.New(db)
	changes := &campaignChanges{}
	svc := newCampaigns(cfg, db, relay, obs, rules, store, changes, bc.Now, thresholds)
	c := &Components{
		Config: cfg, Logger: logger, NATS: nc, DB: db, Observability: obs,
		Relay: relay, Campaigns: svc, Metrics: store, Rules: rules, changes: changes,
		Idempotency: idempotency.New(db, idempotency.Config{
			TTL: cfg.Idempotency.TTL, StaleAfter: 2 * cfg.HTTP.RequestTimeout, Now: bc.Now, Logger: logger,
		}),
		Aggregator: newAggregator(cfg, nc, store, svc, logger, obs),
		Automation: newAutomation(cfg.Automation, svc, store, logger),
	}
	if bc.Process == ProcessWorker || cfg.Worker.Embedded {
		watchBackground(obs, db, c.Aggregator)
	}
	return c, nil
}

// dataDirAdvice is what to do when another process holds the data dir.
func dataDirAdvice(p Process) string {
	if p == ProcessWorker {
		return "an API started with worker.embedded: true (the default) already runs " +
			"the worker: stop this one. To run the worker as a process of its own, set worker.embedded: false " +
			"and nats.embedded_port on the API and point this worker's nats.url at that port, or run both on " +
			"an external NATS (nats.url)"
	}
	return "stop the process that holds it (another API, or a campaigns-worker " +
		"on the same data dir), or give this API a data_dir of its own"
}

// Close releases NATS and the database.
func (c *Components) Close() error {
	c.NATS.Close()
	return c.DB.Close()
}

// RunBackground runs the background work (event relay, tracking aggregation, lifecycle
// automation, idempotency-key purge) until ctx is done. Then it publishes the events still in
// the outbox, for up to http.shutdown_timeout, and gives the relay's lease up.
func (c *Components) RunBackground(ctx context.Context) {
	drain, cancel := afterDone(ctx, c.Config.HTTP.ShutdownTimeout)
	defer cancel()
	c.runBackground(ctx, drain)
}

// runBackground runs the worker's loops until ctx is done. Then, under drainCtx, the relay
// publishes what is committed (the last requests' and transitions' events would otherwise
// wait for the next start), and gives its lease up so that another worker takes over at once.
func (c *Components) runBackground(ctx, drainCtx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.Relay.Run(ctx) })
	wg.Go(func() { c.Aggregator.Run(ctx) })
	wg.Go(func() { c.Automation.Run(ctx, c.Config.Automation.Interval, c.Idempotency.Purge) })
	wg.Wait()
	n, err := c.Relay.Drain(drainCtx)
	if err != nil {
		c.Logger.Warn("outbox relay: shutdown came before every event was published; the rest go at the next start",
			slog.Int("published", n), slog.Any("error", err))
	} else if n > 0 {
		c.Logger.Info("outbox relay: published the outbox before stopping", slog.Int("published", n))
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	c.Relay.Release(rctx)
}

// API is a fully wired API instance: the shared components and the HTTP routes over them.
type API struct {
	*Components
	Echo *echo.Echo
}

// APIConfig tunes NewAPI. Zero fields take the defaults noted.
type APIConfig struct {
	// Now replaces the wall clock everywhere (campaign service, idempotency keys, rate
	// limiter, serving decisions), for tests (default: time.Now).
	Now func() time.Time
}

// NewAPI builds the components (see Build) and mounts every capability on a new Echo
// instance. Close releases what it opened.
func NewAPI(ctx context.Context, cfg *config.Config, logger *slog.Logger, ac APIConfig) (*API, error) {
	if ac.Now == nil {
		ac.Now = time.Now
	}
	// Security first: a configuration that must not serve refuses before opening anything.
	if err := auth.CheckExposure(cfg.Auth, cfg.HTTP.Host); err != nil {
		return nil, err
	}
	obs := newObservability(string(ProcessAPI), logger)
	policy := RoutePolicy(cfg)
	authn, err := newAuthenticator(cfg, policy, obs, logger)
	if err != nil {
		return nil, err
	}
	var e *echo.Echo
	ecfg, err := echoConfig(cfg, obs, logger, authn, policy, func() []*echo.Route { return e.Routes() }, ac.Now)
	if err != nil {
		return nil, err
	}
	c, err := Build(ctx, cfg, logger, BuildConfig{Process: ProcessAPI, Observability: obs, Now: ac.Now})
	if err != nil {
		return nil, err
	}
	warmPool(ctx, cfg.Database, c.DB, logger)
	e = httpx.NewEcho(ecfg)
	e.Use(skipIdempotency(c.Idempotency.Middleware(), http.MethodPost, "/api/v1"+campaignapi.ImportPath))
	httpx.RegisterHealth(e, logger, httpx.Check{Name: "database", Fn: c.DB.PingContext},
		httpx.Check{Name: "nats", Fn: c.NATS.Ready})
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openAPISpec)
	}, httpx.Query())
	apidocs.Register(e, httpx.Query())
	mountMetrics(e, obs)
	if err := console.Register(e); err != nil {
		_ = c.Close()
		return nil, err
	}

	v1 := e.Group("/api/v1")
	ensureTrackingStream(ctx, cfg, c.NATS, logger)
	mh := metricsapi.NewHandler(c.Campaigns, c.Metrics, c.NATS.JS, metricsapi.HandlerConfig{
		Limits: metrics.Limits{MaxAmount: cfg.Metrics.MaxEventAmount}, Partitions: cfg.Metrics.Partitions,
		Logger: logger, Ingested: obs.Ingested, Updater: c.Campaigns, TargetTTL: trackTargetTTL(cfg),
	})
	c.changes.listen(mh.ForgetCampaign, mh.ForgetCampaigns)
	c.changes.watchEvents(c.NATS.NC, c.Relay.Subject(">"), logger)
	mh.Register(v1)
	campaignapi.NewHandler(c.Campaigns, campaignapi.HandlerConfig{Logger: logger, Metrics: mh}).Register(v1)
	campaignapi.NewIOHandler(c.Campaigns, campaignapi.IOConfig{
		Logger: logger, Totals: c.Metrics, MaxLineBytes: int(cfg.HTTP.BodyLimit), MaxLines: cfg.HTTP.ImportMaxLines,
	}).Register(v1)
	var evalRules targeting.RuleEvaluator // stays a nil interface without a Rules Engine
	if c.Rules != nil {
		evalRules = c.Rules
	}
	eval := targeting.NewEvaluator(c.Campaigns, targeting.EvaluatorConfig{
		Rules: evalRules, Concurrency: cfg.RulesEngine.Concurrency, Now: ac.Now,
		Exposures: exposureSource{c.Metrics},
	})
	targeting.NewHandler(eval, targeting.HandlerConfig{Logger: logger}).Register(v1)

	if err := policy.Verify(e.Routes()); err != nil {
		_ = c.Close()
		return nil, err
	}
	return &API{Components: c, Echo: e}, nil
}

// warmPool opens the pool's idle connections before the API serves, so that the first burst
// of requests does not open them one request at a time (its p99 would show it). A failure only
// costs that: it is logged.
func warmPool(ctx context.Context, cfg config.Database, db *bun.DB, logger *slog.Logger) {
	n := cfg.MaxIdleConns
	if n <= 0 {
		n = 2 // database/sql's idle size
	}
	if cfg.MaxOpenConns > 0 {
		n = min(n, cfg.MaxOpenConns)
	}
	if err := database.Warm(ctx, db, n); err != nil {
		logger.Warn("could not open the database pool's connections ahead of the first requests", slog.Any("error", err))
	}
}

// newCampaigns is the campaign service: its events wake the relay and are counted, its
// activations are checked against the Rules Engine when there is one, and its serving status
// reads delivery (impressions, spend) from the metrics totals.
func newCampaigns(cfg *config.Config, db *bun.DB, relay *outbox.Relay, obs *observability.Metrics, rules *targeting.Client,
	delivery campaign.DeliveryTotals, changes *campaignChanges, now func() time.Time,
	thresholds campaign.ApprovalThresholds) *campaign.Service {
	sc := campaign.ServiceConfig{Now: now, AfterCommit: relay.Notify, ObserveEvent: obs.CampaignEvent, Changed: changes.changed,
		AllowUntargeted: cfg.Activation.AllowUntargeted, Delivery: delivery, ApprovalThresholds: thresholds}
	if rules != nil {
		sc.ActivationChecks = []campaign.ActivationCheck{targeting.NewActivationCheck(rules,
			targeting.CheckConfig{TargetingCategories: cfg.RulesEngine.TargetingCategories})}
	}
	return campaign.NewService(bunstore.New(db), sc)
}

// approvalThresholds parses approval.thresholds with the campaign's money rules; a bad one is
// a *config.Error naming its key (the binaries exit 2).
func approvalThresholds(cfg config.Approval) (campaign.ApprovalThresholds, error) {
	t, err := campaign.NewApprovalThresholds(cfg.Thresholds)
	var terr *campaign.ThresholdError
	if errors.As(err, &terr) {
		return nil, &config.Error{Key: "approval.thresholds." + terr.Currency, Reason: terr.Reason}
	}
	return t, err
}

// exposureSource gives the evaluator the exposures the metrics pipeline counts (targeting and
// metrics never import each other).
type exposureSource struct{ store *metricsstore.Store }

func (x exposureSource) Exposures(ctx context.Context, customerID string, ids []campaign.ID) (map[campaign.ID]targeting.Exposure, error) {
	uids := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		uids[i] = uuid.UUID(id)
	}
	got, err := x.store.Exposures(ctx, customerID, uids)
	if err != nil {
		return nil, err
	}
	out := make(map[campaign.ID]targeting.Exposure, len(got))
	for id, e := range got {
		out[campaign.ID(id)] = targeting.Exposure{Impressions: e.Impressions, Last: e.Last}
	}
	return out, nil
}

// newRulesClient returns the Rules Engine client, or nil when none is configured: then the
// targeting checks are off (said once, here) and campaigns show targetingVerified: false.
func newRulesClient(cfg config.RulesEngine, logger *slog.Logger, m targeting.Metrics) *targeting.Client {
	if cfg.URL == "" {
		logger.Info("no Rules Engine configured (rules_engine.url empty or rules_engine.enabled false): targeting checks are off")
		return nil
	}
	return targeting.NewClient(targeting.Config{
		URL: cfg.URL, EvaluationURL: cfg.EvaluationURL, Token: cfg.Token, Timeout: cfg.Timeout,
		MaxRetries: cfg.MaxRetries, CacheTTL: cfg.CacheTTL, BreakerFailures: uint32(cfg.BreakerFailures),
		BreakerOpenFor: cfg.BreakerOpenFor, Logger: logger, Metrics: m,
	})
}

func trackingStream(cfg *config.Config) metrics.StreamConfig {
	return metrics.StreamConfig{Name: cfg.Metrics.Stream, MaxAge: cfg.Metrics.MaxAge, DuplicateWindow: cfg.Metrics.DuplicateWindow,
		Partitions: cfg.Metrics.Partitions}
}

// ensureTrackingStream creates the tracking stream at start. If NATS is not reachable yet,
// /track answers 503 until the worker's aggregator, which retries, has created it.
func ensureTrackingStream(ctx context.Context, cfg *config.Config, nc *natsx.Conn, logger *slog.Logger) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := metrics.EnsureStream(sctx, nc.JS, trackingStream(cfg)); err != nil {
		logger.Warn("tracking stream not ready yet", slog.Any("error", err))
	}
}

func newAggregator(cfg *config.Config, nc *natsx.Conn, store metrics.Store, svc *campaign.Service, logger *slog.Logger, m metrics.AggregatorMetrics) *metrics.Aggregator {
	return metrics.NewAggregator(nc.JS, store, svc, metrics.AggregatorConfig{
		Stream: trackingStream(cfg), BatchSize: cfg.Metrics.BatchSize, MaxWait: cfg.Metrics.MaxWait,
		LeaseTTL: cfg.Metrics.LeaseTTL, Limits: metrics.Limits{MaxAmount: cfg.Metrics.MaxEventAmount},
		Logger: logger, Metrics: m,
	})
}

func newRelay(cfg *config.Config, db *bun.DB, nc *natsx.Conn, logger *slog.Logger, m outbox.RelayMetrics) *outbox.Relay {
	maxAge := cfg.Events.MaxAge
	if maxAge == 0 {
		maxAge = -1 // events.max_age 0 keeps events forever
	}
	return outbox.NewRelay(db, nc.JS, outbox.RelayConfig{
		Stream: cfg.Events.Stream, Source: cfg.Events.Source,
		DuplicateWindow: cfg.Events.DuplicateWindow, MaxAge: maxAge,
		BatchSize: cfg.Events.BatchSize, PollInterval: cfg.Events.PollInterval,
		Logger: logger, Metrics: m,
	})
}

func newAutomation(cfg config.Automation, svc *campaign.Service, budget automation.BudgetSource, logger *slog.Logger) *automation.Automation {
	return automation.New(svc, automation.Config{
		PauseAt: decimal.NewFromFloat(cfg.PauseAt), CompleteAt: decimal.NewFromFloat(cfg.CompleteAt),
		BatchSize: cfg.BatchSize, Budget: budget, Logger: logger,
	})
}

// afterDone returns a context that lives on for grace once ctx is done, so that the steps of a
// shutdown (the HTTP server's grace, then the outbox drain) share one budget.
func afterDone(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return out, func() { stop(); cancel() }
}

// explainDataDir adds what to do to a refusal of the data dir (another process holds it).
func explainDataDir(err error, advice string) error {
	var inUse *datadir.InUseError
	if errors.As(err, &inUse) {
		return fmt.Errorf("%w: the embedded NATS server stores its JetStream data there and belongs to one process; %s", err, advice)
	}
	return err
}

// Handler is the API's HTTP handler.
func (a *API) Handler() http.Handler { return a.Echo }

// RunAPI serves the API until ctx is done, then shuts down gracefully.
func RunAPI(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	logger.Info("starting campaigns API", slog.Any("config", *cfg))
	a, err := NewAPI(ctx, cfg, logger, APIConfig{})
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.HTTP.Addr())
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTP.Addr(), err)
	}
	var wg sync.WaitGroup
	bgCtx, stopBackground := context.WithCancel(ctx)
	drain, cancelDrain := afterDone(ctx, cfg.HTTP.ShutdownTimeout)
	defer cancelDrain()
	if cfg.Worker.Embedded {
		logger.Info("running the worker in the API process (worker.embedded)")
		// The background stops after the HTTP server: the events of the last requests are
		// committed by then, and the drain publishes them.
		wg.Go(func() { a.runBackground(bgCtx, drain) })
	}
	err = a.Serve(ctx, ln)
	stopBackground()
	wg.Wait()
	return err
}

// Serve serves the API on ln with the configured server options until ctx is done, then
// shuts down gracefully.
func (a *API) Serve(ctx context.Context, ln net.Listener) error {
	return httpx.Serve(ctx, ln, a.Handler(), serverConfig(a.Config.HTTP, a.Logger))
}

// newWorkerEcho is the worker's own HTTP listener: /health, /ready and /metrics, with the same
// middleware as the API's (/metrics needs the monitor or admin role when auth.public_metrics is
// false).
func newWorkerEcho(cfg *config.Config, obs *observability.Metrics, logger *slog.Logger) (*echo.Echo, error) {
	wcfg := *cfg
	if cfg.Auth.PublicMetrics {
		// Every route of the worker is public: it needs no credentials (nor the keys to check them).
		wcfg.Auth = config.Auth{Mode: config.AuthNone, RolesClaim: cfg.Auth.RolesClaim}
	}
	wpolicy := WorkerRoutePolicy(cfg)
	authn, err := newAuthenticator(&wcfg, wpolicy, obs, logger)
	if err != nil {
		return nil, err
	}
	var e *echo.Echo
	ecfg, err := echoConfig(cfg, obs, logger, authn, wpolicy, func() []*echo.Route { return e.Routes() }, nil)
	if err != nil {
		return nil, err
	}
	e = httpx.NewEcho(ecfg)
	return e, nil
}

// RunWorker runs the background worker until ctx is done. It serves /health, /ready and
// /metrics on its own listener. It migrates the database when database.auto_migrate says so,
// else waits for the schema (not ready meanwhile). With the embedded NATS server it holds the
// data dir, and refuses to start when another process (an API running the worker) holds it.
func RunWorker(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	logger.Info("starting campaigns worker", slog.Any("config", *cfg))
	obs := newObservability(string(ProcessWorker), logger)
	// Its listener's configuration first: one that cannot serve refuses before opening anything.
	e, err := newWorkerEcho(cfg, obs, logger)
	if err != nil {
		return err
	}
	c, err := Build(ctx, cfg, logger, BuildConfig{Process: ProcessWorker, Observability: obs})
	if err != nil {
		return err
	}
	defer c.Close()
	var schemaReady atomic.Bool
	schemaReady.Store(cfg.Database.AutoMigrate) // Build has migrated
	httpx.RegisterHealth(e, logger, httpx.Check{Name: "database", Fn: c.DB.PingContext},
		httpx.Check{Name: "nats", Fn: c.NATS.Ready},
		httpx.Check{Name: "schema", Fn: func(context.Context) error {
			if !schemaReady.Load() {
				return migrate.ErrPending
			}
			return nil
		}})
	mountMetrics(e, obs)
	ln, err := net.Listen("tcp", cfg.Worker.Addr())
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Worker.Addr(), err)
	}
	var wg sync.WaitGroup
	bgCtx, stopBackground := context.WithCancel(ctx)
	drain, cancelDrain := afterDone(ctx, cfg.HTTP.ShutdownTimeout)
	defer cancelDrain()
	wg.Go(func() {
		if !schemaReady.Load() {
			if err := awaitSchema(bgCtx, c.DB, logger, schemaPollInterval); err != nil {
				return // stopped while waiting
			}
			schemaReady.Store(true)
		}
		c.runBackground(bgCtx, drain)
	})
	err = httpx.Serve(ctx, ln, e, serverConfig(cfg.HTTP, logger))
	stopBackground()
	wg.Wait()
	return err
}

// schemaPollInterval is how often a worker that does not migrate looks for the schema.
const schemaPollInterval = 2 * time.Second

// awaitSchema returns once every migration is applied, for a worker that does not migrate
// itself: its loops would otherwise fail on missing tables at every tick. It says why it
// waits once (and again if the reason changes), and returns ctx's error if stopped first.
func awaitSchema(ctx context.Context, db *bun.DB, logger *slog.Logger, every time.Duration) error {
	var last string
	for {
		err := migrate.Current(ctx, db, Migrations()...)
		if err == nil {
			if last != "" {
				logger.Info("database schema is up to date: starting the worker")
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err.Error() != last {
			last = err.Error()
			logger.Warn("waiting for the database schema: run `campaigns-api migrate up` "+
				"(or set database.auto_migrate: true)", slog.Any("reason", err))
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func serverConfig(h config.HTTP, logger *slog.Logger) httpx.ServerConfig {
	return httpx.ServerConfig{
		ReadTimeout: h.ReadTimeout, WriteTimeout: h.WriteTimeout,
		IdleTimeout: h.IdleTimeout, ShutdownTimeout: h.ShutdownTimeout, HeaderLimit: h.HeaderLimit,
		Logger: logger,
	}
}

// Migrate runs a migration command ("up", "down" or "status") and reports to out.
func Migrate(ctx context.Context, cfg *config.Config, command string, out io.Writer) error {
	if command != "up" && command != "down" && command != "status" {
		return ErrUsage
	}
	db, err := database.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	switch command {
	case "up":
		if err := migrate.Up(ctx, db, Migrations()...); err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, "migrations applied")
		return err
	case "down":
		set, err := migrate.Down(ctx, db, Migrations()...)
		if err != nil {
			return err
		}
		if set == "" {
			_, err = fmt.Fprintln(out, "nothing to roll back")
		} else {
			_, err = fmt.Fprintf(out, "rolled back the last migration group of %s\n", set)
		}
		return err
	case "status":
		sts, err := migrate.List(ctx, db, Migrations()...)
		if err != nil {
			return err
		}
		for _, st := range sts {
			for _, m := range st.Migrations {
				state := "pending"
				if m.Applied {
					state = "applied " + m.AppliedAt.UTC().Format("2006-01-02T15:04:05Z")
				}
				if _, err := fmt.Fprintf(out, "%-12s %-40s %s\n", st.Set, m.Name, state); err != nil {
					return err
				}
			}
		}
		return nil
	default:
		return ErrUsage
	}
}

// ErrUsage is a command line the binaries do not understand.
var ErrUsage = errors.New("usage: campaigns-api [--config FILE] [migrate up|down|status | healthcheck]")
