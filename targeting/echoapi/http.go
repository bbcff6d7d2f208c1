// Package echoapi serves targeting over Echo: POST /targeting/evaluate, the campaigns a
// customer is eligible for, POST /campaigns/{id}/evaluate, one campaign's verdict, and
// GET /targeting/rules?id=..., the names and statuses of rules (for labels).
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
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/textcheck"
	"github.com/engine-rules-sp/campaigns/targeting"
)

// Limits of an eligibility request.
const (
	MaxCustomerIDLen = 128
	MaxContextBytes  = 64 << 10
)

// Handler serves the eligibility endpoints.
type Handler struct {
	eval   *targeting.Evaluator
	rules  RuleSource
	logger *slog.Logger
}

// RuleSource gives a targeting rule's metadata from the Rules Engine; *targeting.Client
// implements it (its short cache answers repeated reads).
type RuleSource interface {
	Rule(ctx context.Context, id uuid.UUID) (*targeting.Rule, error)
}

// HandlerConfig tunes the Handler. Zero fields take the defaults noted.
type HandlerConfig struct {
	// Logger hears about the errors behind 5xx answers (default: discard).
	Logger *slog.Logger
	// Rules looks rules up for GET /targeting/rules (nil: no Rules Engine, every rule is
	// unresolved).
	Rules RuleSource
}

// NewHandler returns the targeting HTTP handler.
func NewHandler(eval *targeting.Evaluator, cfg HandlerConfig) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{eval: eval, rules: cfg.Rules, logger: cfg.Logger}
}

// Register mounts POST /targeting/evaluate, POST /campaigns/:id/evaluate and
// GET /targeting/rules under g.
func (h *Handler) Register(g httpx.Router) {
	p := httpx.Problems(h.logger)
	g.GET("/targeting/rules", h.ruleNames, p, httpx.Query(httpx.Many("id")))
	g.POST("/targeting/evaluate", h.evaluateAll, p, httpx.Query(httpx.One("explain")))
	g.POST("/campaigns/:id/evaluate", h.evaluateOne, p, httpx.Query(httpx.One("explain")))
}

type eligibilityRequest struct {
	CustomerID string          `json:"customerId"`
	Context    json.RawMessage `json:"context"`
	Channel    *string         `json:"channel"`
}

// EligibleCampaign is one campaign a customer may be shown.
type EligibleCampaign struct {
	CampaignID      string                 `json:"campaignId"`
	Name            string                 `json:"name"`
	Variant         *string                `json:"variant"`
	Personalization []targeting.RuleResult `json:"personalization"`
}

// UndeterminedCampaign is a serving campaign left out because a rule could not be read or
// evaluated (fail closed), with the reasons.
type UndeterminedCampaign struct {
	CampaignID string   `json:"campaignId"`
	Name       string   `json:"name"`
	Reasons    []string `json:"reasons"`
}

// NotServedCampaign is an ACTIVE campaign that was considered and not served, with every
// reason (?explain=true).
type NotServedCampaign struct {
	CampaignID string             `json:"campaignId"`
	Name       string             `json:"name"`
	Why        []targeting.Reason `json:"why"`
}

// EligibleResponse is the answer of POST /targeting/evaluate.
type EligibleResponse struct {
	Campaigns []EligibleCampaign `json:"campaigns"`
	// Undetermined lets a caller tell "not eligible" from "could not tell now" (the Rules
	// Engine down, say): those campaigns are not in Campaigns, and may be after a retry.
	Undetermined []UndeterminedCampaign `json:"undetermined"`
	// NotServed, with ?explain=true only: every campaign considered and not served, and why.
	NotServed *[]NotServedCampaign `json:"notServed,omitempty"`
}

// VerdictResponse is the answer of POST /campaigns/{id}/evaluate: the verdict and, with
// ?explain=true, every reason it is not served, typed.
type VerdictResponse struct {
	targeting.Verdict
	Why *[]targeting.Reason `json:"why,omitempty"`
}

// explain reads ?explain= as strconv.ParseBool does (absent: false), like dryRun.
func explain(c echo.Context) (bool, error) {
	v := c.QueryParam("explain")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, httpx.BadRequest("the query string is invalid",
			httpx.FieldError{Field: "explain", Message: "must be true or false"})
	}
	return b, nil
}

func (h *Handler) request(c echo.Context) (targeting.Request, error) {
	var body eligibilityRequest
	if err := httpx.DecodeJSON(c, &body); err != nil {
		return targeting.Request{}, err
	}
	var errs []httpx.FieldError
	if n := utf8.RuneCountInString(body.CustomerID); strings.TrimSpace(body.CustomerID) == "" || n > MaxCustomerIDLen {
		errs = append(errs, httpx.FieldError{Field: "customerId", Message: fmt.Sprintf("must be 1 to %d characters", MaxCustomerIDLen)})
	} else if err := textcheck.Line(body.CustomerID); err != nil {
		// It is logged and sent to the Rules Engine as the customer's key: one line of text.
		errs = append(errs, httpx.FieldError{Field: "customerId", Message: err.Error()})
	}
	ctxJSON := bytes.TrimSpace(body.Context)
	switch {
	case len(ctxJSON) == 0 || string(ctxJSON) == "null":
		ctxJSON = []byte(`{}`)
	case ctxJSON[0] != '{':
		errs = append(errs, httpx.FieldError{Field: "context", Message: "must be a JSON object"})
	case len(ctxJSON) > MaxContextBytes:
		errs = append(errs, httpx.FieldError{Field: "context", Message: fmt.Sprintf("must be at most %d bytes", MaxContextBytes)})
	}
	req := targeting.Request{CustomerID: body.CustomerID, Context: ctxJSON}
	if body.Channel != nil {
		ch := campaign.Channel(*body.Channel)
		if !slices.Contains(campaign.Channels(), ch) {
			errs = append(errs, httpx.FieldError{Field: "channel", Message: "must be one of EMAIL, SMS, PUSH, WEB, SOCIAL, DISPLAY"})
		}
		req.Channel = ch
	}
	if len(errs) > 0 {
		return targeting.Request{}, httpx.Invalid(errs)
	}
	return req, nil
}

// requestWithExplain reads the query string, then the body: a bad query is a 400 whatever the body.
func (h *Handler) requestWithExplain(c echo.Context) (targeting.Request, error) {
	ex, err := explain(c)
	if err != nil {
		return targeting.Request{}, err
	}
	req, err := h.request(c)
	req.Explain = ex
	return req, err
}

func (h *Handler) evaluateAll(c echo.Context) error {
	req, err := h.requestWithExplain(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	res, err := h.eval.EligibleCampaigns(ctx, req)
	if err != nil {
		return err
	}
	out := EligibleResponse{Campaigns: make([]EligibleCampaign, len(res.Eligible)),
		Undetermined: make([]UndeterminedCampaign, len(res.Undetermined))}
	for i, v := range res.Eligible {
		out.Campaigns[i] = EligibleCampaign{CampaignID: v.CampaignID, Name: v.Name, Variant: v.Variant,
			Personalization: v.Personalization}
	}
	for i, v := range res.Undetermined {
		out.Undetermined[i] = UndeterminedCampaign{CampaignID: v.CampaignID, Name: v.Name, Reasons: v.Reasons}
	}
	if req.Explain {
		ns := make([]NotServedCampaign, len(res.NotServed))
		for i, v := range res.NotServed {
			ns[i] = NotServedCampaign{CampaignID: v.CampaignID, Name: v.Name, Why: v.Why}
		}
		out.NotServed = &ns
	}
	if len(res.Undetermined) > 0 {
		h.logger.WarnContext(ctx, "eligibility failed closed: rules could not be evaluated",
			slog.Int("campaigns", len(res.Undetermined)), slog.String("first", strings.Join(res.Undetermined[0].Reasons, "; ")))
	}
	return c.JSON(http.StatusOK, out)
}

func (h *Handler) evaluateOne(c echo.Context) error {
	id, err := campaign.ParseID(c.Param("id"))
	if err != nil {
		return httpx.NotFound("no campaign has this id")
	}
	req, err := h.requestWithExplain(c)
	if err != nil {
		return err
	}
	v, err := h.eval.Campaign(c.Request().Context(), id, req)
	if errors.Is(err, campaign.ErrNotFound) {
		return httpx.NotFound("no campaign has this id")
	}
	if err != nil {
		return err
	}
	out := VerdictResponse{Verdict: v}
	if req.Explain {
		why := v.Why
		if why == nil {
			why = []targeting.Reason{}
		}
		out.Why = &why
	}
	return c.JSON(http.StatusOK, out)
}

// RuleResponse is what a reader needs to name a rule, not its DSL.
type RuleResponse struct {
	ID       uuid.UUID            `json:"id"`
	Name     string               `json:"name"`
	Status   targeting.RuleStatus `json:"status"`
	Category string               `json:"category"`
}

// MaxRuleLookups is how many ids GET /targeting/rules names at most.
const MaxRuleLookups = 100

// RulesResponse is GET /targeting/rules?id=...: the rules the Rules Engine knows among the
// ids, and the others.
type RulesResponse struct {
	Rules []RuleResponse `json:"rules"`
	// Unresolved lists the ids that name no rule the engine knows (every id when the service
	// has no Rules Engine), in the order asked.
	Unresolved []string `json:"unresolved"`
}

// ruleNames looks several rules up at once, for a page that labels every rule id it shows: a
// rule that cannot be named is listed as unresolved rather than failing the page's request.
// An engine that cannot answer is a 503 with Retry-After, as for one rule.
func (h *Handler) ruleNames(c echo.Context) error {
	raw := c.QueryParams()["id"]
	if len(raw) == 0 || len(raw) > MaxRuleLookups {
		return httpx.BadRequest("the query string is invalid",
			httpx.FieldError{Field: "id", Message: fmt.Sprintf("give 1 to %d rule ids", MaxRuleLookups)})
	}
	ids := make([]uuid.UUID, len(raw))
	for i, s := range raw {
		id, err := uuid.Parse(s)
		if err != nil || len(s) != 36 {
			return httpx.BadRequest("the query string is invalid",
				httpx.FieldError{Field: "id", Message: fmt.Sprintf("%q is not a rule id (a UUID)", s)})
		}
		ids[i] = id
	}
	ids = slices.Compact(ids) // a repeated id next to itself; others are looked up once by the cache
	found := make([]*targeting.Rule, len(ids))
	if h.rules != nil {
		// A few at a time: a page names a handful of rules, the client's cache answers repeats.
		g, ctx := errgroup.WithContext(c.Request().Context())
		g.SetLimit(8)
		for i, id := range ids {
			g.Go(func() error {
				r, err := h.rules.Rule(ctx, id)
				if errors.Is(err, targeting.ErrRuleNotFound) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("rule %s: %w", id, err)
				}
				found[i] = r
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return h.engineUnavailable(c, err)
		}
	}
	out := RulesResponse{Rules: []RuleResponse{}, Unresolved: []string{}}
	for i, r := range found {
		if r == nil {
			out.Unresolved = append(out.Unresolved, ids[i].String())
			continue
		}
		out.Rules = append(out.Rules, RuleResponse{ID: r.ID, Name: r.Name, Status: r.Status, Category: r.Category})
	}
	return c.JSON(http.StatusOK, out)
}

// engineUnavailable is the answer when the Rules Engine could not tell a rule now.
func (h *Handler) engineUnavailable(c echo.Context, err error) error {
	h.logger.WarnContext(c.Request().Context(), "rule lookup failed", slog.Any("error", err))
	p := httpx.NewProblem(http.StatusServiceUnavailable, "rules-engine-unavailable", "Rules Engine unavailable",
		"the Rules Engine could not tell this rule now; retry later")
	p.Headers = map[string]string{"Retry-After": "5"}
	return p
}
