// Package experiment analyses an A/B test from per-variant counts: rates and revenue per
// exposure with 95% intervals, lift against the control with its interval, p-values (corrected
// for multiple comparisons with more than two variants), the Bayesian chance to beat the
// control, a sample-ratio-mismatch check and a verdict. It is pure: no database, no clock.
//
// Two modes judge the test. ModeSequential (the default, and the live verdict) gives
// always-valid p-values and confidence sequences (a normal-mixture SPRT): the verdict may be
// read after every exposure and acted on at the first significant one, with the
// false-positive rate still at most Alpha. ModeFixedHorizon is the classical analysis: its
// error rates hold only when it is read once, at the sample size planned in advance
// (MinSampleSize per variant), which the answer states with whether it has been reached.
//
// The verdict is on one metric, the one registered in the campaign's A/B settings before the
// test started; the others are secondary: their p-values are corrected together (Holm) and
// they never drive the verdict.
package experiment

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Metric is what a variant is judged on.
type Metric string

// The metrics of an experiment.
const (
	MetricCTR                Metric = "ctr"                // clicks / exposures
	MetricConversionRate     Metric = "conversionRate"     // conversions / clicks
	MetricRevenuePerExposure Metric = "revenuePerExposure" // revenue / exposures
)

// Metrics lists every metric.
func Metrics() []Metric {
	return []Metric{MetricCTR, MetricConversionRate, MetricRevenuePerExposure}
}

// Unit is what an exposure counts.
type Unit string

// The exposure units.
const (
	UnitImpressions Unit = "impressions" // every impression is an exposure
	UnitCustomers   Unit = "customers"   // distinct customers with an impression
)

// Mode is how the experiment is judged.
type Mode string

// The modes.
const (
	ModeSequential   Mode = "sequential"   // always valid: safe to read at any time
	ModeFixedHorizon Mode = "fixedHorizon" // valid when read once, at the planned sample size
)

// Modes lists every mode.
func Modes() []Mode { return []Mode{ModeSequential, ModeFixedHorizon} }

// Verdict is the experiment's answer.
type Verdict string

// The verdicts.
const (
	VerdictNotEnoughData           Verdict = "NOT_ENOUGH_DATA"
	VerdictNoSignificantDifference Verdict = "NO_SIGNIFICANT_DIFFERENCE"
	VerdictWinner                  Verdict = "WINNER"
	VerdictSRMDetected             Verdict = "SRM_DETECTED"
)

// Defaults and thresholds.
const (
	// DefaultMinSampleSize is the exposures each variant needs before a verdict, when the
	// campaign names none.
	DefaultMinSampleSize = 1000
	// ConfidenceLevel is the level of every interval; Alpha the significance threshold.
	ConfidenceLevel = 0.95
	Alpha           = 1 - ConfidenceLevel
	// SRMThreshold: a sample-ratio-mismatch p-value below it flags the experiment.
	SRMThreshold = 0.001
	// MultipleComparisonsMethod names the correction applied with more than two variants.
	MultipleComparisonsMethod = "holm-bonferroni"
)

// VariantCounts is what was observed of one variant.
type VariantCounts struct {
	Key         string
	Name        string // shown as given
	Description string // shown as given
	Weight      int    // the configured share of the audience, in percent
	Control     bool   // marked as the control
	// Exposures are distinct customers or impressions (Input.Unit).
	Exposures   int64
	Clicks      int64
	Conversions int64
	// Revenue is the sum of revenue; RevenueSquares the sum of each exposure unit's revenue
	// squared (in the currency's units, squared). When customers are not known, each
	// conversion's revenue counts as one unit's revenue.
	Revenue        float64
	RevenueSquares float64
	// SquaresUnknown: RevenueSquares misses some conversions (counted before the squares
	// were kept); revenue intervals and tests are then left out.
	SquaresUnknown bool
}

// Input is one experiment's data.
type Input struct {
	Unit          Unit
	Variants      []VariantCounts // in the campaign's order
	Metric        Metric          // the metric of the verdict, registered before the test
	MinSampleSize int64           // exposures per variant; <= 0 means DefaultMinSampleSize
	// Mode judges the test (default ModeSequential).
	Mode Mode
}

// Estimate is a value with its 95% interval; an interval that cannot be computed (no data) is
// nil, and so is a value without a denominator.
type Estimate struct {
	Value *float64 `json:"value"`
	Low   *float64 `json:"low"`
	High  *float64 `json:"high"`
}

// Comparison is one metric of a variant against the control.
type Comparison struct {
	// Lift is the relative difference (variant - control) / control, with the interval of the
	// same test as PValue, so that the two never disagree: the score interval of the rate
	// ratio for rates, Fieller's interval of the ratio of means for revenue; widened to the
	// confidence sequence in the sequential mode. Never below -100%; a High of nil is
	// unbounded. Value is nil when the control's value is 0 or unknown.
	Lift Estimate `json:"lift"`
	// Test names the test behind PValue: "z-test" (pooled two-proportion), "fisher-exact"
	// (a cell of the table expects fewer than MinExpectedCount), "welch-t", or "msprt" (the
	// sequential mode's always-valid p-value).
	Test string `json:"test"`
	// PValue is two-sided; AdjustedPValue is Holm–Bonferroni's over the comparisons of the
	// same family (the verdict's metric across variants; every secondary metric together),
	// else PValue. Nil when there is not enough data for the test.
	PValue         *float64 `json:"pValue"`
	AdjustedPValue *float64 `json:"adjustedPValue"`
	// ChanceToBeatControl is the posterior probability that the variant's true value exceeds
	// the control's (Beta(1,1) priors for rates, a normal approximation for revenue).
	ChanceToBeatControl *float64 `json:"chanceToBeatControl"`
	// Significant: AdjustedPValue < Alpha.
	Significant bool `json:"significant"`
}

// VariantResult is one variant's figures.
type VariantResult struct {
	Key                string   `json:"key"`
	Name               string   `json:"name"`
	Description        string   `json:"description"`
	Control            bool     `json:"control"`
	Weight             int      `json:"weight"`
	Exposures          int64    `json:"exposures"`
	Clicks             int64    `json:"clicks"`
	Conversions        int64    `json:"conversions"`
	Revenue            float64  `json:"revenue"`
	CTR                Estimate `json:"ctr"`
	ConversionRate     Estimate `json:"conversionRate"`
	RevenuePerExposure Estimate `json:"revenuePerExposure"`
	// VsControl has one comparison per metric; nil for the control.
	VsControl map[Metric]*Comparison `json:"vsControl"`
}

// SRM is the sample-ratio-mismatch check: a chi-square goodness-of-fit test of the exposures
// against the configured weights.
type SRM struct {
	Checked          bool     `json:"checked"` // false without exposures or with a weight of 0
	ChiSquare        *float64 `json:"chiSquare"`
	DegreesOfFreedom int      `json:"degreesOfFreedom"`
	PValue           *float64 `json:"pValue"`
	Detected         bool     `json:"detected"`
}

// Analysis is the result.
type Analysis struct {
	Unit Unit `json:"exposureUnit"`
	// Mode produced the verdict.
	Mode Mode `json:"mode"`
	// Metric is the verdict's; SecondaryMetrics are shown, corrected, and never judged.
	Metric           Metric   `json:"metric"`
	SecondaryMetrics []Metric `json:"secondaryMetrics"`
	ConfidenceLevel  float64  `json:"confidenceLevel"`
	MinSampleSize    int64    `json:"minSampleSize"`
	// PlannedSampleReached: every variant has MinSampleSize of the verdict metric's
	// denominator (exposures; clicks for the conversion rate). The fixed-horizon verdict
	// waits for it; the sequential one does not need it.
	PlannedSampleReached bool   `json:"plannedSampleReached"`
	Control              string `json:"control"`
	// MultipleComparisons names the correction of the verdict's metric ("holm-bonferroni")
	// when more than one variant is compared with the control, else "none". The secondary
	// metrics are always corrected, all of their comparisons together.
	MultipleComparisons string          `json:"multipleComparisons"`
	Variants            []VariantResult `json:"variants"`
	SRM                 SRM             `json:"srmCheck"`
	SRMDetected         bool            `json:"srm"`
	Verdict             Verdict         `json:"verdict"`
	Winner              *string         `json:"winner"`
	Warnings            []string        `json:"warnings"`
}

// z975 is the 97.5% quantile of the standard normal: the half-width of 95% intervals, in
// standard errors.
var z975 = distuv.UnitNormal.Quantile(1 - Alpha/2)

// Analyze computes the analysis of in. It needs at least two variants.
func Analyze(in Input) (Analysis, error) {
	if len(in.Variants) < 2 {
		return Analysis{}, fmt.Errorf("experiment: %d variants: at least two are needed", len(in.Variants))
	}
	if !slices.Contains(Metrics(), in.Metric) {
		return Analysis{}, fmt.Errorf("experiment: unknown metric %q", in.Metric)
	}
	if in.MinSampleSize <= 0 {
		in.MinSampleSize = DefaultMinSampleSize
	}
	if in.Mode == "" {
		in.Mode = ModeSequential
	}
	if !slices.Contains(Modes(), in.Mode) {
		return Analysis{}, fmt.Errorf("experiment: unknown mode %q", in.Mode)
	}
	ctrl := ControlIndex(in.Variants)
	out := Analysis{Unit: in.Unit, Mode: in.Mode, Metric: in.Metric, ConfidenceLevel: ConfidenceLevel,
		MinSampleSize: in.MinSampleSize, Control: in.Variants[ctrl].Key, MultipleComparisons: "none",
		Variants: make([]VariantResult, len(in.Variants)), Warnings: []string{}}
	for i, v := range in.Variants {
		out.Variants[i] = VariantResult{Key: v.Key, Name: v.Name, Description: v.Description, Control: i == ctrl, Weight: v.Weight, Exposures: v.Exposures,
			Clicks: v.Clicks, Conversions: v.Conversions, Revenue: v.Revenue,
			CTR: rateInterval(v.Clicks, v.Exposures), ConversionRate: rateInterval(v.Conversions, v.Clicks),
			RevenuePerExposure: meanInterval(v.Revenue, v.RevenueSquares, v.Exposures)}
		if v.SquaresUnknown {
			out.Variants[i].RevenuePerExposure.Low, out.Variants[i].RevenuePerExposure.High = nil, nil
		}
	}
	c := in.Variants[ctrl]
	j := judge{mode: in.Mode, nStar: 2 * float64(in.MinSampleSize)}
	for i, v := range in.Variants {
		if i == ctrl {
			continue
		}
		out.Variants[i].VsControl = map[Metric]*Comparison{
			MetricCTR:                j.compareRates(v.Clicks, v.Exposures, c.Clicks, c.Exposures),
			MetricConversionRate:     j.compareRates(v.Conversions, v.Clicks, c.Conversions, c.Clicks),
			MetricRevenuePerExposure: j.compareMeans(v, c),
		}
	}
	out.SecondaryMetrics = []Metric{}
	for _, m := range Metrics() {
		if m != in.Metric {
			out.SecondaryMetrics = append(out.SecondaryMetrics, m)
		}
	}
	// Two families: the verdict's metric across variants, and every secondary comparison.
	holm(out.Variants, []Metric{in.Metric})
	holm(out.Variants, out.SecondaryMetrics)
	if len(in.Variants) > 2 {
		out.MultipleComparisons = MultipleComparisonsMethod
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d variants are compared with the control: p-values are "+
			"adjusted with the Holm–Bonferroni method (intervals are not)", len(in.Variants)-1))
	}
	out.PlannedSampleReached = true
	for _, v := range in.Variants {
		if denominator(v, in.Metric) < in.MinSampleSize {
			out.PlannedSampleReached = false
		}
	}
	for _, r := range out.Variants {
		for _, cmp := range r.VsControl {
			cmp.Significant = cmp.AdjustedPValue != nil && *cmp.AdjustedPValue < Alpha
		}
	}
	out.SRM = sampleRatio(in.Variants)
	out.SRMDetected = out.SRM.Detected
	if !out.SRM.Checked && slices.ContainsFunc(in.Variants, func(v VariantCounts) bool { return v.Weight <= 0 }) {
		out.Warnings = append(out.Warnings, "the sample-ratio check is skipped: a variant has weight 0 (a concluded "+
			"test); exposures gathered after the conclusion make the arms unequal and are not a randomised comparison")
	}
	if out.SRM.Detected {
		out.Warnings = append(out.Warnings, "sample ratio mismatch: the exposures do not match the configured weights "+
			"(p < 0.001); the assignment or the tracking is broken and these results must not be trusted")
	}
	for _, v := range in.Variants {
		if v.SquaresUnknown {
			out.Warnings = append(out.Warnings, "revenue was counted before its variance was kept: revenue per exposure "+
				"has no interval and no test")
			break
		}
	}
	if in.Unit == UnitImpressions {
		out.Warnings = append(out.Warnings, "exposures are impressions, not distinct customers: repeated impressions of "+
			"one customer are counted as independent, which makes intervals narrower than they should be")
	}
	out.Verdict, out.Winner = verdict(in, out, ctrl)
	if out.Winner != nil && *out.Winner != out.Control {
		for _, r := range out.Variants {
			if r.Key != *out.Winner {
				continue
			}
			if l := r.VsControl[in.Metric].Lift; l.Low != nil && *l.Low <= 0 {
				out.Warnings = append(out.Warnings, "the winner's lift interval reaches 0: with more than two variants "+
					"the p-value is Holm-adjusted while the interval is not, or the small-sample exact test decided")
			}
		}
	}
	return out, nil
}

// denominator is what metric m of v is a rate or mean over: clicks for the conversion rate,
// exposures otherwise.
func denominator(v VariantCounts, m Metric) int64 {
	if m == MetricConversionRate {
		return v.Clicks
	}
	return v.Exposures
}

// ControlIndex is the index of the control: the variant marked as control, else the first.
func ControlIndex(vs []VariantCounts) int {
	for i, v := range vs {
		if v.Control {
			return i
		}
	}
	return 0
}

// verdict judges the experiment on in.Metric.
func verdict(in Input, a Analysis, ctrl int) (Verdict, *string) {
	if a.SRM.Detected {
		return VerdictSRMDetected, nil
	}
	if in.Mode == ModeFixedHorizon && !a.PlannedSampleReached {
		return VerdictNotEnoughData, nil
	}
	for i, r := range a.Variants {
		if i != ctrl && r.VsControl[in.Metric].AdjustedPValue == nil {
			return VerdictNotEnoughData, nil // no test yet (no denominator; too small for the sequential mode)
		}
	}
	var best *VariantResult
	worse := 0
	for i := range a.Variants {
		r := &a.Variants[i]
		if i == ctrl {
			continue
		}
		cmp := r.VsControl[in.Metric]
		if !cmp.Significant {
			continue
		}
		if value(*r, in.Metric) > value(a.Variants[ctrl], in.Metric) {
			if best == nil || value(*r, in.Metric) > value(*best, in.Metric) {
				best = r
			}
		} else {
			worse++
		}
	}
	if best != nil {
		return VerdictWinner, &best.Key
	}
	if worse == len(a.Variants)-1 { // the control beats every other variant
		return VerdictWinner, &a.Variants[ctrl].Key
	}
	return VerdictNoSignificantDifference, nil
}

func value(r VariantResult, m Metric) float64 {
	var e Estimate
	switch m {
	case MetricCTR:
		e = r.CTR
	case MetricConversionRate:
		e = r.ConversionRate
	default:
		e = r.RevenuePerExposure
	}
	if e.Value == nil {
		return math.NaN()
	}
	return *e.Value
}

func ptr(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// rateInterval is successes/trials with its Wilson score interval, which stays inside [0, 1]
// and is sound at 0% and 100% and for small samples. Without trials, or with more successes
// than trials (not a proportion), it has no value.
func rateInterval(successes, trials int64) Estimate {
	if trials <= 0 || successes < 0 || successes > trials {
		return Estimate{}
	}
	n, p := float64(trials), float64(successes)/float64(trials)
	z2 := z975 * z975
	centre := (p + z2/(2*n)) / (1 + z2/n)
	half := z975 / (1 + z2/n) * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	return Estimate{Value: ptr(p), Low: ptr(math.Max(0, centre-half)), High: ptr(math.Min(1, centre+half))}
}

// meanStats are the mean of a per-unit value over n units and its sample variance.
type meanStats struct {
	n, mean, variance float64
}

func meanOf(sum, squares float64, n int64) (meanStats, bool) {
	if n <= 0 {
		return meanStats{}, false
	}
	fn := float64(n)
	m := meanStats{n: fn, mean: sum / fn}
	if n > 1 {
		// Σ(x - mean)² = Σx² - n·mean²; clamped at 0 against rounding.
		m.variance = math.Max(0, (squares-fn*m.mean*m.mean)/(fn-1))
	}
	return m, true
}

// meanInterval is the mean per exposure with its Student-t interval (n-1 degrees of freedom).
func meanInterval(sum, squares float64, n int64) Estimate {
	m, ok := meanOf(sum, squares, n)
	if !ok {
		return Estimate{}
	}
	if n < 2 {
		return Estimate{Value: ptr(m.mean)}
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: m.n - 1}.Quantile(1 - Alpha/2)
	half := t * math.Sqrt(m.variance/m.n)
	return Estimate{Value: ptr(m.mean), Low: ptr(m.mean - half), High: ptr(m.mean + half)}
}

// judge runs the comparisons of one mode; nStar tunes the sequential mode's mixture to the
// expected number of observations of a comparison (both arms at the planned sample size).
type judge struct {
	mode  Mode
	nStar float64
}

// critical is the half-width of the interval in standard errors after n observations: the
// normal quantile (fixed horizon) or the confidence sequence's (sequential).
func (j judge) critical(n float64) float64 {
	if j.mode == ModeSequential {
		return sequentialHalfWidth(n, mixturePrecision(j.nStar))
	}
	return z975
}

// compareRates compares the variant's rate s1/n1 with the control's s2/n2.
func (j judge) compareRates(s1, n1, s2, n2 int64) *Comparison {
	out := &Comparison{Test: "z-test"}
	if j.mode == ModeSequential {
		out.Test = "msprt"
	}
	if n1 <= 0 || n2 <= 0 || s1 < 0 || s2 < 0 || s1 > n1 || s2 > n2 {
		return out
	}
	p1, p2 := float64(s1)/float64(n1), float64(s2)/float64(n2)
	n := float64(n1 + n2)
	small := smallTable(s1, n1, s2, n2)
	if p2 > 0 {
		out.Lift.Value = ptr(p1/p2 - 1)
	}
	if !(j.mode == ModeSequential && small) && (s1 > 0 || s2 > 0) {
		low, high := ratioScoreInterval(s1, n1, s2, n2, j.critical(n))
		out.Lift.Low, out.Lift.High = ptr(low-1), ptr(high-1) // +Inf: nil, unbounded
	}
	switch {
	case j.mode == ModeSequential && small:
		out.Test = "msprt" // no p-value until every cell expects MinExpectedCount
	case j.mode == ModeSequential:
		out.Test = "msprt"
		out.PValue = ptr(alwaysValidP(pooledZ(s1, n1, s2, n2), n, mixturePrecision(j.nStar)))
	case small:
		out.Test = "fisher-exact"
		out.PValue = ptr(fisherExactP(s1, n1, s2, n2))
	default:
		out.Test = "z-test"
		out.PValue = ptr(twoProportionP(s1, n1, s2, n2))
	}
	out.AdjustedPValue = out.PValue
	out.ChanceToBeatControl = ptr(betaChanceToBeat(s1, n1, s2, n2))
	return out
}

// pooledZ is the pooled two-proportion z statistic (0 when the pooled rate is 0 or 1).
func pooledZ(s1, n1, s2, n2 int64) float64 {
	p1, p2 := float64(s1)/float64(n1), float64(s2)/float64(n2)
	pool := float64(s1+s2) / float64(n1+n2)
	return zFor(p1-p2, math.Sqrt(pool*(1-pool)*(1/float64(n1)+1/float64(n2))))
}

// twoProportionP is the two-sided p-value of the pooled two-proportion z-test. When the pooled
// rate is 0 or 1 both rates are equal and there is no evidence of a difference: 1.
func twoProportionP(s1, n1, s2, n2 int64) float64 {
	return twoSidedNormalP(pooledZ(s1, n1, s2, n2))
}

// compareMeans compares revenue per exposure: Welch's t-test (or the sequential mode's
// always-valid p-value on the same statistic), Fieller's interval of the ratio of means for the
// lift, and a normal approximation of the chance to beat the control.
func (j judge) compareMeans(v, c VariantCounts) *Comparison {
	out := &Comparison{Test: "welch-t"}
	if j.mode == ModeSequential {
		out.Test = "msprt"
	}
	if v.SquaresUnknown || c.SquaresUnknown {
		return out
	}
	a, okA := meanOf(v.Revenue, v.RevenueSquares, v.Exposures)
	b, okB := meanOf(c.Revenue, c.RevenueSquares, c.Exposures)
	if !okA || !okB || a.n < 2 || b.n < 2 {
		return out
	}
	if b.mean != 0 {
		out.Lift.Value = ptr(a.mean/b.mean - 1)
	}
	va, vb := a.variance/a.n, b.variance/b.n
	se := math.Sqrt(va + vb)
	if se == 0 {
		if a.mean == b.mean {
			out.PValue, out.ChanceToBeatControl = ptr(1), ptr(0.5)
		}
		out.AdjustedPValue = out.PValue
		return out
	}
	t := (a.mean - b.mean) / se
	// Welch–Satterthwaite degrees of freedom.
	df := (va + vb) * (va + vb) / (va*va/(a.n-1) + vb*vb/(b.n-1))
	crit := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(1 - Alpha/2)
	if j.mode == ModeSequential {
		crit = j.critical(a.n + b.n)
		out.PValue = ptr(alwaysValidP(t, a.n+b.n, mixturePrecision(j.nStar)))
	} else {
		out.PValue = ptr(2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(math.Abs(t)))
	}
	if low, high, ok := fiellerInterval(a.mean, va, b.mean, vb, crit); ok && b.mean > 0 {
		// Revenue is never negative, so neither is the ratio: the lift stays at or above -100%.
		out.Lift.Low, out.Lift.High = ptr(math.Max(0, low)-1), ptr(high-1)
	}
	out.AdjustedPValue = out.PValue
	out.ChanceToBeatControl = ptr(distuv.UnitNormal.CDF(t))
	return out
}

// holm replaces the adjusted p-values of the family of metrics ms (every variant's
// comparison on each) by Holm–Bonferroni's: with k p-values in ascending order, the i-th
// (from 0) becomes max over j <= i of min(1, (k-j)·p_j).
func holm(rs []VariantResult, ms []Metric) {
	var cmps []*Comparison
	for _, r := range rs {
		for _, m := range ms {
			if c := r.VsControl[m]; c != nil && c.PValue != nil {
				cmps = append(cmps, c)
			}
		}
	}
	slices.SortStableFunc(cmps, func(a, b *Comparison) int { return compareFloat(*a.PValue, *b.PValue) })
	k, running := len(cmps), 0.0
	for i, c := range cmps {
		running = math.Max(running, math.Min(1, float64(k-i)**c.PValue))
		c.AdjustedPValue = ptr(running)
	}
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sampleRatio is the chi-square goodness-of-fit test of the exposures against the weights,
// with k-1 degrees of freedom. It is not run without exposures, nor once a weight is 0 (a
// concluded experiment sends everyone to one variant).
func sampleRatio(vs []VariantCounts) SRM {
	out := SRM{DegreesOfFreedom: len(vs) - 1}
	var total float64
	weights := 0
	for _, v := range vs {
		if v.Weight <= 0 {
			return out
		}
		total += float64(v.Exposures)
		weights += v.Weight
	}
	if total == 0 {
		return out
	}
	chi := 0.0
	for _, v := range vs {
		expected := total * float64(v.Weight) / float64(weights)
		d := float64(v.Exposures) - expected
		chi += d * d / expected
	}
	p := distuv.ChiSquared{K: float64(len(vs) - 1)}.Survival(chi)
	out.Checked, out.ChiSquare, out.PValue, out.Detected = true, ptr(chi), ptr(p), p < SRMThreshold
	return out
}
