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

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
	"github.com/engine-rules-sp/campaigns/metrics"
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
	return append(campaign.Schema(), metrics.Migrations(), idempotency.Migrations())
}

// NewLogger returns the JSON (or text) slog logger the configuration asks for.
func NewLogger(cfg config.LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.Format == "text" {
		return slog.New(httpx.LogHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(httpx.LogHandler(slog.NewJSONHandler(w, opts)))
}

// API is a fully wired API instance. Several can live in one process: nothing is global.
type API struct {
	Config *config.Config
	DB     *bun.DB
	Echo   *echo.Echo
	Logger *slog.Logger

	NATS *natsx.Conn

	Campaigns   *campaign.Service
	Idempotency *idempotency.Store
	Automation  *automation.Automation
	Relay       *outbox.Relay
	Metrics     *metrics.Store
	Aggregator  *metrics.Aggregator
	// Observability is the instance's Prometheus registry and instruments (GET /metrics).
	Observability *observability.Metrics
}

// APIOption adjusts how NewAPI builds the instance.
type APIOption func(*apiOptions)

type apiOptions struct {
	now func() time.Time
}

// WithClock replaces the wall clock everywhere (campaign service, idempotency keys, rate
// limiter), for tests.
func WithClock(now func() time.Time) APIOption {
	return func(o *apiOptions) { o.now = now }
}

// NewAPI opens the database, migrates it when the configuration says so, and mounts every
// capability on a new Echo instance. Close releases what it opened.
func NewAPI(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts ...APIOption) (*API, error) {
	var o apiOptions
	for _, opt := range opts {
		opt(&o)
	}
	// Security first: a configuration that must not serve refuses before opening anything.
	if err := auth.CheckExposure(cfg.Auth, cfg.HTTP.Host); err != nil {
		return nil, err
	}
	obs := newObservability("api", logger)
	policy := RoutePolicy(cfg)
	authn, err := newAuthenticator(cfg, policy, obs, logger)
	if err != nil {
		return nil, err
	}
	var e *echo.Echo
	eopts, err := echoOptions(cfg, obs, authn, policy, func() []*echo.Route { return e.Routes() }, o.now)
	if err != nil {
		return nil, err
	}
	// NATS first: the embedded server holds the data dir, and a process refused it must not
	// touch the database either.
	nc, err := natsx.Connect(ctx, cfg.NATS, cfg.DataDir, "campaigns-api", logger)
	if err != nil {
		return nil, explainDataDir(err, "stop the process that holds it (another API, or a campaigns-worker "+
			"on the same data dir), or give this API a data_dir of its own")
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
	if o.now == nil {
		o.now = time.Now
	}
	relay := newRelay(cfg, db, nc, logger, obs)
	e = httpx.NewEcho(logger, eopts)
	watchDependencies(obs, db, nc)
	idem := idempotency.New(db, logger, idempotency.Options{
		TTL: cfg.Idempotency.TTL, StaleAfter: 2 * cfg.HTTP.RequestTimeout, Now: o.now,
	})
	e.Use(idem.Middleware())
	httpx.RegisterHealth(e, logger, httpx.Check{Name: "database", Fn: db.PingContext},
		httpx.Check{Name: "nats", Fn: nc.Ready})
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openAPISpec)
	}, httpx.Query())
	apidocs.Register(e, httpx.Query())
	mountMetrics(e, obs)
	if err := console.Register(e); err != nil {
		nc.Close()
		_ = db.Close()
		return nil, err
	}

	campaignCfg := campaign.ServiceConfig{Now: o.now, AfterCommit: relay.Notify, ObserveEvent: obs.CampaignEvent,
		AllowUntargeted: cfg.Activation.AllowUntargeted}
	rules := newRulesClient(cfg.RulesEngine, logger, obs)
	if rules != nil {
		campaignCfg.ActivationChecks = []campaign.ActivationCheck{targeting.NewActivationCheck(rules,
			targeting.CheckConfig{TargetingCategories: cfg.RulesEngine.TargetingCategories})}
	}
	svc := campaign.NewService(campaign.NewRepository(db), campaignCfg)
	v1 := e.Group("/api/v1")
	store := metrics.NewStore(db)
	ensureTrackingStream(ctx, cfg, nc, logger)
	mh := metrics.NewHandler(svc, store, nc.JS, metrics.HandlerConfig{
		Limits: metrics.Limits{MaxAmount: cfg.Metrics.MaxEventAmount}, Partitions: cfg.Metrics.Partitions}, logger)
	mh.Ingested = obs.Ingested
	mh.Register(v1)
	agg := newAggregator(cfg, nc, store, svc, logger, obs)
	if cfg.Worker.Embedded {
		watchBackground(obs, db, agg)
	}
	campaign.NewHandler(svc, campaign.HandlerConfig{Logger: logger, Metrics: mh}).Register(v1)
	var evalRules targeting.RuleEvaluator // stays a nil interface without a Rules Engine
	if rules != nil {
		evalRules = rules
	}
	targeting.NewHandler(targeting.NewEvaluator(svc, evalRules, cfg.RulesEngine.Concurrency).WithClock(o.now), logger).Register(v1)

	if err := policy.Verify(e.Routes()); err != nil {
		nc.Close()
		_ = db.Close()
		return nil, err
	}
	return &API{
		Config: cfg, DB: db, Echo: e, Logger: logger, NATS: nc, Campaigns: svc, Idempotency: idem,
		Automation: newAutomation(cfg.Automation, svc, store, logger), Relay: relay,
		Metrics: store, Aggregator: agg,
		Observability: obs,
	}, nil
}

// newRulesClient returns the Rules Engine client, or nil when none is configured: then the
// targeting checks are off (said once, here) and campaigns show targetingVerified: false.
func newRulesClient(cfg config.RulesEngineConfig, logger *slog.Logger, m targeting.Metrics) *targeting.Client {
	if cfg.URL == "" {
		logger.Info("no Rules Engine configured (rules_engine.url empty or rules_engine.enabled false): targeting checks are off")
		return nil
	}
	return targeting.NewClient(targeting.Config{
		URL: cfg.URL, EvaluationURL: cfg.EvaluationURL, Token: cfg.Token, Timeout: cfg.Timeout,
		MaxRetries: cfg.MaxRetries, CacheTTL: cfg.CacheTTL, BreakerFailures: uint32(cfg.BreakerFailures),
		BreakerOpenFor: cfg.BreakerOpenFor, Logger: logger, Metrics: m,
	}, nil)
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

func newAggregator(cfg *config.Config, nc *natsx.Conn, store *metrics.Store, svc *campaign.Service, logger *slog.Logger, m metrics.AggregatorMetrics) *metrics.Aggregator {
	ac := metrics.DefaultAggregatorConfig()
	ac.Stream, ac.BatchSize, ac.MaxWait = trackingStream(cfg), cfg.Metrics.BatchSize, cfg.Metrics.MaxWait
	ac.Limits = metrics.Limits{MaxAmount: cfg.Metrics.MaxEventAmount}
	ac.LeaseTTL = cfg.Metrics.LeaseTTL
	return metrics.NewAggregator(nc.JS, store, svc, ac, logger, m)
}

func newRelay(cfg *config.Config, db *bun.DB, nc *natsx.Conn, logger *slog.Logger, m outbox.RelayMetrics) *outbox.Relay {
	rc := outbox.DefaultRelayConfig()
	rc.Stream, rc.Source = cfg.Events.Stream, cfg.Events.Source
	rc.DuplicateWindow, rc.MaxAge = cfg.Events.DuplicateWindow, cfg.Events.MaxAge
	rc.BatchSize, rc.PollInterval = cfg.Events.BatchSize, cfg.Events.PollInterval
	return outbox.NewRelay(db, nc.JS, rc, logger, m)
}

func newAutomation(cfg config.AutomationConfig, svc *campaign.Service, budget automation.BudgetSource, logger *slog.Logger) *automation.Automation {
	return automation.New(svc, budget, automation.Config{
		PauseAt: decimal.NewFromFloat(cfg.PauseAt), CompleteAt: decimal.NewFromFloat(cfg.CompleteAt),
		BatchSize: cfg.BatchSize,
	}, logger)
}

// RunBackground runs the background work (event relay, tracking aggregation, lifecycle
// automation, idempotency-key purge) until ctx is done. Then it publishes the events still in
// the outbox, for up to http.shutdown_timeout, and gives the relay's lease up.
func (a *API) RunBackground(ctx context.Context) {
	drain, cancel := afterDone(ctx, a.Config.HTTP.ShutdownTimeout)
	defer cancel()
	runWorker(ctx, drain, a.Config, a.Logger, a.Relay, a.Automation, a.Idempotency, a.Aggregator)
}

// runWorker runs the worker's loops until ctx is done. Then, under drainCtx, the relay
// publishes what is committed (the last requests' and transitions' events would otherwise
// wait for the next start), and gives its lease up so that another worker takes over at once.
func runWorker(ctx, drainCtx context.Context, cfg *config.Config, logger *slog.Logger, relay *outbox.Relay,
	auto *automation.Automation, idem *idempotency.Store, agg *metrics.Aggregator) {
	var wg sync.WaitGroup
	wg.Go(func() { relay.Run(ctx) })
	wg.Go(func() { agg.Run(ctx) })
	wg.Go(func() { auto.Run(ctx, cfg.Automation.Interval, idem.Purge) })
	wg.Wait()
	n, err := relay.Drain(drainCtx)
	if err != nil {
		logger.Warn("outbox relay: shutdown came before every event was published; the rest go at the next start",
			slog.Int("published", n), slog.Any("error", err))
	} else if n > 0 {
		logger.Info("outbox relay: published the outbox before stopping", slog.Int("published", n))
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	relay.Release(rctx)
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

// Close releases NATS and the database.
func (a *API) Close() error {
	a.NATS.Close()
	return a.DB.Close()
}

// RunAPI serves the API until ctx is done, then shuts down gracefully.
func RunAPI(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	logger.Info("starting campaigns API", slog.Any("config", *cfg))
	a, err := NewAPI(ctx, cfg, logger)
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
		wg.Go(func() {
			runWorker(bgCtx, drain, cfg, logger, a.Relay, a.Automation, a.Idempotency, a.Aggregator)
		})
	}
	err = a.Serve(ctx, ln)
	stopBackground()
	wg.Wait()
	return err
}

// Serve serves the API on ln with the configured server options until ctx is done, then
// shuts down gracefully.
func (a *API) Serve(ctx context.Context, ln net.Listener) error {
	return httpx.Serve(ctx, ln, a.Handler(), serverOptions(a.Config.HTTP), a.Logger)
}

// newWorkerEcho is the worker's own HTTP listener: /health, /ready and /metrics, with the same
// middleware as the API's (/metrics needs the monitor or admin role when auth.public_metrics is
// false).
func newWorkerEcho(cfg *config.Config, obs *observability.Metrics, logger *slog.Logger) (*echo.Echo, error) {
	wcfg := *cfg
	if cfg.Auth.PublicMetrics {
		// Every route of the worker is public: it needs no credentials (nor the keys to check them).
		wcfg.Auth = config.AuthConfig{Mode: config.AuthNone, RolesClaim: cfg.Auth.RolesClaim}
	}
	wpolicy := WorkerRoutePolicy(cfg)
	authn, err := newAuthenticator(&wcfg, wpolicy, obs, logger)
	if err != nil {
		return nil, err
	}
	var e *echo.Echo
	eopts, err := echoOptions(cfg, obs, authn, wpolicy, func() []*echo.Route { return e.Routes() }, nil)
	if err != nil {
		return nil, err
	}
	e = httpx.NewEcho(logger, eopts)
	return e, nil
}

// RunWorker runs the background worker until ctx is done. It serves /health, /ready and
// /metrics on its own listener. It migrates the database when database.auto_migrate says so,
// else waits for the schema (not ready meanwhile). With the embedded NATS server it holds the
// data dir, and refuses to start when another process (an API running the worker) holds it.
func RunWorker(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	logger.Info("starting campaigns worker", slog.Any("config", *cfg))
	nc, err := natsx.Connect(ctx, cfg.NATS, cfg.DataDir, "campaigns-worker", logger)
	if err != nil {
		return explainDataDir(err, "an API started with worker.embedded: true (the default) already runs "+
			"the worker: stop this one. To run the worker as a process of its own, set worker.embedded: false "+
			"and nats.embedded_port on the API and point this worker's nats.url at that port, or run both on "+
			"an external NATS (nats.url)")
	}
	defer nc.Close()
	db, err := database.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	var schemaReady atomic.Bool
	if cfg.Database.AutoMigrate {
		if err := migrate.Up(ctx, db, Migrations()...); err != nil {
			return err
		}
		schemaReady.Store(true)
	}
	obs := newObservability("worker", logger)
	relay := newRelay(cfg, db, nc, logger, obs)
	svc := campaign.NewService(campaign.NewRepository(db),
		campaign.ServiceConfig{AfterCommit: relay.Notify, ObserveEvent: obs.CampaignEvent})
	idem := idempotency.New(db, logger, idempotency.Options{TTL: cfg.Idempotency.TTL})
	store := metrics.NewStore(db)
	auto := newAutomation(cfg.Automation, svc, store, logger)
	agg := newAggregator(cfg, nc, store, svc, logger, obs)

	e, err := newWorkerEcho(cfg, obs, logger)
	if err != nil {
		return err
	}
	watchDependencies(obs, db, nc)
	watchBackground(obs, db, agg)
	httpx.RegisterHealth(e, logger, httpx.Check{Name: "database", Fn: db.PingContext},
		httpx.Check{Name: "nats", Fn: nc.Ready},
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
			if err := awaitSchema(bgCtx, db, logger, schemaPollInterval); err != nil {
				return // stopped while waiting
			}
			schemaReady.Store(true)
		}
		runWorker(bgCtx, drain, cfg, logger, relay, auto, idem, agg)
	})
	err = httpx.Serve(ctx, ln, e, serverOptions(cfg.HTTP), logger)
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

func serverOptions(h config.HTTPConfig) httpx.ServerOptions {
	return httpx.ServerOptions{
		ReadTimeout: h.ReadTimeout, WriteTimeout: h.WriteTimeout,
		IdleTimeout: h.IdleTimeout, ShutdownTimeout: h.ShutdownTimeout, HeaderLimit: h.HeaderLimit,
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
