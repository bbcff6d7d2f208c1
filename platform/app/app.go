// Package app is the two binaries, the API and the worker, over the campaigns client
// (platform/campaigns): it maps the YAML configuration to the client's Config, opens the
// database and NATS (the embedded server when no URL is set), adds authentication, rate limits,
// observability, the docs and the console, and runs the client.
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
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
	"github.com/engine-rules-sp/campaigns/metrics"
	metricsstore "github.com/engine-rules-sp/campaigns/metrics/bunstore"
	"github.com/engine-rules-sp/campaigns/platform/apidocs"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/campaigns"
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
func Migrations() []migrate.Set { return campaigns.Migrations() }

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

// Components are the service both binaries share, built once by Build from the
// configuration: the campaigns client over the database and NATS. The API mounts its routes,
// the worker runs its background work. Several can live in one process: nothing is global.
type Components struct {
	Config *config.Config
	Logger *slog.Logger
	NATS   *natsx.Conn
	DB     *bun.DB
	// Observability is the process's Prometheus registry and instruments (GET /metrics).
	Observability *observability.Metrics
	// Client is the service, wired as the configuration says.
	Client *campaigns.Client

	// The client's parts, for the tests and tools that drive one directly.
	Relay       *outbox.Relay
	Campaigns   *campaign.Service
	Idempotency *idempotency.Store
	Metrics     *metricsstore.Store
	Aggregator  *metrics.Aggregator
	Automation  *automation.Automation
	// Rules is the Rules Engine client; nil when none is configured (targeting checks off).
	Rules *targeting.Client
	// TracerProvider is the process's tracing; nil when tracing is off.
	TracerProvider trace.TracerProvider

	// stopTracing flushes and stops the provider the process started; nil: none.
	stopTracing func(context.Context) error

	// nats is NATS as Build connected it: NATS, and the embedded server it goes to, if any.
	nats natsLink
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
	// TracerProvider traces the client's work and the database statements (default: none,
	// nothing traced). The binaries start it from the tracing settings (newTracing).
	TracerProvider trace.TracerProvider
}

// Build connects to NATS, opens the database (migrating it when database.auto_migrate says
// so) and builds the campaigns client over them. Close releases what it opened.
func Build(ctx context.Context, cfg *config.Config, logger *slog.Logger, bc BuildConfig) (*Components, error) {
	if bc.Process == "" {
		bc.Process = ProcessAPI
	}
	if bc.Observability == nil {
		bc.Observability = newObservability(string(bc.Process), logger)
	}
	if _, err := approvalThresholds(cfg.Approval); err != nil {
		return nil, err
	}
	// NATS first: the embedded server holds the data dir, and a process refused it must not
	// touch the database either.
	link, err := connectNATS(ctx, cfg, "campaigns-"+string(bc.Process), logger)
	if err != nil {
		return nil, explainDataDir(err, dataDirAdvice(bc.Process))
	}
	nc := link.conn
	db, err := OpenDatabase(ctx, cfg.Database)
	if err != nil {
		link.close()
		return nil, err
	}
	obs := bc.Observability
	ccfg := clientConfig(cfg, bc.Process, logger, obs, bc.Now)
	if bc.TracerProvider != nil {
		ccfg.TracerProvider = bc.TracerProvider
		db.AddQueryHook(database.NewQueryTracer(bc.TracerProvider))
	}
	client, err := campaigns.New(db, nc.JS, ccfg)
	if err == nil && cfg.Database.AutoMigrate {
		err = client.Migrate(ctx)
	}
	if err != nil {
		link.close()
		_ = db.Close()
		return nil, err
	}
	watchDependencies(obs, db, nc)
	c := &Components{
		Config: cfg, Logger: logger, NATS: nc, nats: link, DB: db, Observability: obs, Client: client,
		Relay: client.Relay(), Campaigns: client.Campaigns(), Metrics: client.MetricsStore(), Rules: client.Rules(),
		Idempotency: client.Idempotency(), Aggregator: client.Aggregator(), Automation: client.Automation(),
		TracerProvider: bc.TracerProvider,
	}
	if bc.Process == ProcessWorker || cfg.Worker.Embedded {
		watchBackground(obs, client)
	}
	return c, nil
}

// clientConfig maps the configuration to the client's. The binaries drive the worker
// themselves (the API runs it after its HTTP server is up and stops it after, the worker once
// its schema is there): the client's Start never runs it.
func clientConfig(cfg *config.Config, p Process, logger *slog.Logger, obs *observability.Metrics, now func() time.Time) campaigns.Config {
	out := campaigns.Config{
		Identify: identify,
		HTTP: campaigns.HTTPConfig{
			BodyLimit: cfg.HTTP.BodyLimit, ImportBodyLimit: cfg.HTTP.ImportBodyLimit, ImportMaxLines: cfg.HTTP.ImportMaxLines,
			TrustedOrigins: cfg.CORS.AllowedOrigins,
		},
		AllowUntargeted:    cfg.Activation.AllowUntargeted,
		ApprovalThresholds: cfg.Approval.Thresholds,
		Tracking: campaigns.TrackingConfig{
			Stream: metrics.StreamConfig{Name: cfg.Metrics.Stream, MaxAge: cfg.Metrics.MaxAge,
				DuplicateWindow: cfg.Metrics.DuplicateWindow, Partitions: cfg.Metrics.Partitions},
			MaxEventAmount: cfg.Metrics.MaxEventAmount, BatchSize: cfg.Metrics.BatchSize, MaxCells: cfg.Metrics.MaxCells, MaxWait: cfg.Metrics.MaxWait,
			LeaseTTL: cfg.Metrics.LeaseTTL, CacheTTL: cfg.Metrics.TrackCacheTTL, AckTimeout: cfg.Metrics.TrackAckTimeout,
		},
		Events: campaigns.EventsConfig{
			Stream: cfg.Events.Stream, Source: cfg.Events.Source, DuplicateWindow: cfg.Events.DuplicateWindow,
			MaxAge: cfg.Events.MaxAge, BatchSize: cfg.Events.BatchSize, PollInterval: cfg.Events.PollInterval,
			// Only the API serves /track, whose cache the other processes' events refresh.
			IgnoreOthers: p != ProcessAPI,
		},
		Automation: campaigns.AutomationConfig{
			Interval: cfg.Automation.Interval, BatchSize: cfg.Automation.BatchSize,
			PauseAt: decimal.NewFromFloat(cfg.Automation.PauseAt), CompleteAt: decimal.NewFromFloat(cfg.Automation.CompleteAt),
			Alerts: campaign.AlertConfig{
				PacingBand: decimal.NewFromFloat(cfg.Automation.PacingAlertBand), DailyBudgetAt: decimal.NewFromFloat(cfg.Automation.DailyBudgetAlertAt),
				CTRCollapseRatio: decimal.NewFromFloat(cfg.Automation.CTRCollapseRatio), CTRMinImpressions: cfg.Automation.CTRCollapseMinImpressions,
			},
		},
		StreamReplicas: cfg.NATS.Replicas,
		Idempotency:    campaigns.IdempotencyConfig{TTL: cfg.Idempotency.TTL, StaleAfter: 2 * cfg.HTTP.RequestTimeout},
		Worker:         campaigns.WorkerConfig{Disabled: true},
		Logger:         logger, Observer: obs, Now: now,
	}
	if cfg.Metrics.TrackCacheTTL == 0 {
		out.Tracking.CacheTTL = -1 // metrics.track_cache_ttl 0 turns the cache off
	}
	if cfg.Events.MaxAge == 0 {
		out.Events.MaxAge = -1 // events.max_age 0 keeps events forever
	}
	if r := cfg.RulesEngine; r.URL != "" {
		out.RulesEngine = &campaigns.RulesEngineConfig{
			Client: targeting.Config{
				URL: r.URL, EvaluationURL: r.EvaluationURL, Token: r.Token, Timeout: r.Timeout,
				MaxRetries: r.MaxRetries, CacheTTL: r.CacheTTL, BreakerFailures: uint32(r.BreakerFailures),
				BreakerOpenFor: r.BreakerOpenFor,
			},
			TargetingCategories: r.TargetingCategories, Concurrency: r.Concurrency,
			QuarantineAfter: r.QuarantineAfter, QuarantineFor: r.QuarantineFor,
		}
	} else if p == ProcessAPI {
		logger.Info("no Rules Engine configured (rules_engine.url empty or rules_engine.enabled false): targeting checks are off")
	}
	return out
}

// identify is the caller the binary's authenticator found (platform/auth), as the client
// takes it: the authenticator has already refused what it must.
func identify(r *http.Request) (campaigns.Caller, error) {
	p := auth.PrincipalFrom(r.Context())
	if p == nil {
		return campaigns.Caller{}, nil
	}
	c := campaigns.Caller{Roles: p.Roles}
	if p.Subject != uuid.Nil {
		c.ID = p.Subject.String()
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

// Close stops the client (its subscription), then releases NATS (the connection, then the
// embedded server) and the database.
func (c *Components) Close() error {
	_ = c.Client.Stop(context.Background())
	if c.stopTracing != nil { // the last spans, the shutdown's among them, go out
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.stopTracing(ctx); err != nil {
			c.Logger.Warn("tracing: could not export the last spans", slog.Any("error", err))
		}
		cancel()
	}
	c.nats.close()
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

// runBackground runs the worker until ctx is done. Then, under drainCtx, the relay publishes
// what is committed (the last requests' and transitions' events would otherwise wait for the
// next start), and gives its lease up so that another worker takes over at once.
func (c *Components) runBackground(ctx, drainCtx context.Context) {
	c.Client.RunWorker(ctx)
	if err := c.Client.Drain(drainCtx); err != nil {
		c.Logger.Warn("outbox relay: shutdown came before every event was published; the rest go at the next start",
			slog.Any("error", err))
	}
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
	// TracerProvider replaces the tracing the settings would start, for tests (default: per
	// tracing.* and the OTEL_* variables; off unless they say so).
	TracerProvider trace.TracerProvider
}

// NewAPI builds the components (see Build) and mounts every capability on a new Echo
// instance. Close releases what it opened.
func NewAPI(ctx context.Context, cfg *config.Config, logger *slog.Logger, ac APIConfig) (*API, error) {
	if ac.Now == nil {
		ac.Now = time.Now
	}
	// Security first: a configuration that must not serve refuses before opening anything.
	if err := checkExposure(cfg); err != nil {
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
	tr, err := newTracing(ctx, cfg.Tracing, ProcessAPI, ac.TracerProvider, os.LookupEnv, logger)
	if err != nil {
		return nil, err
	}
	if tr.provider != nil {
		ecfg.Trace = httpx.Trace(tr.provider, untracedRoute)
	}
	c, err := Build(ctx, cfg, logger, BuildConfig{Process: ProcessAPI, Observability: obs, Now: ac.Now, TracerProvider: tr.provider})
	if err != nil {
		tr.shutdown()
		return nil, err
	}
	c.stopTracing = tr.stop
	warmPool(ctx, cfg.Database, c.DB, c.Client.HotReads, logger)
	e = httpx.NewEcho(ecfg)
	// Without NATS the API still reads and writes (the outbox keeps domain events; only
	// /track needs the broker), so NATS degrades readiness rather than taking the pod out.
	httpx.RegisterHealth(e, logger, httpx.Check{Name: "database", Fn: c.DB.PingContext},
		httpx.Check{Name: "nats", Fn: c.NATS.Ready, Degrades: true})
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openAPISpec)
	}, httpx.Query())
	apidocs.Register(e, httpx.Query())
	mountMetrics(e, obs)
	if err := console.Register(e); err != nil {
		_ = c.Close()
		return nil, err
	}
	// Someone who opens the server's address in a browser lands on the console. Relative, so
	// that it stays right behind a proxy that mounts the API under a path prefix.
	e.GET("/", func(c echo.Context) error {
		return c.Redirect(http.StatusFound, strings.TrimPrefix(console.Prefix, "/"))
	}, httpx.Query())
	c.Client.Mount(e.Group(apiPrefix))
	if err := policy.Verify(e.Routes()); err != nil {
		_ = c.Close()
		return nil, err
	}
	// The tracking stream and the subscription to the domain events (the worker is run by
	// RunAPI, or RunBackground).
	if err := c.Client.Start(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return &API{Components: c, Echo: e}, nil
}

// warmPool opens the pool's idle connections before the API serves (and so before /ready
// answers), and runs the hot reads on each of them, so that the first burst of requests
// neither opens them one request at a time nor prepares the hot statements on each (its p99
// would show both). A failure only costs that: it is logged.
func warmPool(ctx context.Context, cfg config.Database, db *bun.DB, hot func(context.Context) error, logger *slog.Logger) {
	n := cfg.MaxIdleConns
	if n <= 0 {
		n = 2 // database/sql's idle size
	}
	if cfg.MaxOpenConns > 0 {
		n = min(n, cfg.MaxOpenConns)
	}
	if err := database.Warm(ctx, db, n, hot); err != nil {
		logger.Warn("could not open the database pool's connections ahead of the first requests", slog.Any("error", err))
	}
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
	return RunAPIWith(ctx, cfg, logger, APIConfig{})
}

// RunAPIWith is RunAPI tuned by ac: ac.Now, when set, is the clock of everything the API
// decides by the time (the binary sets it from TestClockEnv, for tests only).
func RunAPIWith(ctx context.Context, cfg *config.Config, logger *slog.Logger, ac APIConfig) error {
	logger.Info("starting campaigns API", slog.Any("config", *cfg))
	if ac.Now != nil {
		logger.Warn("the API's clock is shifted, for tests only ("+TestClockEnv+")", slog.Time("now", ac.Now()))
	}
	// The port first: one that is taken is said before NATS, the database or the worker start.
	ln, err := net.Listen("tcp", cfg.HTTP.Addr())
	if err != nil {
		return fmt.Errorf("listen %s: %w (set http.port, CAMPAIGNS_HTTP_PORT, to a free port)", cfg.HTTP.Addr(), err)
	}
	defer ln.Close()
	a, err := NewAPI(ctx, cfg, logger, ac)
	if err != nil {
		return err
	}
	defer a.Close()
	base := baseURL(ln.Addr())
	logger.Info("campaigns API listening", slog.String("api", base+"/api/v1"),
		slog.String("console", base+"/console"), slog.String("docs", base+"/docs"))
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

// baseURL is how a browser on this machine reaches addr: a wildcard address by localhost.
func baseURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
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
	tr, err := newTracing(ctx, cfg.Tracing, ProcessWorker, nil, os.LookupEnv, logger)
	if err != nil {
		return err
	}
	c, err := Build(ctx, cfg, logger, BuildConfig{Process: ProcessWorker, Observability: obs, TracerProvider: tr.provider})
	if err != nil {
		tr.shutdown()
		return err
	}
	c.stopTracing = tr.stop
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
	db, err := OpenDatabase(ctx, cfg.Database)
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
