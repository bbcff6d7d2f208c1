package campaigns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignstore "github.com/engine-rules-sp/campaigns/campaign/bunstore"
	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
	"github.com/engine-rules-sp/campaigns/metrics"
	metricsstore "github.com/engine-rules-sp/campaigns/metrics/bunstore"
	metricsapi "github.com/engine-rules-sp/campaigns/metrics/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
	"github.com/engine-rules-sp/campaigns/platform/tracing"
	"github.com/engine-rules-sp/campaigns/targeting"
	targetingapi "github.com/engine-rules-sp/campaigns/targeting/echoapi"
)

// Client is the campaigns service over one database and one JetStream. Build it with New.
type Client struct {
	cfg    Config
	db     *bun.DB
	js     jetstream.JetStream
	logger *slog.Logger

	campaigns   *campaign.Service
	metrics     *metricsstore.Store
	relay       *outbox.Relay
	rules       *targeting.Client // nil without a Rules Engine
	evaluator   *targeting.Evaluator
	idempotency *idempotency.Store
	crossOrigin echo.MiddlewareFunc
	aggregator  *metrics.Aggregator
	automation  *automation.Automation
	changes     *changes

	campaignsAPI *campaignapi.Handler
	transferAPI  *campaignapi.IOHandler
	metricsAPI   *metricsapi.Handler
	targetingAPI *targetingapi.Handler

	mu      sync.Mutex
	running *background // nil unless started
}

// New builds the service over db and js. It checks the whole Config first and refuses an
// invalid one with a *ConfigError naming the field; a database driver it cannot serve is
// refused too (database.ErrUnsupportedDriver names the supported ones). It opens nothing and
// starts nothing: call Migrate, Mount and Start.
func New(db *bun.DB, js jetstream.JetStream, cfg Config) (*Client, error) {
	if db == nil {
		return nil, errors.New("campaigns: a *bun.DB is required")
	}
	if js == nil {
		return nil, ErrNoJetStream
	}
	if _, err := database.Detect(db); err != nil {
		return nil, fmt.Errorf("campaigns: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	thresholds, err := approvalThresholds(cfg.ApprovalThresholds)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Client{cfg: cfg, db: db, js: js, logger: cfg.Logger, changes: &changes{}}
	if c.crossOrigin, err = httpx.CrossOrigin(cfg.HTTP.TrustedOrigins); err != nil {
		return nil, &ConfigError{"HTTP.TrustedOrigins", err.Error()}
	}

	c.relay = outbox.NewRelay(db, js, outbox.RelayConfig{
		Stream: cfg.Events.Stream, Source: cfg.Events.Source, DuplicateWindow: cfg.Events.DuplicateWindow,
		MaxAge: cfg.Events.MaxAge, Replicas: cfg.StreamReplicas, BatchSize: cfg.Events.BatchSize,
		PollInterval: cfg.Events.PollInterval, Logger: cfg.Logger, Metrics: cfg.Observer,
		TracerProvider: cfg.TracerProvider,
	})
	c.metrics = metricsstore.New(db)
	sc := campaign.ServiceConfig{
		Now: cfg.Now, Logger: cfg.Logger, AfterCommit: c.relay.Notify, ObserveEvent: cfg.Observer.CampaignEvent,
		Changed: c.changes.changed, AllowUntargeted: cfg.AllowUntargeted, Delivery: c.metrics,
		PeriodSpend: c.metrics, ApprovalThresholds: thresholds,
	}
	var rules targeting.RuleEvaluator // a nil interface without a Rules Engine
	if r := cfg.RulesEngine; r != nil {
		rc := r.Client
		if rc.Logger == nil {
			rc.Logger = cfg.Logger
		}
		if rc.Metrics == nil {
			rc.Metrics = cfg.Observer
		}
		if rc.TracerProvider == nil {
			rc.TracerProvider = cfg.TracerProvider
		}
		c.rules = targeting.NewClient(rc)
		rules = c.rules
		sc.ActivationChecks = []campaign.ActivationCheck{targeting.NewActivationCheck(c.rules,
			targeting.CheckConfig{TargetingCategories: r.TargetingCategories})}
	}
	c.campaigns = campaign.NewService(campaignstore.New(db), sc)
	c.idempotency = idempotency.New(db, idempotency.Config{
		TTL: cfg.Idempotency.TTL, StaleAfter: cfg.Idempotency.StaleAfter, Now: cfg.Now, Logger: cfg.Logger,
	})
	limits := metrics.Limits{MaxAmount: cfg.Tracking.MaxEventAmount}
	c.aggregator = metrics.NewAggregator(js, c.metrics, c.campaigns, metrics.AggregatorConfig{
		Stream: cfg.Tracking.Stream, BatchSize: cfg.Tracking.BatchSize, MaxCells: cfg.Tracking.MaxCells, MaxWait: cfg.Tracking.MaxWait,
		LeaseTTL: cfg.Tracking.LeaseTTL, Limits: limits, Logger: cfg.Logger, Metrics: cfg.Observer,
		TracerProvider: cfg.TracerProvider,
	})
	c.automation = automation.New(c.campaigns, automation.Config{
		PauseAt: cfg.Automation.PauseAt, CompleteAt: cfg.Automation.CompleteAt, BatchSize: cfg.Automation.BatchSize,
		Budget: c.metrics, Logger: cfg.Logger,
	})
	ec := targeting.EvaluatorConfig{Rules: rules, Now: cfg.Now, Exposures: exposures{c.metrics}, Logger: cfg.Logger}
	if r := cfg.RulesEngine; r != nil {
		ec.Concurrency, ec.QuarantineAfter, ec.QuarantineFor = r.Concurrency, r.QuarantineAfter, r.QuarantineFor
	}
	// An Observer that also counts per-rule failures gets them (platform/observability does);
	// it is optional so that existing Observers keep compiling.
	if m, ok := cfg.Observer.(targeting.RuleMetrics); ok {
		ec.Metrics = m
	}
	c.evaluator = targeting.NewEvaluator(c.campaigns, ec)

	// The routes' handlers are built once: /track's cache of campaigns must hear of the
	// service's changes (the service's Changed hook reports to c.changes, which reports to it).
	c.metricsAPI = metricsapi.NewHandler(c.campaigns, c.metrics, js, metricsapi.HandlerConfig{
		Limits: limits, Partitions: cfg.Tracking.Stream.Partitions, Logger: cfg.Logger, Ingested: cfg.Observer.Ingested,
		Updater: c.campaigns, TargetTTL: cfg.Tracking.CacheTTL, AckTimeout: cfg.Tracking.AckTimeout, Now: cfg.Now,
		TracerProvider: cfg.TracerProvider,
	})
	c.changes.listen(c.metricsAPI.ForgetCampaign, c.metricsAPI.ForgetCampaigns)
	c.campaignsAPI = campaignapi.NewHandler(c.campaigns, campaignapi.HandlerConfig{
		Logger: cfg.Logger, Metrics: c.metricsAPI, Totals: c.metrics, Pacing: c.metricsAPI, BulkConcurrency: cfg.HTTP.BulkConcurrency,
	})
	c.transferAPI = campaignapi.NewIOHandler(c.campaigns, campaignapi.IOConfig{
		Logger: cfg.Logger, Totals: c.metrics, MaxLineBytes: int(cfg.HTTP.BodyLimit), MaxLines: cfg.HTTP.ImportMaxLines,
		TempDir: cfg.HTTP.ImportTempDir,
	})
	tc := targetingapi.HandlerConfig{Logger: cfg.Logger}
	if c.rules != nil { // a nil *targeting.Client would make a non-nil RuleSource
		tc.Rules = c.rules
	}
	c.targetingAPI = targetingapi.NewHandler(c.evaluator, tc)
	return c, nil
}

// withDefaults fills what the capabilities would otherwise each default on their own, where
// two of them must agree (the body limit and the import's line), or where the client's own
// logger and observer stand in.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTP.BodyLimit == 0 {
		c.HTTP.BodyLimit = DefaultBodyLimit
	}
	if c.HTTP.ImportBodyLimit == 0 {
		c.HTTP.ImportBodyLimit = DefaultImportBodyLimit
	}
	if c.Automation.Interval == 0 {
		c.Automation.Interval = DefaultAutomationInterval
	}
	if c.Tracking.Stream.Partitions == 0 {
		c.Tracking.Stream.Partitions = metrics.DefaultPartitions
	}
	c.StreamReplicas = max(c.StreamReplicas, 1)
	c.Tracking.Stream.Replicas = c.StreamReplicas
	return c
}

// Defaults of Config.
const (
	DefaultBodyLimit          = 1 << 20
	DefaultImportBodyLimit    = 64 << 20
	DefaultAutomationInterval = 15 * time.Second
)

// Migrations lists the schema of every capability, in the order Migrate applies them.
func Migrations() []migrate.Set {
	return append(campaignstore.Schema(), metricsstore.Migrations(), idempotency.Migrations())
}

// Migrate applies the migrations not applied yet (serialised by an advisory lock on
// PostgreSQL, so that several instances may start at once).
func (c *Client) Migrate(ctx context.Context) error {
	return migrate.Up(ctx, c.db, Migrations()...)
}

// InTx binds the campaign service to the host's transaction tx: its writes (the campaign row,
// its history, its domain events) commit or roll back with the host's own. Call Committed on
// the result once tx has ended, so that the committed events are announced (the relay woken,
// the observer told); see campaign.TxService. While serving a request with an
// Idempotency-Key, make at most one campaign write in tx: that write records the request's
// answer, and a second one in the same transaction is refused as already recorded.
func (c *Client) InTx(tx bun.Tx) *campaign.TxService {
	return c.campaigns.InTx(campaignstore.New(tx))
}

// Campaigns is the campaign service, for a host's own use cases (create, transition, list...).
func (c *Client) Campaigns() *campaign.Service { return c.campaigns }

// The parts below are for hosts (and tests) that drive one directly: a drain of the tracking
// stream in a test, the relay's backlog on a dashboard. Start and Stop run them otherwise.

// Relay is the domain-event relay.
func (c *Client) Relay() *outbox.Relay { return c.relay }

// Aggregator counts the tracking stream.
func (c *Client) Aggregator() *metrics.Aggregator { return c.aggregator }

// Automation ends and pauses campaigns by their dates and budgets.
func (c *Client) Automation() *automation.Automation { return c.automation }

// MetricsStore holds the counted totals.
func (c *Client) MetricsStore() *metricsstore.Store { return c.metrics }

// Idempotency keeps the answers of POSTs sent with an Idempotency-Key.
func (c *Client) Idempotency() *idempotency.Store { return c.idempotency }

// Rules is the Rules Engine client; nil without a Rules Engine.
func (c *Client) Rules() *targeting.Client { return c.rules }

// OutboxOldest is the age of the oldest domain event not published yet (0: none).
func (c *Client) OutboxOldest(ctx context.Context) (time.Duration, error) {
	return outbox.OldestAge(ctx, c.db, time.Now())
}

// OutboxBacklog counts the domain events not published yet.
func (c *Client) OutboxBacklog(ctx context.Context) (int64, error) { return outbox.Backlog(ctx, c.db) }

// background is what Start started, until Stop.
type background struct {
	cancel context.CancelFunc
	done   chan struct{} // closed once the worker has returned (at once without one)
	stop   func()        // ends the subscription to the domain events
}

// ErrStarted: Start was called on a running client.
var ErrStarted = errors.New("campaigns: the client is already started")

// Start readies the tracking stream, subscribes to the domain events (which keep /track's
// cache of campaigns fresh when another instance changes one), and, unless
// Config.Worker.Disabled, runs the worker (RunWorker) in the background until Stop. ctx bounds
// the start itself. A NATS that is not reachable yet does not fail it: /track answers 503 and
// the worker retries until it is. A server that can never hold Config.StreamReplicas (one
// that is not part of a cluster) does: the error wraps natsx.ErrReplicasNeedCluster.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running != nil {
		return ErrStarted
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := metrics.EnsureStream(sctx, c.js, c.cfg.Tracking.Stream)
	cancel()
	if errors.Is(err, natsx.ErrReplicasNeedCluster) {
		// Waiting would not help: the streams need a cluster this server is not part of.
		return fmt.Errorf("campaigns: Config.StreamReplicas %d: %w", c.cfg.StreamReplicas, err)
	}
	if err != nil {
		// /track answers 503 until the stream exists; the aggregator creates it when it can.
		c.logger.WarnContext(ctx, "tracking stream not ready yet", slog.Any("error", err))
	}
	stopWatch := func() {}
	if !c.cfg.Events.IgnoreOthers {
		stopWatch = c.changes.watch(c.js.Conn(), c.relay.Subject(">"), c.logger,
			tracing.Tracer(c.cfg.TracerProvider, "github.com/engine-rules-sp/campaigns/platform/campaigns"))
	}
	bg, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	run := &background{cancel: cancelBG, done: make(chan struct{}), stop: stopWatch}
	if c.cfg.Worker.Disabled {
		close(run.done)
	} else {
		go func() {
			defer close(run.done)
			c.RunWorker(bg)
		}()
	}
	c.running = run
	return nil
}

// RunWorker runs the background work in the calling goroutine until ctx is done: the event
// relay, the tracking aggregator, the automation (every Config.Automation.Interval), the
// purge of expired idempotency keys and the roll-back of imports whose process died. It
// returns once all of them have returned (the aggregator flushes the batches in hand and
// gives its partitions up). Then Drain publishes what is left.
// Start runs it unless Config.Worker.Disabled; a process that must decide when the worker
// runs (a worker binary waiting for its schema, say) runs it itself.
func (c *Client) RunWorker(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { c.relay.Run(ctx) })
	wg.Go(func() { c.aggregator.Run(ctx) })
	wg.Go(func() {
		c.automation.Run(ctx, c.cfg.Automation.Interval, c.checkAlerts, c.idempotency.Purge, c.recoverImports)
	})
	wg.Wait()
}

// checkAlerts records the alert events of the campaigns that crossed a threshold since the
// last tick (campaign.Service.CheckAlerts), the CTR judged on the metrics' hourly rollups.
func (c *Client) checkAlerts(ctx context.Context) error {
	_, err := c.campaigns.CheckAlerts(ctx, c.cfg.Automation.Alerts, c.metrics)
	return err
}

// recoverImports rolls back the all-or-nothing imports whose process died while it wrote them
// (campaign.Service.RecoverImports).
func (c *Client) recoverImports(ctx context.Context) error {
	_, err := c.campaigns.RecoverImports(ctx, campaign.ImportStaleAfter)
	return err
}

// ErrUnpublished: a stop or a drain ran out of time before every committed event was
// published; they are published at the next start (of this or another instance).
var ErrUnpublished = errors.New("campaigns: stopped with domain events not yet published")

// Drain publishes the events still in the outbox, within ctx (an error wrapping
// ErrUnpublished when it ends first), then gives the relay's lease up so that another
// instance takes over at once. Call it once the worker has stopped, after the HTTP server:
// the events of the last requests are then committed.
func (c *Client) Drain(ctx context.Context) error {
	n, err := c.relay.Drain(ctx)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	c.relay.Release(rctx)
	if err != nil {
		return fmt.Errorf("%w (%d published before): %w", ErrUnpublished, n, err)
	}
	if n > 0 {
		c.logger.InfoContext(ctx, "outbox relay: published the outbox before stopping", slog.Int("published", n))
	}
	return nil
}

// Stop ends what Start started: the subscription to the domain events, and the worker, whose
// loops it waits for; then, when the worker ran here, Drain publishes the outbox. Stop serving
// requests first. ctx bounds the whole stop; if it ends first, Stop returns its error (or one
// wrapping ErrUnpublished). A client that was not started returns nil.
func (c *Client) Stop(ctx context.Context) error {
	c.mu.Lock()
	run := c.running
	c.running = nil
	c.mu.Unlock()
	if run == nil {
		return nil
	}
	run.stop()
	run.cancel()
	select {
	case <-run.done:
	case <-ctx.Done():
		return fmt.Errorf("campaigns: stop: the worker did not end in time: %w", ctx.Err())
	}
	if c.cfg.Worker.Disabled {
		return nil
	}
	return c.Drain(ctx)
}

// exposures gives the evaluator the exposures the metrics pipeline counts (targeting and
// metrics never import each other).
type exposures struct{ store *metricsstore.Store }

func (x exposures) Exposures(ctx context.Context, customerID string, ids []campaign.ID) (map[campaign.ID]targeting.Exposure, error) {
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

// noObserver is the Observer of a client given none.
type noObserver struct{}

func (noObserver) CampaignEvent(string)                          {}
func (noObserver) Ingested(int)                                  {}
func (noObserver) Published(int, []time.Duration)                {}
func (noObserver) Aggregated(int)                                {}
func (noObserver) DeadLettered(int)                              {}
func (noObserver) RulesEngineCall(string, string, time.Duration) {}
func (noObserver) RulesEngineBreaker(string, string)             {}
func (noObserver) RulesEngineCache(bool)                         {}

// HotReads runs, once each and one after the other, the statements that the API's busiest
// reads send: a campaign by id with its metrics totals (GET /campaigns/{id}), and a page of
// the list without filters, first and after a cursor, newest and oldest first. It reads a
// campaign that does not exist and pages that are cheap to read. A host runs it on each
// connection of its pool before it says it is ready (database.Warm), so that on pgx every
// connection has prepared them (see database.Prepared) before the first request.
func (c *Client) HotReads(ctx context.Context) error {
	store := campaignstore.New(c.db)
	if _, err := store.Get(ctx, campaign.ID(uuid.Nil)); err != nil && !errors.Is(err, campaign.ErrNotFound) {
		return err
	}
	if _, err := c.metrics.TotalRows(ctx, uuid.Nil); err != nil {
		return err
	}
	after := &campaign.Cursor{Sort: campaign.SortCreatedAt, Value: c.cfg.Now().UTC().Format(time.RFC3339Nano)}
	for _, desc := range []bool{true, false} {
		for _, cur := range []*campaign.Cursor{nil, after} {
			f, err := campaign.Filter{Sort: campaign.SortCreatedAt, Desc: desc, Limit: 1}.WithDefaults()
			if err != nil {
				return err
			}
			if cur != nil {
				cur.Desc = desc
				f.After = cur
			}
			if _, err := store.List(ctx, f, nil); err != nil {
				return err
			}
		}
	}
	return nil
}
