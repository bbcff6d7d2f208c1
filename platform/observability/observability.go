// Package observability is the service's Prometheus instrumentation: one registry per app
// instance (never the default registry, no globals), the HTTP middleware that times every
// request by route template, and the measurements the capabilities report through small
// hooks (campaign events at commit, outbox publishing, tracking ingestion and aggregation).
// Gauges that describe outside state (database pool, NATS connection, outbox backlog,
// consumer lag) are read at scrape time.
package observability

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes the service's own series.
const Namespace = "campaigns"

// collectTimeout bounds a scrape-time read (a COUNT in the database, a JetStream request).
const collectTimeout = 2 * time.Second

// Metrics is one instance's registry and instruments.
type Metrics struct {
	reg    *prometheus.Registry
	logger *slog.Logger

	httpDuration   *prometheus.HistogramVec
	httpInFlight   prometheus.Gauge
	rateLimited    prometheus.Counter
	authFailures   *prometheus.CounterVec
	jwksFetches    *prometheus.CounterVec
	campaignEvents *prometheus.CounterVec
	published      prometheus.Counter
	publishLatency prometheus.Histogram
	ingested       prometheus.Counter
	aggregated     prometheus.Counter
	deadLettered   prometheus.Counter
	collectErrors  *prometheus.CounterVec
	engineCalls    *prometheus.CounterVec
	engineLatency  *prometheus.HistogramVec
	engineBreaker  *prometheus.GaugeVec
	ruleErrors     *prometheus.CounterVec
	ruleQuarantine *prometheus.GaugeVec
	engineCache    *prometheus.CounterVec
}

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version   string // the module version ("(devel)" for a local build)
	Revision  string // the VCS revision, when the build recorded it
	GoVersion string
}

// ReadBuildInfo reads the binary's build information.
func ReadBuildInfo() BuildInfo {
	out := BuildInfo{Version: "unknown", Revision: "unknown", GoVersion: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	out.GoVersion = bi.GoVersion
	if bi.Main.Version != "" {
		out.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			out.Revision = s.Value
		}
	}
	return out
}

// Config tunes the instruments. Zero fields take the defaults noted.
type Config struct {
	// Build labels campaigns_build_info (default: ReadBuildInfo, the running binary's).
	Build BuildInfo
	// Logger hears about scrape-time reads that fail (default: discard).
	Logger *slog.Logger
}

// New returns the instruments of one instance of component ("api" or "worker"), registered
// on a fresh registry with the Go runtime and process collectors and the build info.
func New(component string, cfg Config) *Metrics {
	if cfg.Build == (BuildInfo{}) {
		cfg.Build = ReadBuildInfo()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	build := cfg.Build
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg, logger: cfg.Logger}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }

	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bi := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help: "Always 1; the labels describe the running binary.",
		ConstLabels: prometheus.Labels{"component": component, "version": build.Version,
			"revision": build.Revision, "go_version": build.GoVersion},
	})
	bi.Set(1)
	f(bi)

	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route template (\"unmatched\" for none), method and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "status"})
	m.httpInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "http", Name: "requests_in_flight",
		Help: "HTTP requests being served.",
	})
	m.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "http", Name: "rate_limited_total",
		Help: "Requests refused with 429 by the per-caller rate limit.",
	})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "auth", Name: "failures_total",
		Help: "Failed authentications, by reason (expired, invalid_signature, unknown_api_key...).",
	}, []string{"reason"})
	m.jwksFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "auth", Name: "jwks_fetches_total",
		Help: "Fetches of the JSON Web Key Set, by result (ok, error).",
	}, []string{"result"})
	m.campaignEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "campaign", Name: "events_total",
		Help: "Committed campaign domain events by type: CampaignCreated, CampaignActivated, CampaignPaused, CampaignCompleted, CampaignCancelled...",
	}, []string{"type"})
	m.published = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "outbox", Name: "published_total",
		Help: "Domain events published to JetStream by the outbox relay.",
	})
	m.publishLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "outbox", Name: "publish_latency_seconds",
		Help:    "Time from an event's commit to JetStream's acknowledgement of its publication.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
	m.ingested = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "tracking", Name: "events_ingested_total",
		Help: "Tracking events accepted by POST /campaigns/{id}/track (stored by JetStream).",
	})
	m.aggregated = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "tracking", Name: "events_aggregated_total",
		Help: "Tracking events counted into the daily rollups by the aggregator.",
	})
	m.deadLettered = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "tracking", Name: "events_dead_lettered_total",
		Help: "Tracking events the aggregator could not count and sent to the dead-letter subject.",
	})
	m.collectErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "metrics", Name: "collect_errors_total",
		Help: "Scrape-time reads that failed (their series are missing from that scrape), by collector.",
	}, []string{"collector"})
	m.engineCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "rules_engine", Name: "calls_total",
		Help: "Calls to the Rules Engine by service (rules-management, rules-evaluation) and outcome (ok, not_found, rejected, rule_error, unavailable, timeout, invalid, misconfigured, breaker_open, cancelled).",
	}, []string{"service", "outcome"})
	m.engineLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "rules_engine", Name: "call_duration_seconds",
		Help:    "Time of a Rules Engine call that reached the network, by service (calls an open breaker refused are not timed).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"service"})
	m.engineBreaker = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "rules_engine", Name: "breaker_state",
		Help: "State of a Rules Engine service's circuit breaker: 0 closed, 1 half-open (one trial call), 2 open (calls refused).",
	}, []string{"service"})
	m.ruleErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "rules_engine", Name: "rule_errors_total",
		Help: "Evaluations of a rule the Rules Engine could not run (its 500 or 4xx for that rule while others evaluate), or that its quarantine answered, by rule id. Only failing rules have a series.",
	}, []string{"rule"})
	m.ruleQuarantine = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "rules_engine", Name: "rule_quarantined",
		Help: "1 while a rule is quarantined (not sent to the Rules Engine, its campaigns not served with RULE_ERROR), 0 once it evaluates again, by rule id.",
	}, []string{"rule"})
	m.engineCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "rules_engine", Name: "cache_lookups_total",
		Help: "Lookups of the rule metadata cache, by result (hit, miss).",
	}, []string{"result"})
	for _, c := range []prometheus.Collector{m.httpDuration, m.httpInFlight, m.rateLimited, m.authFailures,
		m.jwksFetches, m.campaignEvents, m.published, m.publishLatency, m.ingested, m.aggregated,
		m.deadLettered, m.collectErrors, m.engineCalls, m.engineLatency, m.engineBreaker, m.engineCache,
		m.ruleErrors, m.ruleQuarantine} {
		f(c)
	}
	return m
}

// Registry is the instance's registry, for embedders that add their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text (or OpenMetrics) format. A collector that
// fails does not fail the scrape: the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slogErrorLog{m.logger},
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.reg,
		EnableOpenMetrics: true,
	})
}

type slogErrorLog struct{ l *slog.Logger }

func (s slogErrorLog) Println(v ...any) {
	s.l.Warn("metrics: serving /metrics", slog.Any("error", v))
}

// Middleware times every request and counts those in flight. It sits just inside the access
// log, so that the status it records is the one sent, error responses included.
func (m *Metrics) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			m.httpInFlight.Inc()
			defer m.httpInFlight.Dec()
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err) // writes the problem response; the status is known after it
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			m.httpDuration.WithLabelValues(route, methodLabel(c.Request().Method),
				strconv.Itoa(c.Response().Status)).Observe(time.Since(start).Seconds())
			return nil
		}
	}
}

// methodLabel keeps the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	default:
		return "OTHER"
	}
}

// InitCampaignEvents creates the series of these event types at zero, so that rates and
// alerts work before the first event.
func (m *Metrics) InitCampaignEvents(types []string) {
	for _, t := range types {
		m.campaignEvents.WithLabelValues(t)
	}
}

// CampaignEvent counts one committed campaign domain event (campaign.ServiceConfig.ObserveEvent).
func (m *Metrics) CampaignEvent(eventType string) { m.campaignEvents.WithLabelValues(eventType).Inc() }

// Published counts events the outbox relay published and their commit-to-ack latencies
// (outbox.RelayMetrics).
func (m *Metrics) Published(n int, commitToAck []time.Duration) {
	m.published.Add(float64(n))
	for _, d := range commitToAck {
		m.publishLatency.Observe(d.Seconds())
	}
}

// Ingested counts tracking events /track accepted.
func (m *Metrics) Ingested(n int) { m.ingested.Add(float64(n)) }

// Aggregated counts tracking events the aggregator counted (metrics.AggregatorMetrics).
func (m *Metrics) Aggregated(n int) { m.aggregated.Add(float64(n)) }

// DeadLettered counts tracking events the aggregator dead-lettered (metrics.AggregatorMetrics).
func (m *Metrics) DeadLettered(n int) { m.deadLettered.Add(float64(n)) }

// AuthFailure counts a failed authentication by reason.
func (m *Metrics) AuthFailure(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

// JWKSFetch counts a fetch of the key set.
func (m *Metrics) JWKSFetch(ok bool) {
	result := "ok"
	if !ok {
		result = "error"
	}
	m.jwksFetches.WithLabelValues(result).Inc()
}

// RulesEngineCall counts one Rules Engine call and times it when it reached the network
// (targeting.Metrics).
func (m *Metrics) RulesEngineCall(service, outcome string, d time.Duration) {
	m.engineCalls.WithLabelValues(service, outcome).Inc()
	if d > 0 {
		m.engineLatency.WithLabelValues(service).Observe(d.Seconds())
	}
}

// RulesEngineBreaker records a Rules Engine breaker's state: "closed", "half-open" or "open"
// (targeting.Metrics).
func (m *Metrics) RulesEngineBreaker(service, state string) {
	v := 0.0
	switch state {
	case "half-open":
		v = 1
	case "open":
		v = 2
	}
	m.engineBreaker.WithLabelValues(service).Set(v)
}

// RuleError counts an evaluation of a rule the Rules Engine could not run
// (targeting.RuleMetrics).
func (m *Metrics) RuleError(rule string) { m.ruleErrors.WithLabelValues(rule).Inc() }

// RuleQuarantined records whether a rule is quarantined (targeting.RuleMetrics).
func (m *Metrics) RuleQuarantined(rule string, quarantined bool) {
	v := 0.0
	if quarantined {
		v = 1
	}
	m.ruleQuarantine.WithLabelValues(rule).Set(v)
}

// RulesEngineCache counts a lookup of the rule cache (targeting.Metrics).
func (m *Metrics) RulesEngineCache(hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.engineCache.WithLabelValues(result).Inc()
}

// RateLimited counts a request refused by the rate limit.
func (m *Metrics) RateLimited() { m.rateLimited.Inc() }

// WatchDB exposes the connection pool statistics of db (go_sql_* series, label db_name).
func (m *Metrics) WatchDB(db *sql.DB, name string) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// WatchNATS exposes the NATS connection: campaigns_nats_connected (1 or 0) and the reconnect
// count.
func (m *Metrics) WatchNATS(connected func() bool, reconnects func() uint64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "nats", Name: "connected",
		Help: "1 while the NATS connection is up, 0 while it is down or reconnecting.",
	}, func() float64 {
		if connected() {
			return 1
		}
		return 0
	}))
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "nats", Name: "reconnects_total",
		Help: "Times the NATS connection was re-established.",
	}, func() float64 { return float64(reconnects()) }))
}

// WatchOutboxBacklog exposes the number of events not yet published, read at scrape time.
func (m *Metrics) WatchOutboxBacklog(backlog func(ctx context.Context) (int64, error)) {
	m.reg.MustRegister(&funcCollector{m: m, name: "outbox_backlog",
		descs: []*prometheus.Desc{prometheus.NewDesc(prometheus.BuildFQName(Namespace, "outbox", "backlog_events"),
			"Domain events committed but not yet published to JetStream.", nil, nil)},
		read: func(ctx context.Context) ([]float64, error) {
			n, err := backlog(ctx)
			return []float64{float64(n)}, err
		}})
}

// WatchPacing exposes campaigns_pacing_index{campaign_id}, each paced campaign's pacing
// index, read at scrape time through indexes (campaign id -> index). Only campaigns that
// serve and pace (EVEN, FRONT_LOADED) have a series, which bounds the cardinality by the
// active paced campaigns.
func (m *Metrics) WatchPacing(indexes func(ctx context.Context) (map[string]float64, error)) {
	m.reg.MustRegister(&pacingCollector{m: m, read: indexes, desc: prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "", "pacing_index"),
		"(spend to date / budget) / planned share of the current pacing period, per serving paced campaign: 1 on plan, above 1 ahead.",
		[]string{"campaign_id"}, nil)})
}

// pacingCollector reads the pacing indexes at scrape time, like funcCollector, with one
// series per campaign.
type pacingCollector struct {
	m    *Metrics
	desc *prometheus.Desc
	read func(ctx context.Context) (map[string]float64, error)
}

func (p *pacingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

func (p *pacingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	got, err := p.read(ctx)
	if err != nil {
		p.m.collectErrors.WithLabelValues("pacing").Inc()
		p.m.logger.Debug("metrics: scrape-time read failed", slog.String("collector", "pacing"), slog.Any("error", err))
		return
	}
	for id, v := range got {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, v, id)
	}
}

// ConsumerState is a JetStream consumer's position.
type ConsumerState struct {
	Pending    uint64 // messages in the stream not yet delivered to the consumer
	AckPending int    // delivered, not yet acknowledged
}

// WatchConsumerLag exposes how far a JetStream consumer lags, read at scrape time.
func (m *Metrics) WatchConsumerLag(consumer string, state func(ctx context.Context) (ConsumerState, error)) {
	labels := prometheus.Labels{"consumer": consumer}
	m.reg.MustRegister(&funcCollector{m: m, name: "consumer_lag",
		descs: []*prometheus.Desc{
			prometheus.NewDesc(prometheus.BuildFQName(Namespace, "tracking", "consumer_pending_messages"),
				"Tracking messages stored in the stream and not yet delivered to the aggregator (its lag).", nil, labels),
			prometheus.NewDesc(prometheus.BuildFQName(Namespace, "tracking", "consumer_ack_pending_messages"),
				"Tracking messages delivered to the aggregator and not yet acknowledged.", nil, labels),
		},
		read: func(ctx context.Context) ([]float64, error) {
			st, err := state(ctx)
			return []float64{float64(st.Pending), float64(st.AckPending)}, err
		}})
}

// WatchOutboxOldest exposes the age of the oldest event not yet published (0 when none is
// waiting), read at scrape time: a backlog that is small but old means the relay is stuck,
// which its size alone does not show.
func (m *Metrics) WatchOutboxOldest(oldest func(ctx context.Context) (time.Duration, error)) {
	m.reg.MustRegister(&funcCollector{m: m, name: "outbox_oldest",
		descs: []*prometheus.Desc{prometheus.NewDesc(prometheus.BuildFQName(Namespace, "outbox", "oldest_event_age_seconds"),
			"Age of the oldest domain event committed and not yet published to JetStream (0: none waiting).", nil, nil)},
		read: func(ctx context.Context) ([]float64, error) {
			d, err := oldest(ctx)
			return []float64{d.Seconds()}, err
		}})
}

// WatchAutomation exposes when the automation last finished a tick, so that an alert can
// tell a stalled automation from an idle one. No series before the first tick.
func (m *Metrics) WatchAutomation(lastTick func() time.Time) {
	m.reg.MustRegister(&optionalGauge{desc: prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "automation", "last_tick_timestamp_seconds"),
		"Unix time at which the automation (end dates, budgets) last finished a tick.", nil, nil),
		read: func() (float64, bool) {
			t := lastTick()
			return float64(t.UnixNano()) / 1e9, !t.IsZero()
		}})
}

// WatchPartitions exposes the tracking partitions: how many there are, how many this worker
// holds (the sum over workers falls below the total when a partition has no reader), and the
// lag of each one it holds.
func (m *Metrics) WatchPartitions(total func() int, held func() map[int]uint64) {
	m.reg.MustRegister(&partitionCollector{total: total, held: held,
		totalDesc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "tracking", "partitions"),
			"Tracking partitions the stream is spread over (P).", nil, nil),
		heldDesc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "tracking", "partitions_held"),
			"Tracking partitions (of the P) this worker holds the lease of and reads.", nil, nil),
		lagDesc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "tracking", "partition_pending_messages"),
			"Tracking messages of a partition this worker holds not yet counted (its lag), by partition.", []string{"partition"}, nil),
	})
}

type partitionCollector struct {
	total                        func() int
	held                         func() map[int]uint64
	totalDesc, heldDesc, lagDesc *prometheus.Desc
}

func (p *partitionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- p.totalDesc
	ch <- p.heldDesc
	ch <- p.lagDesc
}

func (p *partitionCollector) Collect(ch chan<- prometheus.Metric) {
	held, total := p.held(), p.total()
	n := 0
	for part, lag := range held {
		if part < total { // a leftover partition beyond P, being drained, covers none of the P
			n++
		}
		ch <- prometheus.MustNewConstMetric(p.lagDesc, prometheus.GaugeValue, float64(lag), strconv.Itoa(part))
	}
	ch <- prometheus.MustNewConstMetric(p.totalDesc, prometheus.GaugeValue, float64(total))
	ch <- prometheus.MustNewConstMetric(p.heldDesc, prometheus.GaugeValue, float64(n))
}

// optionalGauge is a gauge read at collection that has no series while read says so.
type optionalGauge struct {
	desc *prometheus.Desc
	read func() (float64, bool)
}

func (o *optionalGauge) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o *optionalGauge) Collect(ch chan<- prometheus.Metric) {
	if v, ok := o.read(); ok {
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, v)
	}
}

// funcCollector reads gauges at scrape time, within collectTimeout. A failed read leaves its
// series out of that scrape and counts in campaigns_metrics_collect_errors_total.
type funcCollector struct {
	m     *Metrics
	name  string
	descs []*prometheus.Desc
	read  func(ctx context.Context) ([]float64, error)
}

func (f *funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range f.descs {
		ch <- d
	}
}

func (f *funcCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	vals, err := f.read(ctx)
	if err != nil {
		f.m.collectErrors.WithLabelValues(f.name).Inc()
		f.m.logger.Debug("metrics: scrape-time read failed", slog.String("collector", f.name), slog.Any("error", err))
		return
	}
	for i, d := range f.descs {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, vals[i])
	}
}
