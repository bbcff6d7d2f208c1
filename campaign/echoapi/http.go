package echoapi

import (
	"bytes"
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
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// Handler serves the campaign endpoints.
type Handler struct {
	svc     *campaign.Service
	logger  *slog.Logger
	metrics MetricsSource
	totals  campaign.TotalsSource
	pacing  PacingSource
	bulkN   int // campaigns a bulk action works on at once
	// bulkSlots bounds the campaigns all bulk requests of this handler act on at once, so
	// that concurrent bulk calls cannot take the whole connection pool.
	bulkSlots chan struct{}
}

// MetricsSource gives what GET /campaigns/:id embeds from the metrics capability (which
// implements it), in one read of the campaign's totals.
type MetricsSource interface {
	CampaignMetrics(ctx context.Context, c *campaign.View) (CampaignMetrics, error)
}

// CampaignMetrics is what GET /campaigns/:id takes from its MetricsSource.
type CampaignMetrics struct {
	// Metrics are the performance totals and KPIs.
	Metrics any
	// Experiment is the short A/B verdict when the campaign's test is enabled (nil otherwise).
	Experiment any
	// Delivered is what the campaign delivered (impressions, spend), from the same totals: the
	// serving status judges it without a read of its own.
	Delivered lifecycle.Delivered
}

// PacingSource gives the list with includeMetrics=true where each paced campaign of a page
// stands against its pacing plan; the metrics capability implements it with the computation
// of GET /campaigns/:id's metrics.pacing.
type PacingSource interface {
	// ListPacing returns, for each campaign of page whose pacing mode is not ASAP, its pacing
	// report at now (without the chart), its flight's spend being its all-time cost in costs;
	// today's spend of those with a daily budget is read for the page at once, whatever the
	// number of campaigns. Campaigns it leaves out have no pacing member.
	ListPacing(ctx context.Context, page []*campaign.View, costs map[uuid.UUID]decimal.Decimal, now time.Time) (map[uuid.UUID]any, error)
}

// HandlerConfig is the optional part of a Handler; its zero value is usable.
type HandlerConfig struct {
	// Logger logs what the problem responses do not show (nil: slog.Default()).
	Logger *slog.Logger
	// Metrics, when set, embeds the campaign's metrics in GET /campaigns/:id (and the A/B
	// verdict when the test is on).
	Metrics MetricsSource
	// Totals, when set, lets the list add each campaign's all-time totals
	// (includeMetrics=true; without it that is a 400), one query per page.
	Totals campaign.TotalsSource
	// Pacing, when set with Totals, adds each paced campaign's pacing report to its totals in
	// the list (totals.pacing), read for the whole page at once.
	Pacing PacingSource
	// BulkConcurrency is how many campaigns of one bulk action are acted on at once, each in
	// its own transaction (default DefaultBulkConcurrency; 1: one after the other). All bulk
	// requests together act on at most twice as many at once.
	BulkConcurrency int
}

// NewHandler returns the HTTP handler of svc.
func NewHandler(svc *campaign.Service, cfg HandlerConfig) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BulkConcurrency <= 0 {
		cfg.BulkConcurrency = DefaultBulkConcurrency
	}
	return &Handler{svc: svc, logger: cfg.Logger, metrics: cfg.Metrics, totals: cfg.Totals, pacing: cfg.Pacing, bulkN: cfg.BulkConcurrency,
		bulkSlots: make(chan struct{}, 2*cfg.BulkConcurrency)}
}

// Register mounts the campaign routes under g (usually /api/v1). Errors are written as
// problem+json by the routes themselves, whatever the host's Echo error handler is.
func (h *Handler) Register(g httpx.Router) {
	p := httpx.Problems(h.logger)
	none := httpx.Query()
	g.POST("/campaigns", h.create, p, none)
	g.GET("/campaigns", h.list, p, httpx.Query(listRouteParams()...))
	g.GET("/campaigns/:id", h.get, p, none)
	g.PUT("/campaigns/:id", h.update, p, none)
	g.DELETE("/campaigns/:id", h.delete, p, none)
	for _, action := range []string{"activate", "pause", "resume", "complete", "stop", "cancel"} {
		g.POST("/campaigns/:id/"+action, h.transition(action), p, httpx.Query(httpx.One("dryRun")))
	}
	g.POST("/campaigns/:id/duplicate", h.duplicate, p, none)
	h.registerBulk(g, p)
	g.GET("/campaigns/:id/transitions", h.transitions, p, httpx.Query(httpx.One("limit"), httpx.One("cursor")))
	g.GET("/campaigns/:id/events", h.events, p, httpx.Query(httpx.Many("type"), httpx.One("limit"), httpx.One("cursor")))
	h.registerApproval(g, p)
}

// Request and response bodies.

type moneyRequest struct {
	Amount   json.RawMessage `json:"amount"`
	Currency string          `json:"currency"`
}

type personalizationRequest struct {
	Enabled bool     `json:"enabled"`
	Rules   []string `json:"rules"`
}

type settingsRequest struct {
	TargetAudience  []string                  `json:"targetAudience"`
	Channels        []campaign.Channel        `json:"channels"`
	Frequency       campaign.Frequency        `json:"frequency"`
	MaxImpressions  *int64                    `json:"maxImpressions"`
	BudgetLimit     *moneyRequest             `json:"budgetLimit"`
	ABTestSettings  *campaign.ABTestSettings  `json:"abTestSettings"`
	SchedulingRules []campaign.SchedulingRule `json:"schedulingRules"`
	Personalization *personalizationRequest   `json:"personalization"`
	Pacing          *pacingRequest            `json:"pacing"`
}

type pacingRequest struct {
	Mode        lifecycle.PacingMode   `json:"mode"`
	Period      lifecycle.PacingPeriod `json:"period"`
	DailyBudget *moneyRequest          `json:"dailyBudget"`
	Timezone    string                 `json:"timezone"`
}

// campaignRequest is the body of create and replace. One struct serves both, so that decoding
// errors name JSON fields only; each handler rejects the fields that are not its own.
type campaignRequest struct {
	Name           string           `json:"name"`
	Description    string           `json:"description"`
	Type           campaign.Type    `json:"type"`
	TargetingRules []string         `json:"targetingRules"`
	StartDate      string           `json:"startDate"`
	EndDate        *string          `json:"endDate"`
	Budget         *moneyRequest    `json:"budget"`
	Settings       *settingsRequest `json:"settings"`
	Version        *int64           `json:"version"` // replace only
	readOnlyFields
}

// readOnlyFields are the members of the GET representation that no request sets. Replace
// accepts and ignores them, so that a client may send back what it read with its changes
// (only an id naming another campaign is refused); create refuses them (400).
type readOnlyFields struct {
	ID                json.RawMessage `json:"id"`
	Status            json.RawMessage `json:"status"`
	ServingStatus     json.RawMessage `json:"servingStatus"`
	CreatedBy         json.RawMessage `json:"createdBy"`
	CreatedAt         json.RawMessage `json:"createdAt"`
	UpdatedAt         json.RawMessage `json:"updatedAt"`
	TargetingVerified json.RawMessage `json:"targetingVerified"`
	Metrics           json.RawMessage `json:"metrics"`
	Experiment        json.RawMessage `json:"experiment"`
	Approval          json.RawMessage `json:"approval"`
}

// given lists the JSON names of the read-only members present in the body, in their order
// in the representation.
func (r readOnlyFields) given() []string {
	var out []string
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{
		{"id", r.ID}, {"status", r.Status}, {"servingStatus", r.ServingStatus}, {"createdBy", r.CreatedBy},
		{"createdAt", r.CreatedAt}, {"updatedAt", r.UpdatedAt}, {"targetingVerified", r.TargetingVerified},
		{"metrics", r.Metrics},
		{"experiment", r.Experiment}, {"approval", r.Approval},
	} {
		if f.raw != nil {
			out = append(out, f.name)
		}
	}
	return out
}

// fieldErrors collects every problem of a request, to report them all at once.
type fieldErrors []httpx.FieldError

func (e *fieldErrors) add(field, msg string) {
	*e = append(*e, httpx.FieldError{Field: field, Message: msg})
}

// httpErrors are the domain's field errors as a problem lists them.
func httpErrors(errs []campaign.FieldError) []httpx.FieldError {
	out := make([]httpx.FieldError, len(errs))
	for i, e := range errs {
		out[i] = httpx.FieldError(e)
	}
	return out
}

// domainErrors are a request's field errors as a campaign.ValidationError lists them.
func domainErrors(errs []httpx.FieldError) []campaign.FieldError {
	out := make([]campaign.FieldError, len(errs))
	for i, e := range errs {
		out[i] = campaign.FieldError(e)
	}
	return out
}

func unknownField(name string) error {
	return httpx.BadRequest("the request body has a field this endpoint does not accept",
		httpx.FieldError{Field: name, Message: "unknown field"})
}

// readOnly refuses members a create request cannot set (the author comes from the caller's
// identity, status and timestamps from the service).
func readOnly(names []string) error {
	errs := make([]httpx.FieldError, len(names))
	for i, n := range names {
		errs[i] = httpx.FieldError{Field: n, Message: "is read-only: the service sets it"}
	}
	return httpx.BadRequest("the request body sets fields that only the service sets", errs...)
}

// Response is a campaign as the API shows it.
type Response struct {
	ID             campaign.ID             `json:"id"`
	Name           string                  `json:"name"`
	Description    string                  `json:"description"`
	Status         lifecycle.Status        `json:"status"`
	ServingStatus  lifecycle.ServingStatus `json:"servingStatus"`
	Type           campaign.Type           `json:"type"`
	TargetingRules []campaign.RuleID       `json:"targetingRules"`
	StartDate      time.Time               `json:"startDate"`
	EndDate        *time.Time              `json:"endDate"`
	Budget         campaign.Money          `json:"budget"`
	CreatedBy      campaign.UserID         `json:"createdBy"`
	CreatedAt      time.Time               `json:"createdAt"`
	UpdatedAt      time.Time               `json:"updatedAt"`
	Settings       campaign.Settings       `json:"settings"`
	Version        int64                   `json:"version"`
	// TargetingVerified: the Rules Engine found every rule ACTIVE when the campaign was last
	// activated or resumed, and the rules have not changed since (see Campaign).
	TargetingVerified bool `json:"targetingVerified"`
	// Approval is where the campaign stands in the approval workflow (approval.go).
	Approval ApprovalResponse `json:"approval"`
	// Metrics are the performance totals and KPIs; only GET /campaigns/:id has them.
	Metrics any `json:"metrics,omitempty"`
	// Experiment is the short A/B verdict; only GET /campaigns/:id has it, when the test is on.
	Experiment any `json:"experiment,omitempty"`
	// Totals are the all-time performance totals; only the list with includeMetrics=true has
	// them (the export's metrics member).
	Totals *ListTotals `json:"totals,omitempty"`
}

// NewResponse renders c for the API, with its serving status at now.
func NewResponse(c *campaign.View, now time.Time) Response {
	return Response{
		ID: c.ID(), Name: c.Name(), Description: c.Description(), Status: c.Status(),
		ServingStatus: c.Serving(now), Type: c.Type(),
		TargetingRules: c.TargetingRules(), TargetingVerified: c.TargetingVerified(),
		StartDate: c.StartDate(), EndDate: c.EndDate(),
		Budget: c.Budget(), CreatedBy: c.CreatedBy(), CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt(),
		Settings: c.Settings(), Version: c.Version(), Approval: newApprovalResponse(c),
	}
}

// ListResponse is one page of campaigns.
type ListResponse struct {
	Campaigns  []Response `json:"campaigns"`
	NextCursor *string    `json:"nextCursor"`
	Limit      int        `json:"limit"`
}

// Routes.

func (h *Handler) create(c echo.Context) error {
	var req campaignRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.Version != nil {
		return unknownField("version")
	}
	if ro := req.given(); len(ro) > 0 {
		return readOnly(ro)
	}
	actor, err := author(c)
	if err != nil {
		return err
	}
	in, err := h.input(req, nil)
	if err != nil {
		return err
	}
	location := func(id campaign.ID) string {
		return strings.TrimSuffix(c.Request().URL.Path, "/") + "/" + id.String()
	}
	expect(c, h.svc, http.StatusCreated, location)
	camp, err := h.svc.Create(c.Request().Context(), actor, in)
	if err != nil {
		return h.problem(err, false)
	}
	c.Response().Header().Set(echo.HeaderLocation, location(camp.ID()))
	httpx.SetETag(c, camp.Version())
	return c.JSON(http.StatusCreated, NewResponse(camp, h.svc.Now()))
}

func (h *Handler) get(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var camp *campaign.View
	var m CampaignMetrics
	if h.metrics != nil {
		camp, err = h.svc.GetWith(ctx, id, func(ctx context.Context, c *campaign.View) (lifecycle.Delivered, error) {
			m, err = h.metrics.CampaignMetrics(ctx, c)
			return m.Delivered, err
		})
	} else {
		camp, err = h.svc.Get(ctx, id)
	}
	if err != nil {
		return h.problem(err, false)
	}
	out := NewResponse(camp, h.svc.Now())
	out.Metrics, out.Experiment = m.Metrics, m.Experiment
	httpx.SetETag(c, camp.Version())
	return c.JSON(http.StatusOK, out)
}

func (h *Handler) update(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ifMatch, hasIfMatch, err := httpx.IfMatch(c)
	if err != nil {
		return err
	}
	var req campaignRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := sameID(req.ID, id); err != nil {
		return err
	}
	var expected *int64
	switch {
	case hasIfMatch:
		expected = &ifMatch
	case req.Version != nil:
		expected = req.Version
	case !httpx.IfMatchAny(c):
		return httpx.PreconditionRequired("say which version you are replacing: send If-Match: \"<version>\" (or *) or a version field")
	}
	ctx := c.Request().Context()
	storedStart := func() *time.Time {
		if cur, err := h.svc.Get(ctx, id); err == nil {
			start := cur.StartDate()
			return &start
		}
		return nil
	}
	in, err := h.input(req, storedStart)
	if err != nil {
		return err
	}
	camp, err := h.svc.Update(ctx, id, expected, in)
	if err != nil {
		return h.problem(err, hasIfMatch)
	}
	httpx.SetETag(c, camp.Version())
	return c.JSON(http.StatusOK, NewResponse(camp, h.svc.Now()))
}

func (h *Handler) delete(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ifMatch, hasIfMatch, err := httpx.IfMatch(c)
	if err != nil {
		return err
	}
	var expected *int64
	if hasIfMatch {
		expected = &ifMatch
	}
	if err := h.svc.Delete(c.Request().Context(), id, expected); err != nil {
		return h.problem(err, hasIfMatch)
	}
	return c.NoContent(http.StatusNoContent)
}

// pathID reads the :id parameter. A malformed id names no campaign: 404, as for an unknown one.
func pathID(c echo.Context) (campaign.ID, error) {
	id, err := campaign.ParseID(c.Param("id"))
	if err != nil {
		return campaign.ID{}, httpx.NotFound("no campaign has this id")
	}
	return id, nil
}

// author is who creates a campaign: the caller's identity (the authenticated subject, or
// X-User-ID in auth mode none), never a body member.
func author(c echo.Context) (campaign.UserID, error) {
	if id, ok := audit.Actor(c.Request().Context()); ok {
		return campaign.UserID(id), nil
	}
	return campaign.UserID{}, httpx.BadRequest("the author is unknown: send an X-User-ID header holding your user id (a UUID)",
		httpx.FieldError{Field: httpx.HeaderUserID, Message: "is required"})
}

// sameID refuses a replace whose body names another campaign than its URL: most likely a
// client that sent one campaign's representation to another's address. Any other read-only
// member is ignored.
func sameID(raw json.RawMessage, id campaign.ID) error {
	if raw == nil || string(raw) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil && s == id.String() {
		return nil
	}
	return httpx.BadRequest("the body's id is not the id of the URL",
		httpx.FieldError{Field: "id", Message: "must be " + id.String() + " (read-only; it may be left out)"})
}

// input turns the request fields into a domain Input. Values that do not parse are reported
// together with every domain rule the rest of the input breaks; storedStart (nil on create)
// fetches the stored start date for that report only.
func (h *Handler) input(req campaignRequest, storedStart func() *time.Time) (campaign.Input, error) {
	in, parseErrs := parseInput(req)
	if len(parseErrs) == 0 {
		return in, nil
	}
	in.Normalize()
	var prevStart *time.Time
	if storedStart != nil {
		prevStart = storedStart()
	}
	errs := parseErrs
	for _, fe := range in.Validate(h.svc.Now(), prevStart) {
		if !coveredBy(fe.Field, parseErrs) {
			errs = append(errs, httpx.FieldError(fe))
		}
	}
	return in, httpx.Invalid(errs)
}

// coveredBy reports whether a parse error already speaks for field itself. A parse error on
// a parent does not hide a rule on a member: "budget" (bad currency) and "budget.amount" are
// both reported; but "startDate" hides the validator's "startDate".
func coveredBy(field string, errs fieldErrors) bool {
	return slices.ContainsFunc(errs, func(e httpx.FieldError) bool { return e.Field == field })
}

// parseInput reads req into an Input, with an error for each id, date or amount that does not
// parse; the domain rules are Validate's.
func parseInput(req campaignRequest) (campaign.Input, fieldErrors) {
	var errs fieldErrors
	in := campaign.Input{Name: req.Name, Description: req.Description, Type: req.Type}
	in.TargetingRules = parseRules("targetingRules", req.TargetingRules, &errs)
	if req.StartDate != "" {
		in.StartDate, _ = parseBodyDate("startDate", req.StartDate, &errs)
	}
	if req.EndDate != nil {
		if t, ok := parseBodyDate("endDate", *req.EndDate, &errs); ok {
			in.EndDate = &t
		}
	}
	if req.Budget != nil {
		in.Budget = parseMoney("budget", *req.Budget, &errs)
	}
	if req.Settings != nil {
		in.Settings = parseSettings(*req.Settings, &errs)
	}
	return in, errs
}

func parseSettings(s settingsRequest, errs *fieldErrors) campaign.Settings {
	out := campaign.Settings{
		TargetAudience: s.TargetAudience, Channels: s.Channels, Frequency: s.Frequency,
		MaxImpressions: s.MaxImpressions, ABTest: s.ABTestSettings, SchedulingRules: s.SchedulingRules,
	}
	if s.BudgetLimit != nil {
		m := parseMoney("settings.budgetLimit", *s.BudgetLimit, errs)
		out.BudgetLimit = &m
	}
	if p := s.Personalization; p != nil {
		out.Personalization = campaign.Personalization{
			Enabled: p.Enabled, Rules: parseRules("settings.personalization.rules", p.Rules, errs),
		}
	}
	if p := s.Pacing; p != nil {
		out.Pacing = &campaign.Pacing{Mode: p.Mode, Period: p.Period, Timezone: p.Timezone}
		if p.DailyBudget != nil {
			m := parseMoney("settings.pacing.dailyBudget", *p.DailyBudget, errs)
			out.Pacing.DailyBudget = &m
		}
	}
	return out
}

func parseBodyDate(field, s string, errs *fieldErrors) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		errs.add(field, "must be an RFC 3339 date-time such as 2026-01-31T09:00:00Z")
	}
	return t, err == nil
}

func parseRules(field string, raw []string, errs *fieldErrors) []campaign.RuleID {
	out := make([]campaign.RuleID, 0, len(raw))
	for i, s := range raw {
		id, err := campaign.ParseRuleID(s)
		if err != nil {
			errs.add(fmt.Sprintf("%s[%d]", field, i), "must be a UUID")
		}
		out = append(out, id) // the nil id keeps later indexes aligned for the validator
	}
	return out
}

// parseMoney reads an amount given as a JSON string or number, exactly (never via float64).
func parseMoney(field string, m moneyRequest, errs *fieldErrors) campaign.Money {
	out := campaign.Money{Currency: m.Currency}
	raw := bytes.TrimSpace(m.Amount)
	if len(raw) == 0 || string(raw) == "null" {
		return out // the validator reports the missing amount
	}
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			errs.add(field+".amount", "must be a decimal number")
			return out
		}
	}
	d, err := decimal.NewFromString(strings.TrimSpace(text))
	if err != nil || strings.ContainsAny(text, "eE") {
		errs.add(field+".amount", "must be a decimal number such as \"10000.00\"")
		return out
	}
	out.Amount = d
	return out
}

// problem maps service errors to HTTP problems. viaIfMatch says the expected version came from
// If-Match, so a stale one is 412 rather than 409.
func (h *Handler) problem(err error, viaIfMatch bool) error {
	var verr *campaign.ValidationError
	var serr *campaign.StateError
	var locked *campaign.TargetingLockedError
	var forbidden *lifecycle.ForbiddenError
	var blocked *lifecycle.BlockedError
	switch {
	case errors.As(err, &verr):
		return httpx.Invalid(httpErrors(verr.Fields))
	case errors.Is(err, campaign.ErrNotFound):
		return httpx.NotFound("no campaign has this id")
	case errors.Is(err, campaign.ErrNameTaken):
		p := httpx.Conflict("name-taken", "another campaign already has this name (names are compared without case)")
		p.Errors = []httpx.FieldError{{Field: "name", Message: "is already in use"}}
		return p
	case errors.Is(err, campaign.ErrVersionConflict) && viaIfMatch:
		return httpx.PreconditionFailed("the campaign has changed since this version; fetch it again")
	case errors.Is(err, campaign.ErrVersionConflict):
		return httpx.Conflict("version-conflict", "the campaign has changed since this version; fetch it again")
	case errors.As(err, &locked):
		p := httpx.Conflict("targeting-locked", locked.Error())
		for _, f := range locked.Fields {
			p.Errors = append(p.Errors, httpx.FieldError{Field: f, Message: "cannot change while the campaign is " + string(locked.Status)})
		}
		p.Extra = map[string]any{"currentStatus": locked.Status}
		return p
	case errors.As(err, &serr):
		p := httpx.Conflict("invalid-state", serr.Error())
		p.Extra = map[string]any{"currentStatus": serr.Status}
		return p
	case errors.As(err, &forbidden):
		p := httpx.Conflict("invalid-transition", forbidden.Error())
		p.Extra = map[string]any{"currentStatus": forbidden.Status, "action": forbidden.Action, "allowedActions": forbidden.Allowed}
		return p
	case errors.As(err, &blocked):
		p := httpx.NewProblem(http.StatusUnprocessableEntity, "transition-blocked", "Transition blocked",
			fmt.Sprintf("cannot %s the campaign now; see errors", blocked.Action))
		for _, v := range blocked.Violations {
			p.Errors = append(p.Errors, httpx.FieldError{Field: v.Field, Message: v.Message})
		}
		p.Extra = map[string]any{"currentStatus": blocked.Status, "action": blocked.Action}
		return p
	case errors.Is(err, campaign.ErrChecksUnavailable):
		h.logger.WarnContext(context.Background(), "activation checks unavailable", "error", err)
		p := httpx.NewProblem(http.StatusServiceUnavailable, "checks-unavailable", "Service unavailable",
			"the targeting checks could not be completed; nothing was changed, retry later")
		p.Headers = map[string]string{"Retry-After": strconv.Itoa(RetryAfterChecks)}
		return p
	case errors.Is(err, campaign.ErrBadCursor):
		return httpx.BadRequest("the cursor is invalid", httpx.FieldError{Field: "cursor", Message: "is not a cursor this service issued"})
	default:
		return err
	}
}
