package campaigns

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/shopspring/decimal"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
	"github.com/engine-rules-sp/campaigns/targeting"
)

// Config is everything a Client can be told. Its zero value, with Identify set, is a complete
// service: every feature is on, with the defaults each field notes; the features that can be
// switched off say so, and New refuses a Config that is invalid or contradictory with a
// *ConfigError naming the field.
type Config struct {
	// Identify tells who sends a request: the host's authentication. Mount and Handler need
	// it, since no route is open to anonymous callers; a process that mounts no routes (a
	// worker) may leave it out. A caller it cannot identify is Caller{} (anonymous: 401 unless
	// Authorize lets it through); an error refuses the request with 401 and the error's text,
	// or with the *httpx.Problem the error is.
	Identify func(r *http.Request) (Caller, error)
	// Authorize decides whether caller may use a route that requires perm, returning nil when
	// it may; an error refuses the request with 403 and the error's text, or with the
	// *httpx.Problem the error is. Default: the role table, auth.Grants over Caller.Roles: 401
	// for a caller with no identity and no role, 403 for one whose roles lack perm.
	Authorize func(r *http.Request, caller Caller, perm auth.Permission) error

	// HTTP bounds the requests the mounted routes take.
	HTTP HTTPConfig

	// AllowUntargeted lets campaigns without targeting rules start serving (to every
	// customer). Default: a campaign needs at least one targeting rule to start.
	AllowUntargeted bool
	// ApprovalThresholds are the budgets, per currency (ISO 4217), above which a campaign
	// needs an approval before it starts ({"EUR": "10000.00"}). Default: no approval.
	ApprovalThresholds map[string]string

	// RulesEngine connects the ENGINE-RULES-SP Rules Engine, which vets a campaign's rules when
	// it starts and evaluates them when serving. Nil switches targeting off: campaigns start
	// without their rules being vetted (targetingVerified stays false, and a campaign with
	// rules is never eligible) — say so with RulesEngine: nil on purpose.
	RulesEngine *RulesEngineConfig

	// Tracking is the tracking pipeline: POST .../track publishes to a JetStream stream, the
	// aggregator counts it exactly once.
	Tracking TrackingConfig
	// Events is the domain-event relay: the outbox published to a JetStream stream.
	Events EventsConfig
	// StreamReplicas is how many servers of a JetStream cluster keep a copy of every stream
	// the client creates: the tracking stream, its dead letters and the domain events; 1 to
	// natsx.MaxReplicas (0: 1). Three lets the streams survive the loss of a server. More than
	// one needs a cluster: on a single server Start fails with an error wrapping
	// natsx.ErrReplicasNeedCluster. A stream that exists with another count is brought to this
	// one when the client starts (see natsx.EnsureStream): give every instance the same value.
	StreamReplicas int
	// Automation completes campaigns past their end date and pauses or completes those at
	// their budget.
	Automation AutomationConfig
	// Idempotency keeps the answers of POSTs sent with an Idempotency-Key.
	Idempotency IdempotencyConfig
	// Worker says whether Start runs the background work: the relay, the aggregator, the
	// automation and the purge of expired idempotency keys.
	Worker WorkerConfig

	// Logger hears what no caller is told: retries, dead letters, a shutdown cut short
	// (default: discarded).
	Logger *slog.Logger
	// Observer receives the service's measurements (default: none);
	// platform/observability's Metrics is one.
	Observer Observer
	// Now is the clock of the campaign service, the idempotency keys and the serving
	// decisions, for tests and simulations (default: time.Now).
	Now func() time.Time
	// TracerProvider traces the service's asynchronous work with OpenTelemetry: the relay's
	// publications, /track's, the aggregator's flushes and the Rules Engine calls, each
	// carrying the W3C trace context across NATS (traceparent header, and the CloudEvents
	// extension of the domain events). Default: none (a no-op). The host traces its own HTTP
	// server and database: see platform/database.QueryTracer for Bun; platform/app does both.
	TracerProvider trace.TracerProvider
}

// HTTPConfig bounds the requests the mounted routes take.
type HTTPConfig struct {
	// BodyLimit is the largest request body in bytes: 413 beyond it (1 MiB).
	BodyLimit int64
	// ImportBodyLimit is the largest import body in bytes (64 MiB).
	ImportBodyLimit int64
	// ImportMaxLines is the most campaigns one import takes (100,000).
	ImportMaxLines int
	// ImportTempDir is where an all-or-nothing import spools its body (os.TempDir()).
	ImportTempDir string
	// BulkConcurrency is how many campaigns of one bulk action are acted on at once (4).
	BulkConcurrency int
	// TrustedOrigins are the origins ("https://console.example.com") whose pages may send
	// writes from a browser. Every mounted route refuses a POST, PUT or DELETE that a browser
	// sent from any other origin (403 cross-origin, see httpx.CrossOrigin); requests from the
	// host's own pages and from clients that are not browsers pass. "*" lets through a
	// cross-origin write that carries an Authorization or X-API-Key header: use it only when
	// Identify refuses requests whose credentials do not authenticate. Default: none.
	TrustedOrigins []string
}

// RulesEngineConfig connects the Rules Engine.
type RulesEngineConfig struct {
	// Client is the Rules Engine client's configuration: URL is required. Its Logger and
	// Metrics default to the Client's.
	Client targeting.Config
	// TargetingCategories are the categories a targeting rule may have
	// (targeting.DefaultTargetingCategories).
	TargetingCategories []string
	// Concurrency bounds the rule evaluations one serving request runs at once (16).
	Concurrency int
	// QuarantineAfter and QuarantineFor tune the quarantine of a rule the engine cannot run
	// (targeting.EvaluatorConfig: 3 failures in a row, 1m).
	QuarantineAfter int
	QuarantineFor   time.Duration
}

// TrackingConfig tunes the tracking pipeline.
type TrackingConfig struct {
	// Stream is the tracking stream and its partitions (zero fields: metrics.StreamConfig's
	// defaults); created at Start if missing. Its Replicas is StreamReplicas: leave it 0.
	Stream metrics.StreamConfig
	// MaxEventAmount bounds the revenue or cost of one event (metrics.Limits' default).
	MaxEventAmount decimal.Decimal
	// BatchSize, MaxCells and MaxWait tune the aggregator's flushes: a partition flushes
	// what it combined at whichever comes first of BatchSize events (20000), MaxCells
	// distinct rows (4000) or MaxWait (500 ms, at most a third of LeaseTTL).
	BatchSize int
	MaxCells  int
	MaxWait   time.Duration
	// LeaseTTL is how long a silent aggregator keeps its partitions (5 s).
	LeaseTTL time.Duration
	// CacheTTL is how long /track keeps a campaign's tracking rules when no change of it was
	// heard (2 s); negative: no cache.
	CacheTTL time.Duration
	// AckTimeout is how long /track waits for JetStream's acks before it answers that the
	// events' outcome is unknown (metrics.DefaultAckTimeout, 1 s).
	AckTimeout time.Duration
}

// EventsConfig tunes the domain-event relay.
type EventsConfig struct {
	// Stream is the JetStream stream of the domain events (CAMPAIGN_EVENTS); its subjects are
	// campaigns.events.<Type>.
	Stream string
	// Source is the CloudEvents source of the events (/campaigns).
	Source string
	// DuplicateWindow is JetStream's de-duplication window (2 min).
	DuplicateWindow time.Duration
	// MaxAge is how long the stream keeps events (30 days); negative: forever.
	MaxAge time.Duration
	// BatchSize is how many events the relay publishes per round (outbox.DefaultBatchSize).
	BatchSize int
	// PollInterval is how often an idle relay looks for events written by other processes
	// (250 ms); the service's own writes wake it at once.
	PollInterval time.Duration
	// IgnoreOthers switches off the subscription to the domain events that tells /track's
	// cache of other processes' changes. Default: subscribed, so that an edit made by another
	// API instance or by the automation is seen by the next tracking request.
	IgnoreOthers bool
}

// AutomationConfig tunes the automation.
type AutomationConfig struct {
	// Interval is how often it runs (15 s).
	Interval time.Duration
	// PauseAt and CompleteAt are the shares of the budget spent that pause and complete a
	// campaign (0.9 and 1.0).
	PauseAt, CompleteAt decimal.Decimal
	// BatchSize is how many campaigns it handles per run and kind (100).
	BatchSize int
	// Alerts tunes the alert events it records (campaign.AlertConfig's defaults).
	Alerts campaign.AlertConfig
}

// IdempotencyConfig tunes the Idempotency-Key store.
type IdempotencyConfig struct {
	// TTL is how long a key's answer is kept (24 h).
	TTL time.Duration
	// StaleAfter is when a key whose request never finished (its process died) may be taken
	// over by a retry (1 min); keep it above the longest request.
	StaleAfter time.Duration
}

// WorkerConfig says where the background work runs.
type WorkerConfig struct {
	// Disabled leaves the background work to another process (a campaigns-worker, or another
	// instance that runs it): Start then runs none of it. Events written here are published
	// by that process's relay, and tracking events counted by its aggregator.
	Disabled bool
}

// Observer receives the service's measurements; platform/observability's Metrics
// implements it.
type Observer interface {
	// CampaignEvent counts one committed domain event of the type.
	CampaignEvent(eventType string)
	// Ingested counts tracking events /track accepted.
	Ingested(n int)
	outbox.RelayMetrics
	metrics.AggregatorMetrics
	targeting.Metrics
}

// ConfigError is a Config that New refuses: Field names the field (as Go spells it, such as
// "Tracking.Stream.Partitions"), Reason says what is wrong.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "campaigns: Config." + e.Field + ": " + e.Reason }

// ErrNoJetStream: New was given no JetStream context; tracking and the domain events need one.
var ErrNoJetStream = errors.New("campaigns: a JetStream context is required: tracking and the domain events travel on NATS JetStream")

// validate checks what New would otherwise discover at run time.
func (c Config) validate() error {
	if c.HTTP.BodyLimit < 0 {
		return &ConfigError{"HTTP.BodyLimit", "must not be negative"}
	}
	if c.HTTP.ImportBodyLimit < 0 {
		return &ConfigError{"HTTP.ImportBodyLimit", "must not be negative"}
	}
	if c.HTTP.ImportMaxLines < 0 {
		return &ConfigError{"HTTP.ImportMaxLines", "must not be negative"}
	}
	if c.HTTP.BulkConcurrency < 0 {
		return &ConfigError{"HTTP.BulkConcurrency", "must not be negative"}
	}
	if _, err := httpx.CrossOrigin(c.HTTP.TrustedOrigins); err != nil {
		return &ConfigError{"HTTP.TrustedOrigins", err.Error()}
	}
	if _, err := approvalThresholds(c.ApprovalThresholds); err != nil {
		return err
	}
	if r := c.RulesEngine; r != nil {
		if err := absoluteURL("RulesEngine.Client.URL", r.Client.URL, true); err != nil {
			return err
		}
		if err := absoluteURL("RulesEngine.Client.EvaluationURL", r.Client.EvaluationURL, false); err != nil {
			return err
		}
		for _, d := range []struct {
			field string
			d     time.Duration
		}{{"RulesEngine.Client.Timeout", r.Client.Timeout}, {"RulesEngine.Client.CacheTTL", r.Client.CacheTTL},
			{"RulesEngine.Client.BreakerOpenFor", r.Client.BreakerOpenFor}} {
			if d.d < 0 {
				return &ConfigError{d.field, "must not be negative"}
			}
		}
		if r.Client.MaxRetries < 0 {
			return &ConfigError{"RulesEngine.Client.MaxRetries", "must not be negative"}
		}
		if r.Concurrency < 0 {
			return &ConfigError{"RulesEngine.Concurrency", "must not be negative"}
		}
		for i, cat := range r.TargetingCategories {
			if cat == "" {
				return &ConfigError{fmt.Sprintf("RulesEngine.TargetingCategories[%d]", i), "must not be empty"}
			}
		}
	}
	if r := c.StreamReplicas; r < 0 || r > natsx.MaxReplicas {
		return &ConfigError{"StreamReplicas", fmt.Sprintf("must be from 1 to %d (0: 1)", natsx.MaxReplicas)}
	}
	t := c.Tracking
	if r := t.Stream.Replicas; r != 0 && r != max(c.StreamReplicas, 1) {
		return &ConfigError{"Tracking.Stream.Replicas", "is set by StreamReplicas, which applies to every stream: leave it 0"}
	}
	if p := t.Stream.Partitions; p < 0 || p > metrics.MaxPartitions {
		return &ConfigError{"Tracking.Stream.Partitions", fmt.Sprintf("must be from 1 to %d (0: %d)", metrics.MaxPartitions, metrics.DefaultPartitions)}
	}
	if t.MaxEventAmount.IsNegative() {
		return &ConfigError{"Tracking.MaxEventAmount", "must not be negative"}
	}
	if t.BatchSize < 0 {
		return &ConfigError{"Tracking.BatchSize", "must not be negative"}
	}
	if t.MaxCells < 0 {
		return &ConfigError{"Tracking.MaxCells", "must not be negative"}
	}
	for _, d := range []struct {
		field string
		d     time.Duration
	}{{"Tracking.Stream.MaxAge", t.Stream.MaxAge}, {"Tracking.Stream.DuplicateWindow", t.Stream.DuplicateWindow},
		{"Tracking.MaxWait", t.MaxWait}, {"Tracking.LeaseTTL", t.LeaseTTL}, {"Tracking.AckTimeout", t.AckTimeout},
		{"Events.DuplicateWindow", c.Events.DuplicateWindow}, {"Events.PollInterval", c.Events.PollInterval},
		{"Automation.Interval", c.Automation.Interval},
		{"Idempotency.TTL", c.Idempotency.TTL}, {"Idempotency.StaleAfter", c.Idempotency.StaleAfter}} {
		if d.d < 0 {
			return &ConfigError{d.field, "must not be negative"}
		}
	}
	if c.Events.BatchSize < 0 {
		return &ConfigError{"Events.BatchSize", "must not be negative"}
	}
	a := c.Automation
	if a.PauseAt.IsNegative() {
		return &ConfigError{"Automation.PauseAt", "must not be negative (0: 0.9)"}
	}
	if a.CompleteAt.IsNegative() || a.CompleteAt.GreaterThan(decimal.NewFromInt(10)) {
		return &ConfigError{"Automation.CompleteAt", "must be a share of the budget from 0 to 10; 1 means 100% (0: 1)"}
	}
	pause, complete := a.PauseAt, a.CompleteAt
	if pause.IsZero() {
		pause = decimal.RequireFromString("0.9")
	}
	if complete.IsZero() {
		complete = decimal.NewFromInt(1)
	}
	if pause.GreaterThan(complete) {
		return &ConfigError{"Automation.PauseAt", fmt.Sprintf("%s is above Automation.CompleteAt %s: a campaign would complete before it pauses", pause, complete)}
	}
	if a.BatchSize < 0 {
		return &ConfigError{"Automation.BatchSize", "must not be negative"}
	}
	for _, d := range []struct {
		field string
		v     decimal.Decimal
	}{{"Automation.Alerts.PacingBand", a.Alerts.PacingBand}, {"Automation.Alerts.DailyBudgetAt", a.Alerts.DailyBudgetAt},
		{"Automation.Alerts.CTRCollapseRatio", a.Alerts.CTRCollapseRatio}} {
		if d.v.IsNegative() || d.v.GreaterThan(decimal.NewFromInt(1)) {
			return &ConfigError{d.field, "must be a share from 0 to 1 (0: the default)"}
		}
	}
	if a.Alerts.CTRMinImpressions < 0 {
		return &ConfigError{"Automation.Alerts.CTRMinImpressions", "must not be negative (0: 1000)"}
	}
	return nil
}

// approvalThresholds parses the thresholds with the campaign's money rules.
func approvalThresholds(raw map[string]string) (campaign.ApprovalThresholds, error) {
	t, err := campaign.NewApprovalThresholds(raw)
	var terr *campaign.ThresholdError
	if errors.As(err, &terr) {
		return nil, &ConfigError{"ApprovalThresholds[" + terr.Currency + "]", terr.Reason}
	}
	return t, err
}

// absoluteURL checks that s is an http(s) URL with a host (required: not empty either).
func absoluteURL(field, s string, required bool) error {
	if s == "" {
		if required {
			return &ConfigError{field, "is required (set RulesEngine to nil to run without a Rules Engine)"}
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &ConfigError{field, fmt.Sprintf("%q is not an http(s) URL with a host", s)}
	}
	return nil
}
