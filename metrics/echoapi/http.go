// Package echoapi serves the metrics capability over Echo: POST /campaigns/{id}/track
// (through a metrics.Tracker), the metrics, performance, audience and experiment reports, and
// the conclusion of an experiment; it gives the campaign resource its embedded metrics
// (CampaignMetrics, campaign/echoapi's MetricsSource).
package echoapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// Store reads the rollups and audiences the reports are made of; metrics/bunstore implements
// it.
type Store interface {
	// TotalRows returns a campaign's all-time totals, one row per variant, channel and
	// personalization rule.
	TotalRows(ctx context.Context, campaignID uuid.UUID) ([]metrics.Row, error)
	// Rows returns a campaign's daily rollups for days in [from, to] (YYYY-MM-DD, either may
	// be ""), oldest first.
	Rows(ctx context.Context, campaignID uuid.UUID, from, to string) ([]metrics.Row, error)
	// HourlyRows returns a campaign's hourly rollups of the hours from from's to to's, both
	// included, oldest first.
	HourlyRows(ctx context.Context, campaignID uuid.UUID, from, to time.Time) ([]metrics.Row, error)
	// SpentSince returns what each campaign of since spent from its instant on (the hour that
	// holds the instant counts whole), in one read.
	SpentSince(ctx context.Context, since map[uuid.UUID]time.Time) (map[uuid.UUID]decimal.Decimal, error)
	// Audience returns up to limit of the customers a campaign reached, in customer id order,
	// after the customer id after ("" for the first page).
	Audience(ctx context.Context, campaignID uuid.UUID, after string, limit int) ([]metrics.CustomerExposure, error)
}

// Handler serves the tracking and reporting endpoints.
type Handler struct {
	campaigns metrics.CampaignGetter
	updater   CampaignUpdater // nil when campaigns cannot change them (no conclude)
	exposures metrics.ExposureSource
	store     Store
	tracker   *metrics.Tracker
	cfg       HandlerConfig
	logger    *slog.Logger
	now       func() time.Time
}

// HandlerConfig is what /track needs to know. Zero fields take the defaults noted.
type HandlerConfig struct {
	// Limits bound the events; events beyond them are refused. Zero fields take Limits'
	// defaults.
	Limits metrics.Limits
	// Partitions is P: each event is published on its partition's subject
	// (metrics.DefaultPartitions).
	Partitions int
	// Logger hears about the errors behind 5xx answers (default: discard).
	Logger *slog.Logger
	// Ingested counts the events /track accepts (default: nothing counts them).
	Ingested func(n int)
	// Exposures counts the experiment's exposures (default: impressions,
	// metrics.ImpressionExposures).
	Exposures metrics.ExposureSource
	// Updater concludes experiments (POST .../experiment/conclude); the campaign service
	// implements it (default: none, and conclude answers 501).
	Updater CampaignUpdater
	// TargetTTL is how long /track keeps a campaign's tracking rules (currency, channels,
	// variants, personalization rules) without reading the campaign again, when nothing told
	// it of a change through ForgetCampaign (metrics.DefaultTargetTTL; negative: read every
	// time).
	TargetTTL time.Duration
	// AckTimeout is how long /track waits for JetStream to acknowledge a request's events
	// before it answers that their outcome is unknown (metrics.DefaultAckTimeout).
	AckTimeout time.Duration
	// Now is the clock the pacing reports are judged at (default: time.Now); a host gives its
	// campaign service's.
	Now func() time.Time
	// TracerProvider traces /track's publication (metrics.TrackerConfig) (default: none).
	TracerProvider trace.TracerProvider
}

// The Handler gives GET /campaigns/{id} its embedded metrics.
var _ campaignapi.MetricsSource = (*Handler)(nil)

// NewHandler returns the metrics HTTP handler: it reads campaigns through campaigns and the
// reports' rows from store, and /track publishes to js (a metrics.Tracker).
func NewHandler(campaigns metrics.CampaignGetter, store Store, js jetstream.JetStream, cfg HandlerConfig) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Ingested == nil {
		cfg.Ingested = func(int) {}
	}
	if cfg.Exposures == nil {
		cfg.Exposures = metrics.ImpressionExposures{}
	}
	tracker := metrics.NewTracker(js, campaigns, metrics.TrackerConfig{
		Limits: cfg.Limits, Partitions: cfg.Partitions, TargetTTL: cfg.TargetTTL, AckTimeout: cfg.AckTimeout,
		TracerProvider: cfg.TracerProvider,
	})
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{campaigns: campaigns, updater: cfg.Updater, exposures: cfg.Exposures, store: store, tracker: tracker,
		cfg: cfg, logger: cfg.Logger, now: cfg.Now}
}

// ForgetCampaign tells /track that campaign id may have changed (its settings, budget
// currency, deletion): the next tracking request reads it again. Call it once the change has
// committed; a call for a change that did not commit costs one read.
func (h *Handler) ForgetCampaign(id uuid.UUID) { h.tracker.Forget(id) }

// ForgetCampaigns is ForgetCampaign for every campaign (when changes may have been missed).
func (h *Handler) ForgetCampaigns() { h.tracker.ForgetAll() }

// Register mounts POST /campaigns/:id/track, GET /campaigns/:id/metrics,
// GET /campaigns/:id/performance, GET /campaigns/:id/audience, GET /campaigns/:id/experiment
// and POST /campaigns/:id/experiment/conclude under g.
func (h *Handler) Register(g httpx.Router) {
	p := httpx.Problems(h.logger)
	period := []httpx.Param{httpx.One("from"), httpx.One("to")}
	g.POST("/campaigns/:id/track", h.track, p, httpx.Query())
	g.GET("/campaigns/:id/metrics", h.metrics, p, httpx.Query(period...))
	g.GET("/campaigns/:id/performance", h.performance, p,
		httpx.Query(append(period, httpx.One("granularity"), httpx.One("groupBy"))...))
	g.GET("/campaigns/:id/audience", h.audience, p, httpx.Query(httpx.One("limit"), httpx.One("cursor")))
	g.GET("/campaigns/:id/experiment", h.experiment, p, httpx.Query(httpx.One("metric"), httpx.One("mode"), httpx.One("mde"), httpx.One("power")))
	g.POST("/campaigns/:id/experiment/conclude", h.conclude, p, httpx.Query())
}

// TrackResponse says which events were accepted and why the others were not.
type TrackResponse struct {
	Accepted int             `json:"accepted"`
	EventIDs []string        `json:"eventIds"`
	Rejected []RejectedEvent `json:"rejected"`
}

// RejectedEvent is one event /track refused, by its index in the request.
type RejectedEvent struct {
	Index   int                `json:"index"`
	EventID *string            `json:"eventId"`
	Errors  []httpx.FieldError `json:"errors"`
}

// TrackedEvent is what became of one valid event when not all of them were stored (the
// events member of a tracking-unavailable or tracking-outcome-unknown problem).
type TrackedEvent struct {
	Index   int    `json:"index"`
	EventID string `json:"eventId"`
	// Outcome is stored, notStored or unknown (metrics.Outcome).
	Outcome string `json:"outcome"`
}

// track accepts one event or {"events": [...]} (up to metrics.MaxBatch), validates each, publishes the
// valid ones to JetStream and answers 202 once JetStream has stored them. Otherwise it says
// what became of each: 503 when none is in doubt, 504 when some may have been stored.
func (h *Handler) track(c echo.Context) error {
	id, err := campaign.ParseID(c.Param("id"))
	if err != nil {
		return httpx.NotFound("no campaign has this id")
	}
	target, err := h.tracker.Target(c.Request().Context(), id)
	if errors.Is(err, campaign.ErrNotFound) {
		return httpx.NotFound("no campaign has this id")
	}
	if err != nil {
		return err
	}
	body, err := httpx.ReadJSON(c)
	if err != nil {
		return err
	}
	raws := []json.RawMessage{body}
	batch := false
	if !metrics.OneEvent(body) { // one event in its common form needs no probe
		// Malformed JSON, or JSON that is not an object, is a 400 for the whole request.
		var probe map[string]json.RawMessage
		if err := httpx.DecodeJSONBytes(body, &probe); err != nil {
			return err
		}
		_, batch = probe["events"]
	}
	if batch {
		var req struct {
			Events []json.RawMessage `json:"events"`
		}
		if err := httpx.DecodeJSONBytes(body, &req); err != nil {
			return err
		}
		raws = req.Events
		if len(raws) == 0 || len(raws) > metrics.MaxBatch {
			return httpx.BadRequest(fmt.Sprintf("send 1 to %d events", metrics.MaxBatch),
				httpx.FieldError{Field: "events", Message: fmt.Sprintf("must hold 1 to %d events", metrics.MaxBatch)})
		}
	}
	now := h.now().UTC()
	cid := uuid.UUID(id)
	out := TrackResponse{EventIDs: []string{}, Rejected: []RejectedEvent{}}
	var valid []metrics.Event
	var indexes []int // of valid's events in the request
	for i, raw := range raws {
		e, errs := h.tracker.Check(raw, cid, target, now)
		if len(errs) > 0 {
			rej := RejectedEvent{Index: i, Errors: httpErrors(errs)}
			if e.EventID != uuid.Nil {
				s := e.EventID.String()
				rej.EventID = &s
			}
			out.Rejected = append(out.Rejected, rej)
			continue
		}
		valid = append(valid, e)
		indexes = append(indexes, i)
	}
	if len(valid) == 0 {
		p := httpx.Invalid(prefixed(out.Rejected, batch))
		p.Detail = "no event was accepted; see errors"
		return p
	}
	for _, e := range valid {
		out.EventIDs = append(out.EventIDs, e.EventID.String())
	}
	if err := h.tracker.Publish(c.Request().Context(), valid); err != nil {
		h.logger.WarnContext(c.Request().Context(), "tracking: publish failed", slog.Any("error", err))
		var pe *metrics.PublishError
		if !errors.As(err, &pe) {
			return err
		}
		return notStored(pe, out, indexes)
	}
	out.Accepted = len(valid)
	h.cfg.Ingested(len(valid))
	if len(out.Rejected) == 0 && c.Request().URL.RawQuery == "" { // a query may ask c.JSON for ?pretty
		return c.JSONBlob(http.StatusAccepted, acceptedJSON(out.EventIDs))
	}
	return c.JSON(http.StatusAccepted, out)
}

// acceptedJSON is the TrackResponse of a request whose events were all accepted, as c.JSON
// writes it (encoding/json's bytes and a newline; ids are UUIDs: nothing to escape), written
// without reflection: it answers nearly every /track request.
func acceptedJSON(ids []string) []byte {
	b := make([]byte, 0, 49+len(ids)*39)
	b = append(b, `{"accepted":`...)
	b = strconv.AppendInt(b, int64(len(ids)), 10)
	b = append(b, `,"eventIds":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, id...)
		b = append(b, '"')
	}
	return append(b, "],\"rejected\":[]}\n"...)
}

// notStored is the problem that answers a request whose valid events were not all stored. It
// carries the ids the events were sent with, so that the client can send them again with
// these eventIds: JetStream drops those it already stored.
func notStored(pe *metrics.PublishError, out TrackResponse, indexes []int) *httpx.Problem {
	var p *httpx.Problem
	if pe.InDoubt() {
		p = httpx.NewProblem(http.StatusGatewayTimeout, "tracking-outcome-unknown", "Outcome unknown",
			"JetStream did not confirm some events, which may or may not have been stored (see events); "+
				"send every event not stored again with its eventId: an event already stored is dropped as a duplicate")
	} else {
		p = httpx.NewProblem(http.StatusServiceUnavailable, "tracking-unavailable", "Service unavailable",
			"the events marked notStored were not stored (NATS is unreachable or refused them); "+
				"send them again with their eventIds")
	}
	events := make([]TrackedEvent, len(pe.Outcomes))
	for i, o := range pe.Outcomes {
		events[i] = TrackedEvent{Index: indexes[i], EventID: out.EventIDs[i], Outcome: o.String()}
	}
	p.Extra = map[string]any{"eventIds": out.EventIDs, "events": events, "rejected": out.Rejected}
	p.Headers = map[string]string{"Retry-After": "5"}
	return p
}

// prefixed flattens rejected events into one errors list, prefixing fields with events[i].
func prefixed(rej []RejectedEvent, batch bool) []httpx.FieldError {
	var out []httpx.FieldError
	for _, r := range rej {
		for _, e := range r.Errors {
			if batch {
				e.Field = fmt.Sprintf("events[%d].%s", r.Index, e.Field)
				e.Field = strings.TrimSuffix(e.Field, ".")
			}
			out = append(out, e)
		}
	}
	return out
}

// campaign loads the campaign of the path; unknown, deleted and malformed ids are 404.
func (h *Handler) campaign(c echo.Context) (*campaign.View, error) {
	id, err := campaign.ParseID(c.Param("id"))
	if err != nil {
		return nil, httpx.NotFound("no campaign has this id")
	}
	c0, err := h.campaigns.Get(c.Request().Context(), id)
	if errors.Is(err, campaign.ErrNotFound) {
		return nil, httpx.NotFound("no campaign has this id")
	}
	return c0, err
}

// Report is the metrics of a campaign over a period.
type Report struct {
	CampaignID string  `json:"campaignId"`
	From       *string `json:"from"`
	To         *string `json:"to"`
	metrics.KPIs
}

func (h *Handler) metrics(c echo.Context) error {
	c0, err := h.campaign(c)
	if err != nil {
		return err
	}
	from, to, err := dateRange(c, "from", "to")
	if err != nil {
		return err
	}
	k, err := h.kpis(c.Request().Context(), c0, from, to)
	if err != nil {
		return err
	}
	if from != "" {
		k.Frequency = nil // reach counts the customers first reached in the period only
	}
	if from == "" && to == "" {
		if k.Pacing, err = h.pacingReport(c.Request().Context(), c0, k.Cost.Value, true); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, Report{CampaignID: c0.ID().String(), From: optional(from), To: optional(to), KPIs: k})
}

// kpis sums the campaign's days from from to to; without either, its all-time totals rows: a
// few rows (one per variant and channel), however long its history.
func (h *Handler) kpis(ctx context.Context, c0 *campaign.View, from, to string) (metrics.KPIs, error) {
	var rows []metrics.Row
	var err error
	if from == "" && to == "" {
		rows, err = h.store.TotalRows(ctx, uuid.UUID(c0.ID()))
	} else {
		rows, err = h.store.Rows(ctx, uuid.UUID(c0.ID()), from, to)
	}
	if err != nil {
		return metrics.KPIs{}, err
	}
	return metrics.KPIsOf(c0, rows)
}

// CampaignMetrics is what the campaign resource embeds: c's all-time metrics and, when its A/B
// test is enabled, the experiment's verdict (nil otherwise), from one read of its totals.
func (h *Handler) CampaignMetrics(ctx context.Context, c *campaign.View) (campaignapi.CampaignMetrics, error) {
	rows, err := h.store.TotalRows(ctx, uuid.UUID(c.ID()))
	if err != nil {
		return campaignapi.CampaignMetrics{}, err
	}
	s, err := metrics.Summarize(ctx, c, rows, h.exposures)
	if err != nil {
		return campaignapi.CampaignMetrics{}, err
	}
	if s.KPIs.Pacing, err = h.pacingReport(ctx, c, s.Delivered.Spend, false); err != nil {
		return campaignapi.CampaignMetrics{}, err
	}
	if s.KPIs.Pacing != nil && c.PacingPlan().Period == lifecycle.PeriodDaily {
		// The serving status judges today's spend against the daily budget.
		s.Delivered.PeriodSpend = s.KPIs.Pacing.Spent.Value
	}
	return campaignapi.CampaignMetrics{Metrics: s.KPIs, Experiment: verdict(s.Experiment), Delivered: s.Delivered}, nil
}

// pacingReport is where c stands against its pacing plan now, its all-time spend being total
// (nil when it has no pacing settings). A daily period's spend is read from the hourly
// rollups of today in its pacing zone; withSeries adds the period's chart.
func (h *Handler) pacingReport(ctx context.Context, c *campaign.View, total decimal.Decimal, withSeries bool) (*metrics.PacingReport, error) {
	if c.Settings().Pacing == nil {
		return nil, nil
	}
	now := h.now().UTC()
	p := c.PacingPlan()
	from, _, ok := p.Window(now)
	var rows []metrics.Row
	if ok && (withSeries || p.Period == lifecycle.PeriodDaily) {
		var err error
		if to := now; to.Sub(from) <= metrics.MaxPacingHours*time.Hour {
			rows, err = h.store.HourlyRows(ctx, uuid.UUID(c.ID()), from, to)
		} else {
			rows, err = h.store.Rows(ctx, uuid.UUID(c.ID()), from.Format(time.DateOnly), now.Format(time.DateOnly))
		}
		if err != nil {
			return nil, err
		}
	}
	spent := total
	if p.Period == lifecycle.PeriodDaily {
		var e4 int64
		for _, r := range rows {
			e4 += r.CostE4
		}
		spent = metrics.FromE4(e4)
	}
	r := metrics.NewPacingReport(c, spent, now)
	if withSeries {
		r = r.WithSeries(p, rows, now)
	}
	return &r, nil
}

// The handler gives the list its pacing column.
var _ campaignapi.PacingSource = (*Handler)(nil)

// ListPacing is the pacing report (without the chart) of each campaign of page that paces its
// spend (mode EVEN or FRONT_LOADED), as GET /campaigns/:id embeds it: a flight's spend is
// its all-time cost (costs), a day's is read for every daily budget of the page at once (one
// query per distinct start of day, see SpentSince), never one per campaign.
func (h *Handler) ListPacing(ctx context.Context, page []*campaign.View, costs map[uuid.UUID]decimal.Decimal, now time.Time) (map[uuid.UUID]any, error) {
	now = now.UTC()
	paced := make([]*campaign.View, 0, len(page))
	since := map[uuid.UUID]time.Time{}
	for _, c := range page {
		if p := c.Settings().Pacing; p == nil || p.Mode == lifecycle.PacingASAP {
			continue
		}
		paced = append(paced, c)
		if p := c.PacingPlan(); p.Period == lifecycle.PeriodDaily {
			if from, _, ok := p.Window(now); ok {
				since[uuid.UUID(c.ID())] = from
			}
		}
	}
	var today map[uuid.UUID]decimal.Decimal
	if len(since) > 0 {
		var err error
		if today, err = h.store.SpentSince(ctx, since); err != nil {
			return nil, err
		}
	}
	out := make(map[uuid.UUID]any, len(paced))
	for _, c := range paced {
		id := uuid.UUID(c.ID())
		spent := costs[id]
		if c.PacingPlan().Period == lifecycle.PeriodDaily {
			spent = today[id] // zero outside a day: no window, nothing read
		}
		out[id] = metrics.NewPacingReport(c, spent, now)
	}
	return out, nil
}

// Granularities and groupings of the performance report.
var (
	granularities = []string{"hour", "day", "week", "month"}
	groupings     = []string{"", "variant", "channel", "personalization"}
)

// The range of an hourly performance report.
const (
	// MaxReportHours is the most hours one hourly report covers (31 days): the hourly rows it
	// reads stay bounded.
	MaxReportHours = 744
	// DefaultReportHours is the range of an hourly report that names neither end: the last 24
	// hours, the current one included.
	DefaultReportHours = 24
)

// PerformanceResponse is GET /performance.
type PerformanceResponse struct {
	CampaignID  string                      `json:"campaignId"`
	Granularity string                      `json:"granularity"`
	GroupBy     *string                     `json:"groupBy"`
	From        *string                     `json:"from"`
	To          *string                     `json:"to"`
	Series      []metrics.PerformanceSeries `json:"series"`
}

func (h *Handler) performance(c echo.Context) error {
	c0, err := h.campaign(c)
	if err != nil {
		return err
	}
	var errs []httpx.FieldError
	gran := c.QueryParam("granularity")
	if gran == "" {
		gran = "day"
	}
	if !slices.Contains(granularities, gran) {
		errs = append(errs, httpx.FieldError{Field: "granularity", Message: "must be hour, day, week or month"})
	}
	group := c.QueryParam("groupBy")
	if !slices.Contains(groupings, group) {
		errs = append(errs, httpx.FieldError{Field: "groupBy", Message: "must be variant, channel or personalization"})
	}
	if len(errs) > 0 {
		return httpx.BadRequest("the query string is invalid", errs...)
	}
	out := PerformanceResponse{CampaignID: c0.ID().String(), Granularity: gran, GroupBy: optional(group)}
	var rows []metrics.Row
	if gran == "hour" {
		from, to, err := hourRange(c, h.now())
		if err != nil {
			return err
		}
		if rows, err = h.store.HourlyRows(c.Request().Context(), uuid.UUID(c0.ID()), from, to); err != nil {
			return err
		}
		// The range applied, defaults included: the client may have named neither end.
		out.From, out.To = optional(from.Format(time.RFC3339)), optional(to.Format(time.RFC3339))
	} else {
		from, to, err := dateRange(c, "from", "to")
		if err != nil {
			return err
		}
		if rows, err = h.store.Rows(c.Request().Context(), uuid.UUID(c0.ID()), from, to); err != nil {
			return err
		}
		out.From, out.To = optional(from), optional(to)
	}
	ss, err := metrics.Series(rows, gran, group, c0.Budget().Currency, c0.Budget().Amount)
	if err != nil {
		return fmt.Errorf("metrics: campaign %s: %w", c0.ID(), err)
	}
	out.Series = ss
	return c.JSON(http.StatusOK, out)
}

// Days a report may name: the years 1 to 9999. PostgreSQL has no year 0 (and an RFC 3339
// date-time with an offset can fall into it, or into the year 10000, once cut to its UTC day).
var (
	firstDay = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	lastDay  = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// hourRange reads the range of an hourly report: the hours from from's to to's, both included.
// Each is an RFC 3339 date-time, cut to its UTC hour, or a date (from: the day's first hour;
// to: its last). to defaults to the current hour, from to DefaultReportHours-1 hours before to;
// the range spans at most MaxReportHours hours.
func hourRange(c echo.Context, now time.Time) (time.Time, time.Time, error) {
	var errs []httpx.FieldError
	read := func(name string, lastOfDay bool) (time.Time, bool) {
		s := c.QueryParam(name)
		if s == "" {
			return time.Time{}, false
		}
		var t time.Time
		if rt, err := time.Parse(time.RFC3339, s); err == nil {
			t = metrics.HourOf(rt)
		} else if d, err := time.Parse(time.DateOnly, s); err == nil {
			t = d
			if lastOfDay {
				t = t.Add(23 * time.Hour)
			}
		} else {
			errs = append(errs, httpx.FieldError{Field: name, Message: "must be an RFC 3339 date-time or a date (YYYY-MM-DD)"})
			return time.Time{}, false
		}
		if t.Before(firstDay) || t.After(lastDay.Add(23*time.Hour)) {
			errs = append(errs, httpx.FieldError{Field: name, Message: "must be an hour from 0001-01-01T00:00:00Z to 9999-12-31T23:00:00Z (UTC)"})
			return time.Time{}, false
		}
		return t, true
	}
	from, hasFrom := read("from", false)
	to, hasTo := read("to", true)
	if len(errs) > 0 {
		return time.Time{}, time.Time{}, httpx.BadRequest("the query string is invalid", errs...)
	}
	if !hasTo {
		to = metrics.HourOf(now)
		if hasFrom && to.Before(from) {
			to = from // a from in the future: one hour, empty so far
		}
	}
	if !hasFrom {
		from = to.Add(-(DefaultReportHours - 1) * time.Hour)
		if from.Before(firstDay) {
			from = firstDay
		}
	}
	switch {
	case to.Before(from):
		errs = append(errs, httpx.FieldError{Field: "to", Message: "must not be before from"})
	case to.Sub(from) >= MaxReportHours*time.Hour:
		errs = append(errs, httpx.FieldError{Field: "from",
			Message: fmt.Sprintf("with granularity=hour the range from from to to spans at most %d hours (31 days)", MaxReportHours)})
	}
	if len(errs) > 0 {
		return time.Time{}, time.Time{}, httpx.BadRequest("the query string is invalid", errs...)
	}
	return from, to, nil
}

// dateRange reads optional from/to days (YYYY-MM-DD, inclusive; a date-time is cut to its
// UTC day), between the years 1 and 9999.
func dateRange(c echo.Context, fromName, toName string) (string, string, error) {
	var errs []httpx.FieldError
	read := func(name string) string {
		s := c.QueryParam(name)
		if s == "" {
			return ""
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t, err = time.Parse(time.RFC3339, s)
		}
		if err != nil {
			errs = append(errs, httpx.FieldError{Field: name, Message: "must be a date (YYYY-MM-DD) or an RFC 3339 date-time"})
			return ""
		}
		y, m, d := t.UTC().Date()
		day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		if day.Before(firstDay) || day.After(lastDay) {
			errs = append(errs, httpx.FieldError{Field: name, Message: "must be a day from 0001-01-01 to 9999-12-31 (UTC)"})
			return ""
		}
		return day.Format(time.DateOnly)
	}
	from, to := read(fromName), read(toName)
	if from != "" && to != "" && to < from {
		errs = append(errs, httpx.FieldError{Field: toName, Message: "must not be before " + fromName})
	}
	if len(errs) > 0 {
		return "", "", httpx.BadRequest("the query string is invalid", errs...)
	}
	return from, to, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
