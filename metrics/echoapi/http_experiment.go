package echoapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/metrics/experiment"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
)

// CampaignUpdater replaces a campaign's editable fields; the campaign service implements it.
type CampaignUpdater interface {
	metrics.CampaignGetter
	Update(ctx context.Context, id campaign.ID, expectedVersion *int64, in campaign.Input) (*campaign.View, error)
	// WrittenView is the campaign as an update leaves it, viewed as Update returns it: the
	// answer of a keyed conclude is rendered from it inside the update's transaction.
	WrittenView(ctx context.Context, c *campaign.Campaign) *campaign.View
}

// ExperimentResponse is GET /campaigns/:id/experiment.
type ExperimentResponse struct {
	CampaignID string `json:"campaignId"`
	Currency   string `json:"currency"` // of revenue and revenue per exposure
	experiment.Analysis
	// Plan is the sample size the registered metric needs (rates only; nil for revenue or
	// without a control rate yet).
	Plan *experiment.Plan `json:"plan"`
}

// ExperimentSummary is the short verdict GET /campaigns/:id embeds when the A/B test is on:
// the sequential mode's, which stays valid however often it is read.
type ExperimentSummary struct {
	Verdict experiment.Verdict `json:"verdict"`
	Mode    experiment.Mode    `json:"mode"`
	Metric  experiment.Metric  `json:"metric"`
	Winner  *string            `json:"winner"`
}

func (h *Handler) experiment(c echo.Context) error {
	c0, err := h.campaign(c)
	if err != nil {
		return err
	}
	ab := c0.Settings().ABTest
	if ab == nil || !ab.Enabled {
		return httpx.Conflict("no-experiment", "the campaign runs no A/B test (settings.abTestSettings.enabled is false)")
	}
	// The verdict's metric is the one registered in the A/B settings: choosing it after
	// seeing the results would void the test. The others are in every comparison, secondary.
	metric := metrics.DefaultMetric(ab)
	if q := c.QueryParam("metric"); q != "" {
		if !slices.Contains(experiment.Metrics(), experiment.Metric(q)) {
			return httpx.BadRequest("the query string is invalid",
				httpx.FieldError{Field: "metric", Message: "must be ctr, conversionRate or revenuePerExposure"})
		}
		if experiment.Metric(q) != metric {
			return httpx.BadRequest("the query string is invalid", httpx.FieldError{Field: "metric", Message: fmt.Sprintf(
				"the verdict is on the success metric registered before the test, %s (settings.abTestSettings.successMetric); "+
					"%s is reported in every variant's vsControl as a secondary metric", metric, q)})
		}
	}
	mode := experiment.ModeSequential
	if q := c.QueryParam("mode"); q != "" {
		mode = experiment.Mode(q)
		if !slices.Contains(experiment.Modes(), mode) {
			return httpx.BadRequest("the query string is invalid",
				httpx.FieldError{Field: "mode", Message: "must be sequential or fixedHorizon"})
		}
	}
	mde, err := queryFloat(c, "mde", 0.1, func(x float64) bool { return x > -1 && x != 0 && x <= 10 },
		"must be a relative lift other than 0, above -1 and at most 10 (0.1: +10%)")
	if err != nil {
		return err
	}
	power, err := queryFloat(c, "power", 0.8, func(x float64) bool { return x >= 0.5 && x < 1 },
		"must be at least 0.5 and below 1")
	if err != nil {
		return err
	}
	a, err := h.analyze(c.Request().Context(), c0, metric, mode)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ExperimentResponse{CampaignID: c0.ID().String(), Currency: c0.Budget().Currency, Analysis: a,
		Plan: plan(a, mde, power, c0.StartDate(), h.now())})
}

// plan is the sample size the registered metric needs to detect a lift of mde with power,
// from the control's rate so far, and the days it still takes at the traffic seen since start.
func plan(a experiment.Analysis, mde, power float64, start, now time.Time) *experiment.Plan {
	if a.Metric == experiment.MetricRevenuePerExposure {
		return nil
	}
	var baseline *float64
	soFar := int64(-1)
	for _, v := range a.Variants {
		rate, n := v.CTR.Value, v.Exposures
		if a.Metric == experiment.MetricConversionRate {
			rate, n = v.ConversionRate.Value, v.Clicks
		}
		if v.Control {
			baseline = rate
		}
		if soFar < 0 || n < soFar {
			soFar = n
		}
	}
	if baseline == nil {
		return nil
	}
	n, err := experiment.SampleSize(*baseline, mde, experiment.Alpha, power)
	if err != nil { // a baseline of 0% or 100%, or a lift beyond 100%: nothing to plan from
		return nil
	}
	p := &experiment.Plan{BaselineRate: *baseline, MinimumDetectableEffect: mde, Alpha: experiment.Alpha, Power: power,
		PerVariant: n, SoFar: soFar}
	if days := now.Sub(start).Hours() / 24; days >= 1 && soFar > 0 {
		remaining := max(0, float64(n-soFar)) / (float64(soFar) / days)
		p.DaysAtCurrentTraffic = &remaining
	}
	return p
}

// queryFloat parses the optional query parameter name (def when absent) and checks it with ok.
func queryFloat(c echo.Context, name string, def float64, ok func(float64) bool, rule string) (float64, error) {
	q := c.QueryParam(name)
	if q == "" {
		return def, nil
	}
	x, err := strconv.ParseFloat(q, 64)
	if err != nil || math.IsNaN(x) || !ok(x) {
		return 0, httpx.BadRequest("the query string is invalid", httpx.FieldError{Field: name, Message: rule})
	}
	return x, nil
}

// verdict is the verdict embedded in the campaign resource, from its experiment's analysis:
// nil (no experiment member) unless its A/B test is enabled.
func verdict(a *experiment.Analysis) any {
	if a == nil {
		return nil
	}
	return &ExperimentSummary{Verdict: a.Verdict, Mode: a.Mode, Metric: a.Metric, Winner: a.Winner}
}

// analyze reads the campaign's all-time totals and analyses its experiment on metric.
func (h *Handler) analyze(ctx context.Context, c0 *campaign.View, metric experiment.Metric, mode experiment.Mode) (experiment.Analysis, error) {
	rows, err := h.store.TotalRows(ctx, uuid.UUID(c0.ID()))
	if err != nil {
		return experiment.Analysis{}, err
	}
	return metrics.Analyze(ctx, c0, metric, mode, rows, h.exposures)
}

// ConcludeRequest is the body of POST /campaigns/:id/experiment/conclude.
type ConcludeRequest struct {
	Winner *string `json:"winner"`
}

// conclude rolls the winner out: its weight becomes 100 and every other variant's 0, through
// the campaign service's ordinary update (validated, versioned, evented, in the history).
func (h *Handler) conclude(c echo.Context) error {
	if h.updater == nil {
		return httpx.NewProblem(http.StatusNotImplemented, "not-implemented", "Not implemented",
			"this service cannot change campaigns")
	}
	id, err := campaign.ParseID(c.Param("id"))
	if err != nil {
		return httpx.NotFound("no campaign has this id")
	}
	ifMatch, hasIfMatch, err := httpx.IfMatch(c)
	if err != nil {
		return err
	}
	var req ConcludeRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	c0, err := h.updater.Get(ctx, id)
	if err != nil {
		return campaignProblem(err, false)
	}
	if req.Winner == nil {
		return httpx.Invalid([]httpx.FieldError{{Field: "winner", Message: "is required"}})
	}
	ab := c0.Settings().ABTest
	if ab == nil || !ab.Enabled {
		return httpx.Conflict("no-experiment", "the campaign runs no A/B test (settings.abTestSettings.enabled is false)")
	}
	keys := make([]string, len(ab.Variants))
	found := false
	for i, v := range ab.Variants {
		keys[i] = v.Key
		found = found || v.Key == *req.Winner
	}
	if !found {
		return httpx.Invalid([]httpx.FieldError{{Field: "winner",
			Message: fmt.Sprintf("%q is not a variant of the test; its variants are %q", *req.Winner, keys)}})
	}
	version := c0.Version()
	if hasIfMatch {
		version = ifMatch
	}
	settings := c0.Settings() // Settings() and ab are copies: changing them changes no campaign
	for i := range ab.Variants {
		ab.Variants[i].Weight = 0
		if ab.Variants[i].Key == *req.Winner {
			ab.Variants[i].Weight = 100
		}
	}
	settings.ABTest = ab
	in := campaign.Input{Name: c0.Name(), Description: c0.Description(), Type: c0.Type(), TargetingRules: c0.TargetingRules(),
		StartDate: c0.StartDate(), EndDate: c0.EndDate(), Budget: c0.Budget(), Settings: settings}
	// Under an Idempotency-Key, the answer commits with the update (platform/idempotency).
	idempotency.Expect(c, func(ctx context.Context, written any) (idempotency.Answer, error) {
		w, ok := written.(*campaign.Campaign)
		if !ok {
			return idempotency.Answer{}, fmt.Errorf("conclude: the write stored a %T, not a campaign", written)
		}
		v := h.updater.WrittenView(ctx, w)
		return idempotency.JSONAnswer(http.StatusOK, campaignapi.NewResponse(v, h.now()), map[string]string{"ETag": httpx.ETag(v.Version())})
	})
	updated, err := h.updater.Update(ctx, id, &version, in)
	if err != nil {
		return campaignProblem(err, hasIfMatch)
	}
	httpx.SetETag(c, updated.Version())
	return c.JSON(http.StatusOK, campaignapi.NewResponse(updated, h.now()))
}

// campaignProblem maps the campaign service's errors to problems, as its own handler does.
func campaignProblem(err error, viaIfMatch bool) error {
	var verr *campaign.ValidationError
	var serr *campaign.StateError
	var locked *campaign.TargetingLockedError
	switch {
	case errors.As(err, &verr):
		return httpx.Invalid(httpErrors(verr.Fields))
	case errors.Is(err, campaign.ErrNotFound):
		return httpx.NotFound("no campaign has this id")
	case errors.Is(err, campaign.ErrVersionConflict) && viaIfMatch:
		return httpx.PreconditionFailed("the campaign has changed since this version; fetch it again")
	case errors.Is(err, campaign.ErrVersionConflict):
		return httpx.Conflict("version-conflict", "the campaign has changed since it was read; retry")
	case errors.As(err, &locked):
		return httpx.Conflict("targeting-locked", locked.Error())
	case errors.As(err, &serr):
		p := httpx.Conflict("invalid-state", serr.Error()+" (pause the campaign to roll the winner out)")
		p.Extra = map[string]any{"currentStatus": serr.Status}
		return p
	}
	return err
}

// httpErrors are the campaign's or an event's field errors as a problem lists them.
func httpErrors[E campaign.FieldError | metrics.FieldError](errs []E) []httpx.FieldError {
	out := make([]httpx.FieldError, len(errs))
	for i, e := range errs {
		out[i] = httpx.FieldError(e)
	}
	return out
}
