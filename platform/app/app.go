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
	"time"

	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

//go:embed openapi.yaml
var openAPISpec []byte

// OpenAPISpec is the OpenAPI 3 document of the whole API, as served at /openapi.yaml.
func OpenAPISpec() []byte { return openAPISpec }

// Migrations lists every capability's schema, in the order they are applied.
func Migrations() []migrate.Set {
	return append(campaign.Schema(), idempotency.Migrations())
}

// NewLogger returns the JSON (or text) slog logger the configuration asks for.
func NewLogger(cfg config.LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
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
}

// APIOption adjusts how NewAPI builds the instance.
type APIOption func(*apiOptions)

type apiOptions struct {
	campaignOpts []campaign.Option
	now          func() time.Time
}

// WithClock replaces the wall clock everywhere (campaign service, idempotency keys), for tests.
func WithClock(now func() time.Time) APIOption {
	return func(o *apiOptions) {
		o.now = now
		o.campaignOpts = append(o.campaignOpts, campaign.WithClock(now))
	}
}

// WithCampaignOptions passes options (a clock, say) to the campaign service.
func WithCampaignOptions(opts ...campaign.Option) APIOption {
	return func(o *apiOptions) { o.campaignOpts = append(o.campaignOpts, opts...) }
}

// NewAPI opens the database, migrates it when the configuration says so, and mounts every
// capability on a new Echo instance. Close releases what it opened.
func NewAPI(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts ...APIOption) (*API, error) {
	var o apiOptions
	for _, opt := range opts {
		opt(&o)
	}
	db, err := database.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	if cfg.Database.AutoMigrate {
		if err := migrate.Up(ctx, db, Migrations()...); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	if o.now == nil {
		o.now = time.Now
	}
	nc, err := natsx.Connect(ctx, cfg.NATS, cfg.DataDir, "campaigns-api", logger)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	relay := newRelay(cfg, db, nc, logger)
	e := httpx.NewEcho(logger, httpx.Options{BodyLimit: cfg.HTTP.BodyLimit, RequestTimeout: cfg.HTTP.RequestTimeout})
	idem := idempotency.New(db, logger, idempotency.Options{
		TTL: cfg.Idempotency.TTL, StaleAfter: 2 * cfg.HTTP.RequestTimeout, Now: o.now,
	})
	e.Use(idem.Middleware())
	httpx.RegisterHealth(e, logger, httpx.Check{Name: "database", Fn: db.PingContext},
		httpx.Check{Name: "nats", Fn: nc.Ready})
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openAPISpec)
	})

	svc := campaign.NewService(campaign.NewRepository(db),
		append([]campaign.Option{campaign.WithAfterCommit(relay.Notify)}, o.campaignOpts...)...)
	v1 := e.Group("/api/v1")
	campaign.NewHandler(svc, logger).Register(v1)

	return &API{
		Config: cfg, DB: db, Echo: e, Logger: logger, NATS: nc, Campaigns: svc, Idempotency: idem,
		Automation: newAutomation(cfg.Automation, svc, logger), Relay: relay,
	}, nil
}

func newRelay(cfg *config.Config, db *bun.DB, nc *natsx.Conn, logger *slog.Logger) *outbox.Relay {
	rc := outbox.DefaultRelayConfig()
	rc.Stream, rc.Source = cfg.Events.Stream, cfg.Events.Source
	rc.DuplicateWindow, rc.MaxAge = cfg.Events.DuplicateWindow, cfg.Events.MaxAge
	rc.BatchSize, rc.PollInterval = cfg.Events.BatchSize, cfg.Events.PollInterval
	return outbox.NewRelay(db, nc.JS, rc, logger, nil)
}

func newAutomation(cfg config.AutomationConfig, svc *campaign.Service, logger *slog.Logger) *automation.Automation {
	return automation.New(svc, nil, automation.Config{
		PauseAt: decimal.NewFromFloat(cfg.PauseAt), CompleteAt: decimal.NewFromFloat(cfg.CompleteAt),
		BatchSize: cfg.BatchSize,
	}, logger)
}

// RunBackground runs the background work (event relay, lifecycle automation,
// idempotency-key purge) until ctx is done.
func (a *API) RunBackground(ctx context.Context) {
	runWorker(ctx, a.Config, a.Relay, a.Automation, a.Idempotency)
}

// runWorker runs the worker's loops until ctx is done, then gives up the relay's lease so that
// another worker takes over at once.
func runWorker(ctx context.Context, cfg *config.Config, relay *outbox.Relay, auto *automation.Automation, idem *idempotency.Store) {
	var wg sync.WaitGroup
	wg.Go(func() { relay.Run(ctx) })
	wg.Go(func() { auto.Run(ctx, cfg.Automation.Interval, idem.Purge) })
	wg.Wait()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	relay.Release(rctx)
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
	if cfg.Worker.Embedded {
		logger.Info("running the worker in the API process (worker.embedded)")
		wg.Go(func() { a.RunBackground(bgCtx) })
	}
	err = httpx.Serve(ctx, ln, a.Handler(), serverOptions(cfg.HTTP), logger)
	stopBackground()
	wg.Wait()
	return err
}

// RunWorker runs the background worker until ctx is done. It serves /health and /ready on its
// own listener.
func RunWorker(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	logger.Info("starting campaigns worker", slog.Any("config", *cfg))
	db, err := database.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	nc, err := natsx.Connect(ctx, cfg.NATS, cfg.DataDir, "campaigns-worker", logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	relay := newRelay(cfg, db, nc, logger)
	svc := campaign.NewService(campaign.NewRepository(db), campaign.WithAfterCommit(relay.Notify))
	idem := idempotency.New(db, logger, idempotency.Options{TTL: cfg.Idempotency.TTL})
	auto := newAutomation(cfg.Automation, svc, logger)

	e := httpx.NewEcho(logger, httpx.Options{BodyLimit: cfg.HTTP.BodyLimit, RequestTimeout: cfg.HTTP.RequestTimeout})
	httpx.RegisterHealth(e, logger, httpx.Check{Name: "database", Fn: db.PingContext},
		httpx.Check{Name: "nats", Fn: nc.Ready})
	ln, err := net.Listen("tcp", cfg.Worker.Addr())
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Worker.Addr(), err)
	}
	var wg sync.WaitGroup
	bgCtx, stopBackground := context.WithCancel(ctx)
	wg.Go(func() { runWorker(bgCtx, cfg, relay, auto, idem) })
	err = httpx.Serve(ctx, ln, e, serverOptions(cfg.HTTP), logger)
	stopBackground()
	wg.Wait()
	return err
}

func serverOptions(h config.HTTPConfig) httpx.ServerOptions {
	return httpx.ServerOptions{
		ReadTimeout: h.ReadTimeout, WriteTimeout: h.WriteTimeout,
		IdleTimeout: h.IdleTimeout, ShutdownTimeout: h.ShutdownTimeout,
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
var ErrUsage = errors.New("usage: campaigns-api [--config FILE] [migrate up|down|status]")
