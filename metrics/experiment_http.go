package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/metrics/experiment"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// ExposureSource counts the exposures of each variant of a campaign and says what an exposure
// is. totals are the campaign's all-time totals rows, already read for the experiment.
type ExposureSource interface {
	Exposures(ctx context.Context, campaignID uuid.UUID, totals []Row) (map[string]int64, experiment.Unit, error)
}

// ImpressionExposures counts every impression as an exposure, from the totals rows: no query
// of its own. (Distinct customers per variant are counted too, Row.Reach, but clicks and
// conversions are not counted per customer, so rates over customers would not be
// proportions: the analysis stays on impressions and says so.)
type ImpressionExposures struct{}

// Exposures sums the impressions of each variant.
func (ImpressionExposures) Exposures(_ context.Context, _ uuid.UUID, totals []Row) (map[string]int64, experiment.Unit, error) {
	out := map[string]int64{}
	for _, r := range totals {
		out[r.Variant] += r.Impressions
	}
	return out, experiment.UnitImpressions, nil
}

// CampaignUpdater replaces a campaign's editable fields; the campaign service implements it.
type CampaignUpdater interface {
	CampaignGetter
	Update(ctx context.Context, id campaign.ID, expectedVersion *int64, in campaign.Input) (*campaign.View, error)
}

// ExperimentResponse is GET /campaigns/:id/experiment.
type ExperimentResponse struct {
	CampaignID string `json:"campaignId"`
	Currency   string `json:"currency"` // of revenue and revenue per exposure
	experiment.Analysis
}

// ExperimentSummary is the short verdict GET /campaigns/:id embeds when the A/B test is on.
type ExperimentSummary struct {
	Verdict experiment.Verdict `json:"verdict"`
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
	metric := defaultMetric(ab)
	if q := c.QueryParam("metric"); q != "" {
		metric = experiment.Metric(q)
		if !slices.Contains(experiment.Metrics(), metric) {
			return httpx.BadRequest("the query string is invalid",
				httpx.FieldError{Field: "metric", Message: "must be ctr, conversionRate or revenuePerExposure"})
		}
	}
	a, err := h.analyze(c.Request().Context(), c0, metric)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ExperimentResponse{CampaignID: c0.ID().String(), Currency: c0.Budget().Currency, Analysis: a})
}

// summary is the verdict embedded in the campaign resource, from the totals rows already
// read: nil unless its A/B test is enabled.
func (h *Handler) summary(ctx context.Context, c *campaign.View, rows []Row) (any, error) {
	ab := c.Settings().ABTest
	if ab == nil || !ab.Enabled {
		return nil, nil
	}
	a, err := h.analyzeRows(ctx, c, defaultMetric(ab), rows)
	if err != nil {
		return nil, err
	}
	return &ExperimentSummary{Verdict: a.Verdict, Metric: a.Metric, Winner: a.Winner}, nil
}

// defaultMetric is the campaign's success metric, else CTR.
func defaultMetric(ab *campaign.ABTestSettings) experiment.Metric {
	if ab.SuccessMetric != "" {
		return experiment.Metric(ab.SuccessMetric)
	}
	return experiment.MetricCTR
}

// analyze reads the campaign's all-time totals and analyses its experiment on metric.
func (h *Handler) analyze(ctx context.Context, c0 *campaign.View, metric experiment.Metric) (experiment.Analysis, error) {
	rows, err := h.store.TotalRows(ctx, uuid.UUID(c0.ID()))
	if err != nil {
		return experiment.Analysis{}, err
	}
	return h.analyzeRows(ctx, c0, metric, rows)
}

// analyzeRows analyses the campaign's experiment on metric from its all-time totals rows.
func (h *Handler) analyzeRows(ctx context.Context, c0 *campaign.View, metric experiment.Metric, rows []Row) (experiment.Analysis, error) {
	ab := c0.Settings().ABTest
	exposures, unit, err := h.exposures.Exposures(ctx, uuid.UUID(c0.ID()), rows)
	if err != nil {
		return experiment.Analysis{}, fmt.Errorf("metrics: exposures of campaign %s: %w", c0.ID(), err)
	}
	index := make(map[string]int, len(ab.Variants))
	in := experiment.Input{Unit: unit, Metric: metric, Variants: make([]experiment.VariantCounts, len(ab.Variants))}
	if ab.MinSampleSize != nil {
		in.MinSampleSize = *ab.MinSampleSize
	}
	for i, v := range ab.Variants {
		index[v.Key] = i
		in.Variants[i] = experiment.VariantCounts{Key: v.Key, Name: v.Name, Description: v.Description,
			Weight: v.Weight, Control: v.Control, Exposures: exposures[v.Key]}
	}
	var outside int64 // impressions of no variant, or of a variant the test no longer has
	for _, r := range rows {
		i, ok := index[r.Variant]
		if !ok {
			outside += r.Impressions
			continue
		}
		v := &in.Variants[i]
		v.Clicks += r.Clicks
		v.Conversions += r.Conversions
		v.Revenue += float64(r.RevenueE4) / 1e4
		v.RevenueSquares += r.RevenueSquares.Float()
		v.SquaresUnknown = v.SquaresUnknown || !r.SquaresKnown
	}
	a, err := experiment.Analyze(in)
	if err != nil {
		return experiment.Analysis{}, fmt.Errorf("metrics: experiment of campaign %s: %w", c0.ID(), err)
	}
	if outside > 0 {
		a.Warnings = append(a.Warnings, fmt.Sprintf("%d impressions name no variant of the test (or none at all) and are left out", outside))
	}
	return a, nil
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
func httpErrors[E campaign.FieldError | FieldError](errs []E) []httpx.FieldError {
	out := make([]httpx.FieldError, len(errs))
	for i, e := range errs {
		out[i] = httpx.FieldError(e)
	}
	return out
}
