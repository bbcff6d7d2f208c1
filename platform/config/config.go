// Package config loads the service configuration: defaults, then a YAML file, then the
// environment. It uses its own viper instance, never viper's global one.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/shopspring/decimal"
	"github.com/spf13/viper"
)

// Config is the whole service configuration.
type Config struct {
	DataDir     string      `mapstructure:"data_dir"`
	HTTP        HTTP        `mapstructure:"http"`
	Database    Database    `mapstructure:"database"`
	NATS        NATS        `mapstructure:"nats"`
	RulesEngine RulesEngine `mapstructure:"rules_engine"`
	Activation  Activation  `mapstructure:"activation"`
	Approval    Approval    `mapstructure:"approval"`
	Worker      Worker      `mapstructure:"worker"`
	Automation  Automation  `mapstructure:"automation"`
	Events      Events      `mapstructure:"events"`
	Metrics     Metrics     `mapstructure:"metrics"`
	Idempotency Idempotency `mapstructure:"idempotency"`
	Log         Log         `mapstructure:"log"`
	Tracing     Tracing     `mapstructure:"tracing"`
	Auth        Auth        `mapstructure:"auth"`
	RateLimit   RateLimit   `mapstructure:"rate_limit"`
	CORS        CORS        `mapstructure:"cors"`
}

// HTTP is the API listener.
type HTTP struct {
	Host            string        `mapstructure:"host"`
	Port            int           `mapstructure:"port"`
	ReadTimeout     time.Duration `mapstructure:"read_timeout"`
	WriteTimeout    time.Duration `mapstructure:"write_timeout"`
	IdleTimeout     time.Duration `mapstructure:"idle_timeout"`
	RequestTimeout  time.Duration `mapstructure:"request_timeout"`
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	BodyLimit       int64         `mapstructure:"body_limit"`
	// ImportBodyLimit is the body limit of POST /campaigns/import, in bytes (413 beyond): a
	// file of campaigns is read as a stream, so it may be far larger than a JSON body.
	ImportBodyLimit int64 `mapstructure:"import_body_limit"`
	// ImportMaxLines is the most campaigns one import takes (413 beyond): its report has one
	// result per line, so this bounds the answer and the memory behind it.
	ImportMaxLines int `mapstructure:"import_max_lines"`
	// TransferTimeout is the deadline of an export or an import: it replaces request_timeout,
	// read_timeout and write_timeout for those two routes.
	TransferTimeout time.Duration `mapstructure:"transfer_timeout"`
	// HeaderLimit bounds the request line and headers, in bytes (431 beyond).
	HeaderLimit int `mapstructure:"header_limit"`
	// TrustedProxies are the CIDRs (or addresses) of reverse proxies whose X-Forwarded-For is
	// believed; empty: the client address is the connection's peer.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
}

// Addr is the host:port the listener binds.
func (h HTTP) Addr() string { return net.JoinHostPort(h.Host, fmt.Sprint(h.Port)) }

// Database drivers.
const (
	DriverPostgres = "postgres"
	DriverSQLite   = "sqlite"
)

// Database selects and tunes the store.
type Database struct {
	Driver          string        `mapstructure:"driver"`
	AutoMigrate     bool          `mapstructure:"auto_migrate"`
	URL             string        `mapstructure:"url"`
	Host            string        `mapstructure:"host"`
	Port            int           `mapstructure:"port"`
	User            string        `mapstructure:"user"`
	Password        string        `mapstructure:"password"`
	Name            string        `mapstructure:"name"`
	SSLMode         string        `mapstructure:"sslmode"`
	SQLitePath      string        `mapstructure:"sqlite_path"`
	MaxOpenConns    int           `mapstructure:"max_open_conns"`
	MaxIdleConns    int           `mapstructure:"max_idle_conns"`
	ConnMaxLifetime time.Duration `mapstructure:"conn_max_lifetime"`
	ConnMaxIdleTime time.Duration `mapstructure:"conn_max_idle_time"`
}

// PostgresURL is the connection URL: database.url when set, else one built from the parts.
func (d Database) PostgresURL() string {
	if d.URL != "" {
		return d.URL
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(d.User, d.Password),
		Host:     net.JoinHostPort(d.Host, fmt.Sprint(d.Port)),
		Path:     "/" + d.Name,
		RawQuery: url.Values{"sslmode": {d.SSLMode}}.Encode(),
	}
	if d.Password == "" {
		u.User = url.User(d.User)
	}
	return u.String()
}

// NATS is the message broker. An empty URL with embedded: true starts an in-process
// server storing under the data dir.
type NATS struct {
	URL          string `mapstructure:"url"`
	Embedded     bool   `mapstructure:"embedded"`
	EmbeddedPort int    `mapstructure:"embedded_port"` // 0: the embedded server listens on no port
	Username     string `mapstructure:"username"`
	Password     string `mapstructure:"password"`
	Token        string `mapstructure:"token"`
	TLSCAFile    string `mapstructure:"tls_ca_file"`
	TLSCertFile  string `mapstructure:"tls_cert_file"`
	TLSKeyFile   string `mapstructure:"tls_key_file"`
	// Replicas is how many servers of the JetStream cluster keep a copy of each stream the
	// service creates (tracking, its dead letters, domain events): 3 survives the loss of a
	// server. More than 1 needs a cluster (nats.url); existing streams are brought to it at
	// start.
	Replicas int `mapstructure:"replicas"`
}

// Metrics is the tracking stream and the aggregation worker.
type Metrics struct {
	Stream          string        `mapstructure:"stream"`
	MaxAge          time.Duration `mapstructure:"max_age"`
	DuplicateWindow time.Duration `mapstructure:"duplicate_window"`
	BatchSize       int           `mapstructure:"batch_size"`
	// MaxCells is how many distinct rows (hourly rollups and customer exposures) a
	// partition's batch combines before it is flushed.
	MaxCells int           `mapstructure:"max_cells"`
	MaxWait  time.Duration `mapstructure:"max_wait"`
	// MaxEventAmount is the largest cost or revenue one tracking event may carry, in the
	// campaign's currency: /track refuses a larger one and the worker dead-letters it.
	MaxEventAmount decimal.Decimal `mapstructure:"max_event_amount"`
	// Partitions is P: tracking events are spread over P partitions by campaign id, each
	// counted by one worker at a time.
	Partitions int `mapstructure:"partitions"`
	// LeaseTTL is how long a silent worker keeps its partitions.
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
	// TrackCacheTTL is how long /track keeps a campaign's tracking rules without reading it
	// again when no change was heard of (0: read it on every request).
	TrackCacheTTL time.Duration `mapstructure:"track_cache_ttl"`
	// TrackAckTimeout is how long /track waits for JetStream to acknowledge a request's
	// events before it answers that their outcome is unknown (504).
	TrackAckTimeout time.Duration `mapstructure:"track_ack_timeout"`
}

// Events is the domain-event stream and its relay.
type Events struct {
	Stream          string        `mapstructure:"stream"`
	Source          string        `mapstructure:"source"`
	DuplicateWindow time.Duration `mapstructure:"duplicate_window"`
	MaxAge          time.Duration `mapstructure:"max_age"`
	BatchSize       int           `mapstructure:"batch_size"`
	PollInterval    time.Duration `mapstructure:"poll_interval"`
}

// RulesEngine locates the external Rules Engine and tunes the client. An empty URL turns
// targeting checks off. EvaluationURL defaults to URL.
type RulesEngine struct {
	// Enabled false turns the targeting checks off whatever the URLs say (an empty environment
	// variable cannot clear a URL the file sets): Load then leaves URL and EvaluationURL empty.
	Enabled       bool          `mapstructure:"enabled"`
	URL           string        `mapstructure:"url"`
	EvaluationURL string        `mapstructure:"evaluation_url"`
	Token         string        `mapstructure:"token"`
	Timeout       time.Duration `mapstructure:"timeout"` // per attempt
	// MaxRetries is how often a failed rule read (a GET) is retried; evaluations never are.
	MaxRetries int `mapstructure:"max_retries"`
	// CacheTTL is how long rule metadata is reused for eligibility (0: not cached).
	CacheTTL time.Duration `mapstructure:"cache_ttl"`
	// Concurrency bounds the rule evaluations one eligibility request runs at once.
	Concurrency int `mapstructure:"concurrency"`
	// BreakerFailures consecutive failures open the circuit breaker for BreakerOpenFor.
	BreakerFailures int           `mapstructure:"breaker_failures"`
	BreakerOpenFor  time.Duration `mapstructure:"breaker_open_for"`
	// QuarantineAfter evaluations in a row that the engine cannot run (its 500 or 4xx for one
	// rule while others evaluate) quarantine that rule alone for QuarantineFor.
	QuarantineAfter int           `mapstructure:"quarantine_after"`
	QuarantineFor   time.Duration `mapstructure:"quarantine_for"`
	// TargetingCategories are the rule categories a targeting rule may have at activation:
	// those whose evaluation answers a boolean eligible (PROMOTIONS in today's engine).
	TargetingCategories []string `mapstructure:"targeting_categories"`
}

// EffectiveEvaluationURL is the rules-evaluation base URL the client uses: EvaluationURL, else
// URL.
func (r RulesEngine) EffectiveEvaluationURL() string {
	if r.EvaluationURL != "" {
		return r.EvaluationURL
	}
	return r.URL
}

// Activation tunes what activating (and resuming) a campaign requires.
type Activation struct {
	// AllowUntargeted lets campaigns without targeting rules start; by default at least one
	// targeting rule is required (422 naming targetingRules).
	AllowUntargeted bool `mapstructure:"allow_untargeted"`
}

// Approval is approval above a budget threshold (campaign.ApprovalThresholds).
type Approval struct {
	// Thresholds are the budget amounts, by ISO 4217 currency, above which a campaign must be
	// approved before it starts or resumes: {"EUR": "10000.00"}. Empty (the default): approval
	// is never required. The environment form is one string, "EUR=10000.00,USD=12000". The
	// amounts are parsed, with the campaign's money rules, when the service is built.
	Thresholds map[string]string `mapstructure:"thresholds"`
}

// Worker is the background worker: its own health listener, and whether the API process
// runs it in-process.
type Worker struct {
	Embedded bool   `mapstructure:"embedded"`
	Host     string `mapstructure:"host"`
	Port     int    `mapstructure:"port"`
}

// Automation tunes the lifecycle automation: end dates and budget thresholds.
type Automation struct {
	Interval   time.Duration `mapstructure:"interval"`
	PauseAt    float64       `mapstructure:"pause_at"`    // share of the budget spent that pauses
	CompleteAt float64       `mapstructure:"complete_at"` // share that completes
	BatchSize  int           `mapstructure:"batch_size"`
	// The alert events (campaign/alerts.go): how far off its pacing plan (a share of the
	// period's budget), how much of a daily budget spent, and how low the last hour's CTR
	// against the trailing week's, with how many impressions, before they are recorded.
	PacingAlertBand           float64 `mapstructure:"pacing_alert_band"`
	DailyBudgetAlertAt        float64 `mapstructure:"daily_budget_alert_at"`
	CTRCollapseRatio          float64 `mapstructure:"ctr_collapse_ratio"`
	CTRCollapseMinImpressions int64   `mapstructure:"ctr_collapse_min_impressions"`
}

// Idempotency tunes Idempotency-Key handling.
type Idempotency struct {
	TTL time.Duration `mapstructure:"ttl"`
}

// Authentication modes (auth.mode).
const (
	AuthNone         = "none"
	AuthJWT          = "jwt"
	AuthAPIKey       = "apikey"
	AuthJWTOrAPIKey  = "jwt+apikey"
	AuthMaxLeeway    = 5 * time.Minute
	authMinRefreshAt = time.Second
)

// Auth is authentication (see platform/auth). Secrets: JWTSecret; API keys are stored as
// SHA-256 hashes only.
type Auth struct {
	Mode           string `mapstructure:"mode"`
	AllowAnonymous bool   `mapstructure:"allow_anonymous"` // mode none on a non-loopback listener
	JWTSecret      string `mapstructure:"jwt_secret"`      // HS256/384/512 shared secret
	JWKSURL        string `mapstructure:"jwks_url"`        // RS/ES keys
	// JWKSRefreshInterval is how old the cached key set may get before it is fetched again.
	JWKSRefreshInterval time.Duration `mapstructure:"jwks_refresh_interval"`
	JWKSFetchTimeout    time.Duration `mapstructure:"jwks_fetch_timeout"`
	// JWKSMinRefetchInterval bounds how often a token with an unknown kid refetches the set.
	JWKSMinRefetchInterval time.Duration `mapstructure:"jwks_min_refetch_interval"`
	Algorithms             []string      `mapstructure:"algorithms"`
	Issuer                 string        `mapstructure:"issuer"`
	Audience               string        `mapstructure:"audience"`
	Leeway                 time.Duration `mapstructure:"leeway"`
	RolesClaim             string        `mapstructure:"roles_claim"`
	APIKeys                []APIKey      `mapstructure:"api_keys"`
	PublicMetrics          bool          `mapstructure:"public_metrics"`
}

// APIKey is one API key: its SHA-256 (hex), never the key itself.
type APIKey struct {
	Name   string   `mapstructure:"name" json:"name"`
	SHA256 string   `mapstructure:"sha256" json:"sha256"`
	Roles  []string `mapstructure:"roles" json:"roles"`
	// Owner is the user id (UUID) of who holds the key: requests with it act as that user
	// (authorship, history, approvals). Required (platform/auth refuses a key without one).
	Owner   string `mapstructure:"owner" json:"owner"`
	Subject string `mapstructure:"subject" json:"subject"` // the older name of owner
}

// RateLimit is the per-caller token bucket.
type RateLimit struct {
	Enabled           bool          `mapstructure:"enabled"`
	RequestsPerSecond float64       `mapstructure:"requests_per_second"`
	Burst             int           `mapstructure:"burst"`
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"` // a caller's bucket is forgotten after this
	MaxClients        int           `mapstructure:"max_clients"`  // buckets kept at most, per class
	Serving           RateClass     `mapstructure:"serving"`
}

// RateClass is the rate and burst of one class of routes.
type RateClass struct {
	RequestsPerSecond float64 `mapstructure:"requests_per_second"`
	Burst             int     `mapstructure:"burst"`
}

// CORS allows browsers on other origins; no origins: CORS is off.
type CORS struct {
	AllowedOrigins   []string      `mapstructure:"allowed_origins"`
	AllowCredentials bool          `mapstructure:"allow_credentials"`
	MaxAge           time.Duration `mapstructure:"max_age"`
}

// Addr is the host:port of the worker's health listener.
func (w Worker) Addr() string { return net.JoinHostPort(w.Host, fmt.Sprint(w.Port)) }

// Tracing is the OpenTelemetry tracing of the binaries, exported over OTLP/HTTP. The
// standard OTEL_* variables apply as well (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
// OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES...): see platform/app.
type Tracing struct {
	// Enabled exports traces (off by default; OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT in the environment turns it on too).
	Enabled bool `mapstructure:"enabled"`
	// Endpoint is the OTLP/HTTP collector's base URL (http://collector:4318); empty: the
	// OTEL_EXPORTER_OTLP_* variables', else http://localhost:4318.
	Endpoint string `mapstructure:"endpoint"`
	// SampleRatio is the share of new traces sampled (a request that arrives traced follows
	// its caller's choice); OTEL_TRACES_SAMPLER, when set, replaces it.
	SampleRatio float64 `mapstructure:"sample_ratio"`
}

// Log is the logger.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// defaults holds every key: viper only maps environment variables onto keys it knows, so a key
// without a default could not be overridden from the environment.
var defaults = map[string]any{
	"data_dir":                    "./data",
	"http.host":                   "127.0.0.1",
	"http.port":                   8080,
	"http.read_timeout":           "10s",
	"http.write_timeout":          "30s",
	"http.idle_timeout":           "120s",
	"http.request_timeout":        "15s",
	"http.shutdown_timeout":       "20s",
	"http.body_limit":             1 << 20,
	"http.import_body_limit":      64 << 20,
	"http.import_max_lines":       100_000,
	"http.transfer_timeout":       "15m",
	"http.header_limit":           64 << 10,
	"database.driver":             DriverSQLite,
	"database.auto_migrate":       true,
	"database.url":                "",
	"database.host":               "localhost",
	"database.port":               5432,
	"database.user":               "postgres",
	"database.password":           "",
	"database.name":               "campaigns_db",
	"database.sslmode":            "disable",
	"database.sqlite_path":        "",
	"database.max_open_conns":     20,
	"database.max_idle_conns":     20,
	"database.conn_max_lifetime":  "30m",
	"database.conn_max_idle_time": "5m",
	"nats.url":                    "",
	"nats.embedded":               true,
	"nats.username":               "",
	"nats.password":               "",
	"nats.token":                  "",
	"nats.embedded_port":          0,
	"nats.tls_ca_file":            "",
	"nats.tls_cert_file":          "",
	"nats.tls_key_file":           "",
	"nats.replicas":               1,
	"metrics.stream":              "CAMPAIGN_TRACKING",
	"metrics.max_age":             "168h",
	"metrics.duplicate_window":    "10m",
	"metrics.batch_size":          20000,
	"metrics.max_cells":           4000,
	"metrics.max_wait":            "500ms",
	"metrics.max_event_amount":    "1000000000",
	"metrics.partitions":          16,
	"metrics.lease_ttl":           "5s",
	"metrics.track_cache_ttl":     "2s",
	"metrics.track_ack_timeout":   "1s",
	"events.stream":               "CAMPAIGN_EVENTS",
	"events.source":               "/campaigns",
	"events.duplicate_window":     "2m",
	"events.max_age":              "720h",
	"events.batch_size":           1000,
	"events.poll_interval":        "250ms",
	"rules_engine.enabled":        true,
	"rules_engine.url":            "",
	"rules_engine.evaluation_url": "",
	"rules_engine.token":          "",
	"rules_engine.timeout":        "2s",
	"worker.embedded":             true,
	"worker.host":                 "127.0.0.1",
	"worker.port":                 8082,
	"automation.interval":         "15s",
	"automation.pause_at":         0.9,
	"automation.complete_at":      1.0,
	"automation.batch_size":       100,
	"idempotency.ttl":             "24h",
	"log.level":                   "info",
	"log.format":                  "json",
	"tracing.enabled":             false,
	"tracing.endpoint":            "",
	"tracing.sample_ratio":        1.0,

	// The alert events' thresholds (campaign.AlertConfig).
	"automation.pacing_alert_band":            0.10,
	"automation.daily_budget_alert_at":        0.9,
	"automation.ctr_collapse_ratio":           0.5,
	"automation.ctr_collapse_min_impressions": 1000,

	// The Rules Engine client's tuning (see targeting.Config) and how many rule evaluations one
	// eligibility request runs at once (targeting.NewEvaluator).
	"rules_engine.max_retries":      2,
	"rules_engine.cache_ttl":        "30s",
	"rules_engine.concurrency":      16,
	"rules_engine.breaker_failures": 5,
	"rules_engine.breaker_open_for": "30s",
	"rules_engine.quarantine_after": 3,
	"rules_engine.quarantine_for":   "1m",
	// The rule categories whose evaluation answers a boolean eligible (targeting.CheckConfig).
	"rules_engine.targeting_categories": []string{"PROMOTIONS"},
	"activation.allow_untargeted":       false,
	"approval.thresholds":               map[string]string{},

	// Security (platform/auth) and abuse limits.
	"http.trusted_proxies":           []string{},
	"auth.mode":                      AuthNone,
	"auth.allow_anonymous":           false,
	"auth.jwt_secret":                "",
	"auth.jwks_url":                  "",
	"auth.jwks_refresh_interval":     "15m",
	"auth.jwks_fetch_timeout":        "5s",
	"auth.jwks_min_refetch_interval": "30s",
	"auth.algorithms":                []string{"RS256", "ES256", "HS256"},
	"auth.issuer":                    "",
	"auth.audience":                  "",
	"auth.leeway":                    "30s",
	"auth.roles_claim":               "roles",
	"auth.api_keys":                  []any{},
	"auth.public_metrics":            true,
	"rate_limit.enabled":             true,
	"rate_limit.requests_per_second": 50,
	"rate_limit.burst":               100,
	"rate_limit.idle_timeout":        "10m",
	"rate_limit.max_clients":         100000,
	// Serving and tracking routes (evaluate, track): service-to-service traffic.
	"rate_limit.serving.requests_per_second": 2000,
	"rate_limit.serving.burst":               4000,
	"cors.allowed_origins":                   []string{},
	"cors.allow_credentials":                 false,
	"cors.max_age":                           "10m",
}

// legacyEnv maps the seed service's environment variables onto keys. The CAMPAIGNS_ form of a
// key wins over its legacy name when both are set.
var legacyEnv = map[string]string{
	"http.port":                   "PORT",
	"database.host":               "DB_HOST",
	"database.port":               "DB_PORT",
	"database.user":               "DB_USER",
	"database.password":           "DB_PASSWORD",
	"database.name":               "DB_NAME",
	"database.sslmode":            "DB_SSLMODE",
	"nats.url":                    "NATS_URL",
	"nats.username":               "NATS_USERNAME",
	"nats.password":               "NATS_PASSWORD",
	"nats.token":                  "NATS_TOKEN",
	"rules_engine.url":            "RULES_SERVICE_URL",
	"rules_engine.evaluation_url": "RULES_EVALUATION_URL",
}

// EnvPrefix is the prefix of every environment override: CAMPAIGNS_HTTP_PORT sets http.port.
const EnvPrefix = "CAMPAIGNS"

// DefaultFile is read when neither --config nor CAMPAIGNS_CONFIG names a file.
const DefaultFile = "configs/config.yaml"

// Error is an invalid configuration. Key names the offending setting.
type Error struct {
	Key    string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("invalid config %s: %s", e.Key, e.Reason) }

// Load reads the configuration. path is the --config flag ("" when not given); lookup reads
// the environment (os.LookupEnv in production, a map in tests).
func Load(path string, lookup func(string) (string, bool)) (*Config, error) {
	v := viper.New()
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	file, explicit := path, path != ""
	if !explicit {
		if env, ok := lookup(EnvPrefix + "_CONFIG"); ok && env != "" {
			file, explicit = env, true
		} else {
			file = DefaultFile
		}
	}
	v.SetConfigFile(file)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		// The default file is optional: a binary run from another folder still starts on
		// built-in defaults. A file the user named must exist.
		var notFound *os.PathError
		if explicit || !errors.As(err, &notFound) {
			return nil, &Error{Key: "file " + file, Reason: err.Error()} // "invalid config file <path>: ..."
		}
	}
	for _, key := range v.AllKeys() {
		names := []string{EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))}
		if legacy, ok := legacyEnv[key]; ok {
			names = append(names, legacy)
		}
		for _, name := range names {
			// Set but empty counts as unset: deployment templates often render empty values.
			if val, ok := lookup(name); ok && val != "" {
				v.Set(key, val)
				break
			}
		}
	}
	var cfg Config
	dec := viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		durationNeedsUnit,
		mapstructure.StringToTimeDurationHookFunc(),
		apiKeysFromJSON,
		listFromString,
		thresholdsFromString,
		decimalFromScalar,
	))
	if err := v.UnmarshalExact(&cfg, dec, func(c *mapstructure.DecoderConfig) { c.ErrorUnused = true }); err != nil {
		return nil, decodeError(err)
	}
	if !cfg.RulesEngine.Enabled {
		cfg.RulesEngine.URL, cfg.RulesEngine.EvaluationURL = "", ""
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Database.SQLitePath == "" {
		cfg.Database.SQLitePath = filepath.Join(cfg.DataDir, "campaigns.db")
	}
	return &cfg, nil
}

// durationNeedsUnit rejects a bare YAML number for a duration: "timeout: 5" would otherwise
// decode as 5 nanoseconds.
func durationNeedsUnit(from, to reflect.Type, data any) (any, error) {
	if to == reflect.TypeFor[time.Duration]() && from.Kind() != reflect.String && from != to {
		return nil, fmt.Errorf("must be a duration with a unit such as 10s (got %v)", data)
	}
	return data, nil
}

// apiKeysFromJSON reads auth.api_keys given as one string (an environment variable) as a JSON
// array of {name, sha256, roles, owner}.
func apiKeysFromJSON(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeFor[[]APIKey]() {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []map[string]any{}, nil
	}
	var out []map[string]any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, errors.New(`must be a JSON array such as [{"name":"ingest","sha256":"<hex>","roles":["tracker"],"owner":"<user id>"}]`)
	}
	return out, nil
}

// listFromString reads a list given as one string (an environment variable) as comma-separated
// values.
func listFromString(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeFor[[]string]() {
		return data, nil
	}
	out := []string{}
	for part := range strings.SplitSeq(data.(string), ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out, nil
}

// thresholdsFromString reads approval.thresholds given as one string (an environment
// variable): comma-separated CURRENCY=amount pairs such as "EUR=10000.00,USD=12000".
func thresholdsFromString(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeFor[map[string]string]() {
		return data, nil
	}
	out := map[string]string{}
	for part := range strings.SplitSeq(data.(string), ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		code, amount, ok := strings.Cut(part, "=")
		code, amount = strings.TrimSpace(code), strings.TrimSpace(amount)
		if !ok || code == "" || amount == "" {
			return nil, fmt.Errorf("must be comma-separated CURRENCY=amount pairs such as EUR=10000.00,USD=12000 (got %q)", part)
		}
		if _, dup := out[strings.ToUpper(code)]; dup {
			return nil, fmt.Errorf("gives %s twice", code)
		}
		out[strings.ToUpper(code)] = amount
	}
	return out, nil
}

// decimalFromScalar reads an exact decimal from a string ("1000000000.50") or a YAML integer.
func decimalFromScalar(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[decimal.Decimal]() {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
		return decimal.NewFromString(strings.TrimSpace(data.(string)))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return decimal.NewFromInt(reflect.ValueOf(data).Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return decimal.NewFromUint64(reflect.ValueOf(data).Uint()), nil
	default:
		return nil, fmt.Errorf("must be a decimal number such as 1000000000, not %s", from.Kind())
	}
}

// decodeError turns mapstructure's report into one Error naming the first bad key.
func decodeError(err error) error {
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		// Unknown keys are reported on their parent ("" for the root): name the key itself.
		reason := de.Unwrap().Error()
		if keys, ok := strings.CutPrefix(reason, "has invalid keys: "); ok {
			first, _, _ := strings.Cut(keys, ", ")
			key := first
			// The root is "" (mapstructure before 2.5) or its Go type's name (2.5 on).
			if name := de.Name(); name != "" && name != reflect.TypeFor[Config]().String() {
				key = name + "." + first
			}
			return &Error{Key: key, Reason: "is not a known setting"}
		}
		return &Error{Key: de.Name(), Reason: reason}
	}
	msg := err.Error()
	if i := strings.Index(msg, "'"); i >= 0 {
		if j := strings.Index(msg[i+1:], "'"); j >= 0 {
			key := msg[i+1 : i+1+j]
			reason := strings.TrimSpace(msg[i+1+j+1:])
			return &Error{Key: key, Reason: strings.TrimPrefix(reason, ": ")}
		}
	}
	return &Error{Key: "config", Reason: msg}
}

func (c *Config) validate() error {
	checks := []struct {
		key string
		bad bool
		why string
	}{
		{"data_dir", c.DataDir == "", "must not be empty"},
		{"http.port", c.HTTP.Port < 1 || c.HTTP.Port > 65535, "must be a TCP port (1-65535)"},
		{"http.read_timeout", c.HTTP.ReadTimeout <= 0, "must be a positive duration such as 10s"},
		{"http.write_timeout", c.HTTP.WriteTimeout <= 0, "must be a positive duration such as 30s"},
		{"http.idle_timeout", c.HTTP.IdleTimeout <= 0, "must be a positive duration such as 120s"},
		{"http.request_timeout", c.HTTP.RequestTimeout <= 0, "must be a positive duration such as 15s"},
		{"http.shutdown_timeout", c.HTTP.ShutdownTimeout <= 0, "must be a positive duration such as 20s"},
		{"http.body_limit", c.HTTP.BodyLimit < 1024, "must be at least 1024 bytes"},
		{"http.import_body_limit", c.HTTP.ImportBodyLimit < 1024, "must be at least 1024 bytes"},
		{"http.import_max_lines", c.HTTP.ImportMaxLines < 1, "must be at least 1"},
		{"http.transfer_timeout", c.HTTP.TransferTimeout <= 0, "must be a positive duration such as 15m"},
		{"http.header_limit", c.HTTP.HeaderLimit < 4096 || c.HTTP.HeaderLimit > 16<<20, "must be from 4096 bytes to 16 MiB"},
		{"database.driver", c.Database.Driver != DriverPostgres && c.Database.Driver != DriverSQLite,
			fmt.Sprintf("must be %q or %q (got %q)", DriverPostgres, DriverSQLite, c.Database.Driver)},
		{"database.port", c.Database.Port < 1 || c.Database.Port > 65535, "must be a TCP port (1-65535)"},
		{"database.max_open_conns", c.Database.MaxOpenConns < 1, "must be at least 1"},
		{"database.max_idle_conns", c.Database.MaxIdleConns < 0, "must not be negative"},
		{"database.conn_max_lifetime", c.Database.ConnMaxLifetime < 0, "must not be negative"},
		{"database.conn_max_idle_time", c.Database.ConnMaxIdleTime < 0, "must not be negative"},
		{"nats.url", c.NATS.URL == "" && !c.NATS.Embedded, "is required when nats.embedded is false"},
		{"nats.embedded_port", c.NATS.EmbeddedPort < 0 || c.NATS.EmbeddedPort > 65535, "must be 0 (no listener) or a TCP port"},
		{"nats.tls_key_file", (c.NATS.TLSCertFile == "") != (c.NATS.TLSKeyFile == ""), "must be set together with nats.tls_cert_file"},
		{"nats.replicas", c.NATS.Replicas < 1 || c.NATS.Replicas > 5, "must be from 1 to 5 (the copies a JetStream cluster keeps of each stream)"},
		{"nats.replicas", c.NATS.Replicas > 1 && c.NATS.URL == "",
			"must be 1 with the embedded NATS server, which runs alone: more replicas need a JetStream cluster (nats.url)"},
		{"events.stream", c.Events.Stream == "", "must not be empty"},
		{"metrics.stream", c.Metrics.Stream == "" || c.Metrics.Stream == c.Events.Stream, "must be set and differ from events.stream"},
		{"metrics.max_age", c.Metrics.MaxAge < time.Hour, "must be a duration of at least 1h such as 168h"},
		{"metrics.duplicate_window", c.Metrics.DuplicateWindow < time.Second || c.Metrics.DuplicateWindow > c.Metrics.MaxAge, "must be at least 1s and at most metrics.max_age"},
		{"metrics.batch_size", c.Metrics.BatchSize < 1 || c.Metrics.BatchSize > 100000, "must be from 1 to 100000"},
		{"metrics.max_cells", c.Metrics.MaxCells < 1 || c.Metrics.MaxCells > 100000, "must be from 1 to 100000"},
		{"metrics.max_wait", c.Metrics.MaxWait < time.Millisecond, "must be a positive duration such as 500ms"},
		{"metrics.partitions", c.Metrics.Partitions < 1 || c.Metrics.Partitions > 1024, "must be from 1 to 1024"},
		{"metrics.lease_ttl", c.Metrics.LeaseTTL < time.Second || c.Metrics.LeaseTTL > 5*time.Minute, "must be a duration from 1s to 5m such as 5s"},
		{"metrics.max_wait", c.Metrics.MaxWait > c.Metrics.LeaseTTL/3,
			"must be at most a third of metrics.lease_ttl (" + (c.Metrics.LeaseTTL / 3).String() + "): a batch is flushed within the lease's margin"},
		{"metrics.track_cache_ttl", c.Metrics.TrackCacheTTL < 0 || c.Metrics.TrackCacheTTL > time.Minute, "must be a duration from 0s (no cache) to 1m such as 2s"},
		{"metrics.track_ack_timeout", c.Metrics.TrackAckTimeout < 10*time.Millisecond || c.Metrics.TrackAckTimeout > time.Minute, "must be a duration from 10ms to 1m such as 1s"},
		{"metrics.max_event_amount", !c.Metrics.MaxEventAmount.IsPositive() || c.Metrics.MaxEventAmount.GreaterThan(decimal.New(1, 14)),
			"must be a positive amount of at most 100000000000000 (10^14 is 10^18 ten-thousandths: one event must fit the 64-bit totals), such as 1000000000"},
		{"events.source", c.Events.Source == "", "must not be empty"},
		{"events.duplicate_window", c.Events.DuplicateWindow < time.Second, "must be a duration of at least 1s such as 2m"},
		{"events.max_age", c.Events.MaxAge < 0, "must not be negative (0 keeps events forever)"},
		{"events.batch_size", c.Events.BatchSize < 1 || c.Events.BatchSize > 10000, "must be from 1 to 10000"},
		{"events.poll_interval", c.Events.PollInterval < 10*time.Millisecond, "must be a duration of at least 10ms"},
		{"rules_engine.url", c.RulesEngine.URL != "" && !isHTTPURL(c.RulesEngine.URL), "must be an http(s) URL"},
		{"rules_engine.evaluation_url", c.RulesEngine.EvaluationURL != "" && !isHTTPURL(c.RulesEngine.EvaluationURL), "must be an http(s) URL"},
		{"rules_engine.timeout", c.RulesEngine.Timeout <= 0, "must be a positive duration such as 2s"},
		{"rules_engine.max_retries", c.RulesEngine.MaxRetries < 0 || c.RulesEngine.MaxRetries > 10, "must be from 0 to 10"},
		{"rules_engine.cache_ttl", c.RulesEngine.CacheTTL < 0, "must not be negative (0 turns the cache off)"},
		{"rules_engine.concurrency", c.RulesEngine.Concurrency < 1 || c.RulesEngine.Concurrency > 1000, "must be from 1 to 1000"},
		{"rules_engine.breaker_failures", c.RulesEngine.BreakerFailures < 1, "must be at least 1"},
		{"rules_engine.breaker_open_for", c.RulesEngine.BreakerOpenFor < 100*time.Millisecond, "must be a duration of at least 100ms such as 30s"},
		{"rules_engine.quarantine_after", c.RulesEngine.QuarantineAfter < 1, "must be at least 1"},
		{"rules_engine.quarantine_for", c.RulesEngine.QuarantineFor < 100*time.Millisecond, "must be a duration of at least 100ms such as 1m"},
		{"rules_engine.targeting_categories", len(c.RulesEngine.TargetingCategories) == 0 || slices.Contains(c.RulesEngine.TargetingCategories, ""),
			"must list at least one rule category, such as PROMOTIONS"},
		{"worker.port", c.Worker.Port < 1 || c.Worker.Port > 65535, "must be a TCP port (1-65535)"},
		{"automation.interval", c.Automation.Interval < 100*time.Millisecond, "must be a duration of at least 100ms such as 15s"},
		{"automation.pause_at", c.Automation.PauseAt <= 0 || c.Automation.PauseAt > c.Automation.CompleteAt, "must be above 0 and at most automation.complete_at"},
		{"automation.complete_at", c.Automation.CompleteAt <= 0 || c.Automation.CompleteAt > 10, "must be above 0 (1 means 100% of the budget)"},
		{"automation.batch_size", c.Automation.BatchSize < 1 || c.Automation.BatchSize > 10000, "must be from 1 to 10000"},
		{"automation.pacing_alert_band", c.Automation.PacingAlertBand <= 0 || c.Automation.PacingAlertBand > 1, "must be above 0 and at most 1 (0.1 means 10% of the period's budget)"},
		{"automation.daily_budget_alert_at", c.Automation.DailyBudgetAlertAt <= 0 || c.Automation.DailyBudgetAlertAt > 1, "must be above 0 and at most 1 (0.9 means 90% of the daily budget)"},
		{"automation.ctr_collapse_ratio", c.Automation.CTRCollapseRatio <= 0 || c.Automation.CTRCollapseRatio >= 1, "must be above 0 and below 1 (0.5: the last hour's CTR below half the trailing week's)"},
		{"automation.ctr_collapse_min_impressions", c.Automation.CTRCollapseMinImpressions < 1, "must be at least 1"},
		{"idempotency.ttl", c.Idempotency.TTL < time.Minute, "must be a duration of at least 1m such as 24h"},
		{"log.level", !validLevel(c.Log.Level), `must be one of "debug", "info", "warn", "error"`},
		{"log.format", c.Log.Format != "json" && c.Log.Format != "text", `must be "json" or "text"`},
		{"tracing.endpoint", c.Tracing.Endpoint != "" && !isHTTPURL(c.Tracing.Endpoint), "must be an http(s) URL such as http://otel-collector:4318"},
		{"tracing.sample_ratio", c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1, "must be from 0 to 1 (the share of new traces sampled)"},
	}
	for _, ck := range checks {
		if ck.bad {
			return &Error{Key: ck.key, Reason: ck.why}
		}
	}
	return c.validateSecurity()
}

// validateSecurity checks the auth, rate_limit, cors and http.trusted_proxies keys that can be
// judged alone. platform/auth checks the rest (keys, roles, algorithms) when the API starts.
func (c *Config) validateSecurity() error {
	a, r := c.Auth, c.RateLimit
	checks := []struct {
		key string
		bad bool
		why string
	}{
		{"auth.mode", !slices.Contains([]string{AuthNone, AuthJWT, AuthAPIKey, AuthJWTOrAPIKey}, a.Mode),
			fmt.Sprintf("must be %q, %q, %q or %q (got %q)", AuthNone, AuthJWT, AuthAPIKey, AuthJWTOrAPIKey, a.Mode)},
		{"auth.jwks_url", a.JWKSURL != "" && !isHTTPURL(a.JWKSURL), "must be an http(s) URL"},
		{"auth.jwks_refresh_interval", a.JWKSRefreshInterval < authMinRefreshAt, "must be a duration of at least 1s such as 15m"},
		{"auth.jwks_fetch_timeout", a.JWKSFetchTimeout <= 0 || a.JWKSFetchTimeout > time.Minute, "must be a positive duration of at most 1m such as 5s"},
		{"auth.jwks_min_refetch_interval", a.JWKSMinRefetchInterval < authMinRefreshAt, "must be a duration of at least 1s such as 30s"},
		{"auth.leeway", a.Leeway < 0 || a.Leeway > AuthMaxLeeway, "must be a duration from 0s to 5m such as 30s"},
		{"auth.roles_claim", strings.TrimSpace(a.RolesClaim) == "", "must name the claim that holds the roles"},
		{"rate_limit.requests_per_second", r.Enabled && (r.RequestsPerSecond <= 0 || r.RequestsPerSecond > 1e6), "must be above 0 and at most 1000000"},
		{"rate_limit.burst", r.Enabled && (r.Burst < 1 || r.Burst > 1e6), "must be from 1 to 1000000"},
		{"rate_limit.idle_timeout", r.Enabled && r.IdleTimeout < time.Second, "must be a duration of at least 1s such as 10m"},
		{"rate_limit.max_clients", r.Enabled && r.MaxClients < 1, "must be at least 1"},
		{"rate_limit.serving.requests_per_second", r.Enabled && (r.Serving.RequestsPerSecond <= 0 || r.Serving.RequestsPerSecond > 1e6), "must be above 0 and at most 1000000"},
		{"rate_limit.serving.burst", r.Enabled && (r.Serving.Burst < 1 || r.Serving.Burst > 1e6), "must be from 1 to 1000000"},
		{"cors.max_age", c.CORS.MaxAge < 0, "must not be negative"},
		{"cors.allow_credentials", c.CORS.AllowCredentials && slices.Contains(c.CORS.AllowedOrigins, "*"),
			`cannot be true when cors.allowed_origins holds "*"`},
		// "*" lets any page send a write that carries a credential header; with auth none
		// nothing checks that header, so every web page a user opens could change campaigns.
		{"cors.allowed_origins", a.Mode == AuthNone && slices.Contains(c.CORS.AllowedOrigins, "*"),
			`cannot hold "*" when auth.mode is none: any web page could then change campaigns from a visitor's browser; list the origins that may`},
	}
	for _, ck := range checks {
		if ck.bad {
			return &Error{Key: ck.key, Reason: ck.why}
		}
	}
	for _, o := range c.CORS.AllowedOrigins {
		if o != "*" && !isOrigin(o) {
			return &Error{Key: "cors.allowed_origins", Reason: fmt.Sprintf("%q is not an origin such as https://app.example.com or *", o)}
		}
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			return &Error{Key: "http.trusted_proxies", Reason: fmt.Sprintf("%q is not an IP address or CIDR such as 10.0.0.0/8", p)}
		}
	}
	return nil
}

// isOrigin accepts scheme://host[:port] with nothing after it.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func validLevel(s string) bool {
	var l slog.Level
	return l.UnmarshalText([]byte(s)) == nil
}

// SlogLevel is the configured log level.
func (l Log) SlogLevel() slog.Level {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(l.Level))
	return lvl
}

const redacted = "[redacted]"

// LogValue lets the configuration be logged without its secrets.
func (c Config) LogValue() slog.Value {
	secret := func(s string) string {
		if s == "" {
			return ""
		}
		return redacted
	}
	dbURL := ""
	if c.Database.Driver == DriverPostgres {
		dbURL = redactURL(c.Database.PostgresURL())
	}
	return slog.GroupValue(
		slog.String("data_dir", c.DataDir),
		slog.String("http.addr", c.HTTP.Addr()),
		slog.String("database.driver", c.Database.Driver),
		slog.String("database.url", dbURL),
		slog.String("database.sqlite_path", c.Database.SQLitePath),
		slog.Bool("database.auto_migrate", c.Database.AutoMigrate),
		slog.String("nats.url", redactURL(c.NATS.URL)),
		slog.Bool("nats.embedded", c.NATS.Embedded),
		slog.Int("nats.replicas", c.NATS.Replicas),
		slog.String("nats.password", secret(c.NATS.Password)),
		slog.String("nats.token", secret(c.NATS.Token)),
		slog.Bool("rules_engine.enabled", c.RulesEngine.Enabled),
		slog.String("rules_engine.url", redactURL(c.RulesEngine.URL)),
		slog.String("rules_engine.evaluation_url", redactURL(c.RulesEngine.EffectiveEvaluationURL())),
		slog.Bool("activation.allow_untargeted", c.Activation.AllowUntargeted),
		slog.Any("approval.thresholds", c.Approval.Thresholds),
		slog.String("auth.mode", c.Auth.Mode),
		slog.String("auth.jwt_secret", secret(c.Auth.JWTSecret)),
		slog.String("auth.jwks_url", redactURL(c.Auth.JWKSURL)),
		slog.Int("auth.api_keys", len(c.Auth.APIKeys)), // how many; names and hashes stay out
		slog.Bool("rate_limit.enabled", c.RateLimit.Enabled),
		slog.Bool("worker.embedded", c.Worker.Embedded),
		slog.String("log.level", c.Log.Level),
		slog.Bool("tracing.enabled", c.Tracing.Enabled),
		slog.String("tracing.endpoint", redactURL(c.Tracing.Endpoint)),
	)
}

// redactURL hides the credentials of a URL, or of a comma-separated list of them (NATS
// servers): the password of the user info and any password-like query parameter. A value
// that is not a URL (a key=value DSN) may hold anything, so it is hidden whole.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.Scheme == "" || u.Opaque != "" {
			return redacted
		}
		q := u.Query()
		for k := range q {
			if lk := strings.ToLower(k); strings.Contains(lk, "password") || strings.Contains(lk, "token") || strings.Contains(lk, "secret") {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}
