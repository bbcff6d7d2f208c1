package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/strictjson"
)

// CampaignGetter finds one live campaign; the campaign service implements it.
type CampaignGetter interface {
	Get(ctx context.Context, id campaign.ID) (*campaign.View, error)
}

// ReportStore reads the rollups and audiences the reports are made of; metrics/bunstore
// implements it.
type ReportStore interface {
	// TotalRows returns a campaign's all-time totals, one row per variant, channel and
	// personalization rule.
	TotalRows(ctx context.Context, campaignID uuid.UUID) ([]Row, error)
	// Rows returns a campaign's daily rollups for days in [from, to] (YYYY-MM-DD, either may
	// be ""), oldest first.
	Rows(ctx context.Context, campaignID uuid.UUID, from, to string) ([]Row, error)
	// HourlyRows returns a campaign's hourly rollups of the hours from from's to to's, both
	// included, oldest first.
	HourlyRows(ctx context.Context, campaignID uuid.UUID, from, to time.Time) ([]Row, error)
	// Audience returns up to limit of the customers a campaign reached, in customer id order,
	// after the customer id after ("" for the first page).
	Audience(ctx context.Context, campaignID uuid.UUID, after string, limit int) ([]CustomerExposure, error)
}

// Handler serves the tracking and reporting endpoints.
type Handler struct {
	campaigns CampaignGetter
	updater   CampaignUpdater // nil when campaigns cannot change them (no conclude)
	exposures ExposureSource
	store     ReportStore
	js        jetstream.JetStream
	cfg       HandlerConfig
	logger    *slog.Logger
	now       func() time.Time
	targets   *targetCache
}

// HandlerConfig is what /track needs to know. Zero fields take the defaults noted.
type HandlerConfig struct {
	// Limits bound the events; events beyond them are refused. Zero fields take Limits'
	// defaults.
	Limits Limits
	// Partitions is P: each event is published on its partition's subject (DefaultPartitions).
	Partitions int
	// Logger hears about the errors behind 5xx answers (default: discard).
	Logger *slog.Logger
	// Ingested counts the events /track accepts (default: nothing counts them).
	Ingested func(n int)
	// Exposures counts the experiment's exposures (default: impressions, ImpressionExposures).
	Exposures ExposureSource
	// Updater concludes experiments (POST .../experiment/conclude); the campaign service
	// implements it (default: none, and conclude answers 501).
	Updater CampaignUpdater
	// TargetTTL is how long /track keeps a campaign's tracking rules (currency, channels,
	// variants, personalization rules) without reading the campaign again, when nothing told
	// it of a change through ForgetCampaign (DefaultTargetTTL; negative: read every time).
	TargetTTL time.Duration
}

// NewHandler returns the metrics HTTP handler.
func NewHandler(campaigns CampaignGetter, store ReportStore, js jetstream.JetStream, cfg HandlerConfig) *Handler {
	if cfg.Partitions < 1 {
		cfg.Partitions = DefaultPartitions
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Ingested == nil {
		cfg.Ingested = func(int) {}
	}
	if cfg.Exposures == nil {
		cfg.Exposures = ImpressionExposures{}
	}
	if cfg.TargetTTL == 0 {
		cfg.TargetTTL = DefaultTargetTTL
	}
	h := &Handler{campaigns: campaigns, updater: cfg.Updater, exposures: cfg.Exposures, store: store, js: js,
		cfg: cfg, logger: cfg.Logger, now: time.Now}
	h.targets = newTargetCache(targetReader(campaigns), cfg.TargetTTL, time.Now)
	return h
}

// campaignsReader reads campaigns as stored; the campaign service implements it.
type campaignsReader interface {
	GetMany(ctx context.Context, ids []campaign.ID) (map[campaign.ID]*campaign.View, error)
}

// targetReader reads a campaign for its tracking rules: through GetMany when campaigns has it,
// which leaves out what Get adds for serving (the delivery totals, a second query).
func targetReader(campaigns CampaignGetter) func(context.Context, campaign.ID) (*campaign.View, error) {
	r, ok := campaigns.(campaignsReader)
	if !ok {
		return campaigns.Get
	}
	return func(ctx context.Context, id campaign.ID) (*campaign.View, error) {
		got, err := r.GetMany(ctx, []campaign.ID{id})
		if err != nil {
			return nil, err
		}
		c, ok := got[id]
		if !ok {
			return nil, campaign.ErrNotFound
		}
		return c, nil
	}
}

// ForgetCampaign tells /track that campaign id may have changed (its settings, budget
// currency, deletion): the next tracking request reads it again. Call it once the change has
// committed; a call for a change that did not commit costs one read.
func (h *Handler) ForgetCampaign(id uuid.UUID) { h.targets.forget(id) }

// ForgetCampaigns is ForgetCampaign for every campaign (when changes may have been missed).
func (h *Handler) ForgetCampaigns() { h.targets.forgetAll() }

// Register mounts POST /campaigns/:id/track, GET /campaigns/:id/metrics,
// GET /campaigns/:id/performance, GET /campaigns/:id/audience, GET /campaigns/:id/experiment
// and POST /campaigns/:id/experiment/conclude under g.
func (h *Handler) Register(g *echo.Group) {
	p := httpx.Problems(h.logger)
	period := []httpx.Param{httpx.One("from"), httpx.One("to")}
	g.POST("/campaigns/:id/track", h.track, p, httpx.Query())
	g.GET("/campaigns/:id/metrics", h.metrics, p, httpx.Query(period...))
	g.GET("/campaigns/:id/performance", h.performance, p,
		httpx.Query(append(period, httpx.One("granularity"), httpx.One("groupBy"))...))
	g.GET("/campaigns/:id/audience", h.audience, p, httpx.Query(httpx.One("limit"), httpx.One("cursor")))
	g.GET("/campaigns/:id/experiment", h.experiment, p, httpx.Query(httpx.One("metric")))
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

// track accepts one event or {"events": [...]} (up to MaxBatch), validates each, publishes the
// valid ones to JetStream and answers 202 once JetStream has stored them.
func (h *Handler) track(c echo.Context) error {
	id, err := campaign.ParseID(c.Param("id"))
	if err != nil {
		return httpx.NotFound("no campaign has this id")
	}
	target, err := h.targets.target(c.Request().Context(), id)
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
	// Malformed JSON, or JSON that is not an object, is a 400 for the whole request.
	var probe map[string]json.RawMessage
	if err := httpx.DecodeJSONBytes(body, &probe); err != nil {
		return err
	}
	_, batch := probe["events"]
	var raws []json.RawMessage
	if batch {
		var req struct {
			Events []json.RawMessage `json:"events"`
		}
		if err := httpx.DecodeJSONBytes(body, &req); err != nil {
			return err
		}
		raws = req.Events
		if len(raws) == 0 || len(raws) > MaxBatch {
			return httpx.BadRequest(fmt.Sprintf("send 1 to %d events", MaxBatch),
				httpx.FieldError{Field: "events", Message: fmt.Sprintf("must hold 1 to %d events", MaxBatch)})
		}
	} else {
		raws = []json.RawMessage{body}
	}
	now := h.now().UTC()
	cid := uuid.UUID(id)
	out := TrackResponse{EventIDs: []string{}, Rejected: []RejectedEvent{}}
	var valid []Event
	for i, raw := range raws {
		e, errs := decodeEvent(raw, cid, now, h.cfg.Limits)
		if len(errs) == 0 {
			errs = target.check(e)
		}
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
	}
	if len(valid) == 0 {
		p := httpx.Invalid(prefixed(out.Rejected, batch))
		p.Detail = "no event was accepted; see errors"
		return p
	}
	if err := h.publish(c.Request().Context(), valid); err != nil {
		h.logger.WarnContext(c.Request().Context(), "tracking: publish failed", slog.Any("error", err))
		p := httpx.NewProblem(http.StatusServiceUnavailable, "tracking-unavailable", "Service unavailable",
			"the events could not be stored; retry with the same eventIds (duplicates are dropped)")
		p.Headers = map[string]string{"Retry-After": "5"}
		return p
	}
	for _, e := range valid {
		out.EventIDs = append(out.EventIDs, e.EventID.String())
	}
	out.Accepted = len(valid)
	h.cfg.Ingested(len(valid))
	return c.JSON(http.StatusAccepted, out)
}

// publish stores the events in JetStream and waits for every ack. Nats-Msg-Id = eventId, so a
// client that retries after a timeout does not count an event twice.
func (h *Handler) publish(ctx context.Context, events []Event) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	for _, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		msg := nats.NewMsg(PartitionSubject(e.CampaignID, h.cfg.Partitions))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, e.EventID.String())
		if rid := audit.CorrelationID(ctx); rid != "" {
			msg.Header.Set("X-Correlation-ID", rid)
		}
		f, err := h.js.PublishMsgAsync(msg)
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func decodeEvent(raw json.RawMessage, cid uuid.UUID, now time.Time, lim Limits) (Event, []FieldError) {
	var w wireEvent
	if err := strictjson.Decode(raw, &w); err != nil {
		var p *strictjson.Error
		if errors.As(err, &p) && len(p.Fields) > 0 {
			return Event{}, fieldErrors(p.Fields)
		}
		return Event{}, []FieldError{{Field: "", Message: "must be a JSON object"}}
	}
	return w.parse(&cid, now, lim)
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
	KPIs
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
	return c.JSON(http.StatusOK, Report{CampaignID: c0.ID().String(), From: optional(from), To: optional(to), KPIs: k})
}

// kpis sums the campaign's days from from to to; without either, its all-time totals rows: a
// few rows (one per variant and channel), however long its history.
func (h *Handler) kpis(ctx context.Context, c0 *campaign.View, from, to string) (KPIs, error) {
	var rows []Row
	var err error
	if from == "" && to == "" {
		rows, err = h.store.TotalRows(ctx, uuid.UUID(c0.ID()))
	} else {
		rows, err = h.store.Rows(ctx, uuid.UUID(c0.ID()), from, to)
	}
	if err != nil {
		return KPIs{}, err
	}
	return kpisOf(c0, rows)
}

// kpisOf sums the campaign's rows into its KPIs.
func kpisOf(c0 *campaign.View, rows []Row) (KPIs, error) {
	var total Totals
	var last *time.Time
	var err error
	for _, r := range rows {
		if total, err = total.Add(r.Totals); err != nil {
			return KPIs{}, fmt.Errorf("metrics: campaign %s: %w", c0.ID(), err)
		}
		if last == nil || r.UpdatedAt.After(*last) {
			t := r.UpdatedAt
			last = &t
		}
	}
	budget := c0.Budget().Amount
	return Compute(total, c0.Budget().Currency, &budget, last), nil
}

// CampaignMetrics is what the campaign resource embeds: c's all-time metrics and, when its A/B
// test is enabled, the experiment's verdict (nil otherwise), from one read of its totals.
func (h *Handler) CampaignMetrics(ctx context.Context, c *campaign.View) (campaignapi.CampaignMetrics, error) {
	rows, err := h.store.TotalRows(ctx, uuid.UUID(c.ID()))
	if err != nil {
		return campaignapi.CampaignMetrics{}, err
	}
	kpis, err := kpisOf(c, rows)
	if err != nil {
		return campaignapi.CampaignMetrics{}, err
	}
	summary, err := h.summary(ctx, c, rows)
	if err != nil {
		return campaignapi.CampaignMetrics{}, err
	}
	delivered, err := deliveredOf(rows)
	if err != nil {
		return campaignapi.CampaignMetrics{}, fmt.Errorf("metrics: campaign %s: %w", c.ID(), err)
	}
	return campaignapi.CampaignMetrics{Metrics: kpis, Experiment: summary, Delivered: delivered}, nil
}

// deliveredOf is what Store.Delivered reads, from a campaign's totals rows. A sum out of the
// 64-bit range fails with ErrTotalOutOfRange, as the SQL SUM of Store.Delivered does: a total
// that wrapped around would be negative, and would make a campaign past its budget or
// impression cap look within it. Failing the read is the safe side (no campaign is judged on
// a wrong total); the store refuses such totals, so only rows changed by hand get there.
func deliveredOf(rows []Row) (lifecycle.Delivered, error) {
	var impressions, costE4 int64
	for _, r := range rows {
		var okI, okC bool
		impressions, okI = add64(impressions, r.Totals.Impressions)
		costE4, okC = add64(costE4, r.Totals.CostE4)
		if !okI || !okC {
			return lifecycle.Delivered{}, ErrTotalOutOfRange
		}
	}
	return lifecycle.Delivered{Impressions: impressions, Spend: FromE4(costE4)}, nil
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

// PerformancePoint is one period of the series.
type PerformancePoint struct {
	Period     string `json:"period"` // the period's start: YYYY-MM-DD, or an RFC 3339 UTC hour
	Values     KPIs   `json:"values"`
	Cumulative KPIs   `json:"cumulative"`
}

// PerformanceSeries is the series of one group (all traffic when not grouped).
type PerformanceSeries struct {
	Group  *string            `json:"group"` // the variant, channel or personalization rule ("" when the event had none)
	Points []PerformancePoint `json:"points"`
}

// PerformanceResponse is GET /performance.
type PerformanceResponse struct {
	CampaignID  string              `json:"campaignId"`
	Granularity string              `json:"granularity"`
	GroupBy     *string             `json:"groupBy"`
	From        *string             `json:"from"`
	To          *string             `json:"to"`
	Series      []PerformanceSeries `json:"series"`
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
	var rows []Row
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
	ss, err := series(rows, gran, group, c0.Budget().Currency, c0.Budget().Amount)
	if err != nil {
		return fmt.Errorf("metrics: campaign %s: %w", c0.ID(), err)
	}
	out.Series = ss
	return c.JSON(http.StatusOK, out)
}

// series folds hourly or daily rows into periods per group, with running totals.
//
// The sums cannot overflow while the campaign's all-time totals fit (the store refuses a total
// out of range, and amounts are never negative); ErrTotalOutOfRange says the store was changed
// by hand.
func series(rows []Row, gran, group, cur string, budget decimal.Decimal) ([]PerformanceSeries, error) {
	type acc struct {
		totals Totals
		last   time.Time
	}
	byGroup := map[string]map[string]*acc{}
	var groups []string
	for _, r := range rows {
		g := ""
		switch group {
		case "variant":
			g = r.Variant
		case "channel":
			g = r.Channel
		case "personalization":
			g = r.Personalization
		}
		if byGroup[g] == nil {
			byGroup[g] = map[string]*acc{}
			groups = append(groups, g)
		}
		p := periodStart(r.Hour, gran)
		a := byGroup[g][p]
		if a == nil {
			a = &acc{}
			byGroup[g][p] = a
		}
		var err error
		if a.totals, err = a.totals.Add(r.Totals); err != nil {
			return nil, err
		}
		if r.UpdatedAt.After(a.last) {
			a.last = r.UpdatedAt
		}
	}
	slices.Sort(groups)
	out := make([]PerformanceSeries, 0, len(groups))
	for _, g := range groups {
		periods := make([]string, 0, len(byGroup[g]))
		for p := range byGroup[g] {
			periods = append(periods, p)
		}
		slices.Sort(periods)
		s := PerformanceSeries{Points: make([]PerformancePoint, 0, len(periods))}
		if group != "" {
			s.Group = &g
		}
		var running Totals
		for _, p := range periods {
			a := byGroup[g][p]
			var err error
			if running, err = running.Add(a.totals); err != nil {
				return nil, err
			}
			last := a.last
			values := Compute(a.totals, cur, nil, &last)
			values.Frequency = nil // a period's reach is its newly reached customers
			s.Points = append(s.Points, PerformancePoint{Period: p, Values: values,
				Cumulative: Compute(running, cur, &budget, &last)})
		}
		out = append(out, s)
	}
	return out, nil
}

// periodStart names the period of a row that starts at t (UTC): its hour in RFC 3339, or the
// first day of its period (the day, its ISO week's Monday, or the first of its month).
func periodStart(t time.Time, gran string) string {
	switch gran {
	case "hour":
		return t.Format(time.RFC3339)
	case "week":
		offset := (int(t.Weekday()) + 6) % 7 // Monday = 0
		return t.AddDate(0, 0, -offset).Format(time.DateOnly)
	case "month":
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	default:
		return t.Format(time.DateOnly)
	}
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
			t = HourOf(rt)
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
		to = HourOf(now)
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
