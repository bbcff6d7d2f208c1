// Package echoapi serves targeting over Echo: POST /targeting/evaluate, the campaigns a
// customer is eligible for, and POST /campaigns/{id}/evaluate, one campaign's verdict.
package echoapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

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
	logger *slog.Logger
}

// HandlerConfig tunes the Handler. Zero fields take the defaults noted.
type HandlerConfig struct {
	// Logger hears about the errors behind 5xx answers (default: discard).
	Logger *slog.Logger
}

// NewHandler returns the targeting HTTP handler.
func NewHandler(eval *targeting.Evaluator, cfg HandlerConfig) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{eval: eval, logger: cfg.Logger}
}

// Register mounts POST /targeting/evaluate and POST /campaigns/:id/evaluate under g.
func (h *Handler) Register(g httpx.Router) {
	p := httpx.Problems(h.logger)
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
