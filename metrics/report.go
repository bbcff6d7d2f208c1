package metrics

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/metrics/experiment"
)

// KPIsOf sums a campaign's rows (its all-time totals rows, or its rollups over a period) into
// its KPIs.
func KPIsOf(c0 *campaign.View, rows []Row) (KPIs, error) {
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

// Summary is what the campaign resource embeds, from one read of the campaign's all-time
// totals rows.
type Summary struct {
	KPIs KPIs
	// Experiment is the analysis of the campaign's A/B test on its success metric; nil unless
	// the test is enabled.
	Experiment *experiment.Analysis
	// Delivered is what the campaign delivered (impressions, spend).
	Delivered lifecycle.Delivered
}

// Summarize is c's all-time KPIs, its experiment's analysis when its A/B test is enabled, and
// what it delivered, from its all-time totals rows; exposures counts the experiment's
// exposures.
func Summarize(ctx context.Context, c *campaign.View, rows []Row, exposures ExposureSource) (Summary, error) {
	kpis, err := KPIsOf(c, rows)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{KPIs: kpis}
	if ab := c.Settings().ABTest; ab != nil && ab.Enabled {
		a, err := Analyze(ctx, c, DefaultMetric(ab), experiment.ModeSequential, rows, exposures)
		if err != nil {
			return Summary{}, err
		}
		s.Experiment = &a
	}
	if s.Delivered, err = deliveredOf(rows); err != nil {
		return Summary{}, fmt.Errorf("metrics: campaign %s: %w", c.ID(), err)
	}
	return s, nil
}

// deliveredOf is what the store's Delivered reads (campaign.DeliveryTotals), from a campaign's
// totals rows. A sum out of the 64-bit range fails with ErrTotalOutOfRange, as the SQL SUM of
// the store's Delivered does: a total
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

// PerformancePoint is one period of the series.
type PerformancePoint struct {
	Period     string `json:"period"` // the period's start: YYYY-MM-DD, or an RFC 3339 UTC hour
	Values     KPIs   `json:"values"`
	Cumulative KPIs   `json:"cumulative"`
}

// PerformanceSeries is the series of one group (all traffic when not grouped).
type PerformanceSeries struct {
	Group  *string            `json:"group"` // the variant, channel or personalization rule; nil for events without one, and when not grouped
	Points []PerformancePoint `json:"points"`
}

// Series folds hourly or daily rows into periods per group, with running totals: gran is
// hour, day, week or month; group is "", variant, channel or personalization; cur and budget
// are the campaign's currency and budget.
//
// The sums cannot overflow while the campaign's all-time totals fit (the store refuses a total
// out of range, and amounts are never negative); ErrTotalOutOfRange says the store was changed
// by hand.
func Series(rows []Row, gran, group, cur string, budget decimal.Decimal) ([]PerformanceSeries, error) {
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
		if g != "" { // "": not grouped, or events without a variant, channel or rule
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

// DefaultMetric is the campaign's success metric, else CTR.
func DefaultMetric(ab *campaign.ABTestSettings) experiment.Metric {
	if ab.SuccessMetric != "" {
		return experiment.Metric(ab.SuccessMetric)
	}
	return experiment.MetricCTR
}

// Analyze analyses the campaign's experiment on metric, in mode, from its all-time totals
// rows; exposures counts the exposures of each variant.
func Analyze(ctx context.Context, c0 *campaign.View, metric experiment.Metric, mode experiment.Mode, rows []Row, exposures ExposureSource) (experiment.Analysis, error) {
	ab := c0.Settings().ABTest
	counts, unit, err := exposures.Exposures(ctx, uuid.UUID(c0.ID()), rows)
	if err != nil {
		return experiment.Analysis{}, fmt.Errorf("metrics: exposures of campaign %s: %w", c0.ID(), err)
	}
	index := make(map[string]int, len(ab.Variants))
	in := experiment.Input{Unit: unit, Metric: metric, Mode: mode, Variants: make([]experiment.VariantCounts, len(ab.Variants))}
	if ab.MinSampleSize != nil {
		in.MinSampleSize = *ab.MinSampleSize
	}
	for i, v := range ab.Variants {
		index[v.Key] = i
		in.Variants[i] = experiment.VariantCounts{Key: v.Key, Name: v.Name, Description: v.Description,
			Weight: v.Weight, Control: v.Control, Exposures: counts[v.Key]}
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
