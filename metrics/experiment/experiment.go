// Package experiment analyses an A/B test from per-variant counts: rates and revenue per
// exposure with 95% intervals, lift against the control with its interval, p-values (corrected
// for multiple comparisons with more than two variants), the Bayesian chance to beat the
// control, a sample-ratio-mismatch check and a verdict. It is pure: no database, no clock.
//
// The analysis is fixed-horizon: its error rates hold when the data is read once, at a sample
// size chosen in advance. Reading it repeatedly and stopping at the first significant result
// inflates the false-positive rate.
package experiment

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/integrate/quad"
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
	Metric        Metric          // the metric of the verdict
	MinSampleSize int64           // exposures per variant; <= 0 means DefaultMinSampleSize
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
	// Lift is the relative difference (variant - control) / control, with its delta-method
	// interval; nil when the control's value is 0 or unknown.
	Lift Estimate `json:"lift"`
	// PValue is two-sided (two-proportion z-test for rates, Welch's t-test for revenue);
	// AdjustedPValue is Holm–Bonferroni's with more than two variants, else PValue.
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
	Unit            Unit    `json:"exposureUnit"`
	Metric          Metric  `json:"metric"`
	ConfidenceLevel float64 `json:"confidenceLevel"`
	MinSampleSize   int64   `json:"minSampleSize"`
	Control         string  `json:"control"`
	// MultipleComparisons names the correction ("holm-bonferroni") when more than one
	// variant is compared with the control, else "none".
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
	ctrl := ControlIndex(in.Variants)
	out := Analysis{Unit: in.Unit, Metric: in.Metric, ConfidenceLevel: ConfidenceLevel,
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
	for i, v := range in.Variants {
		if i == ctrl {
			continue
		}
		out.Variants[i].VsControl = map[Metric]*Comparison{
			MetricCTR:                compareRates(v.Clicks, v.Exposures, c.Clicks, c.Exposures),
			MetricConversionRate:     compareRates(v.Conversions, v.Clicks, c.Conversions, c.Clicks),
			MetricRevenuePerExposure: compareMeans(v, c),
		}
	}
	if len(in.Variants) > 2 {
		out.MultipleComparisons = MultipleComparisonsMethod
		for _, m := range Metrics() {
			holm(out.Variants, m)
		}
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d variants are compared with the control: p-values are "+
			"adjusted with the Holm–Bonferroni method (intervals are not)", len(in.Variants)-1))
	}
	for _, r := range out.Variants {
		for _, cmp := range r.VsControl {
			cmp.Significant = cmp.AdjustedPValue != nil && *cmp.AdjustedPValue < Alpha
		}
	}
	out.SRM = sampleRatio(in.Variants)
	out.SRMDetected = out.SRM.Detected
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
	return out, nil
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
	for _, v := range in.Variants {
		if v.Exposures < in.MinSampleSize || (in.Metric == MetricConversionRate && v.Clicks == 0) {
			return VerdictNotEnoughData, nil
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

// relativeLift is (t - c) / c with its delta-method 95% interval, given the variances of the
// two estimates: Var(t/c) ≈ Var(t)/c² + t²·Var(c)/c⁴.
func relativeLift(t, varT, c, varC float64) Estimate {
	if c == 0 {
		return Estimate{}
	}
	lift := (t - c) / c
	se := math.Sqrt(varT/(c*c) + t*t*varC/(c*c*c*c))
	return Estimate{Value: ptr(lift), Low: ptr(lift - z975*se), High: ptr(lift + z975*se)}
}

// compareRates compares the variant's rate s1/n1 with the control's s2/n2.
func compareRates(s1, n1, s2, n2 int64) *Comparison {
	out := &Comparison{}
	if n1 <= 0 || n2 <= 0 || s1 < 0 || s2 < 0 || s1 > n1 || s2 > n2 {
		return out
	}
	p1, p2 := float64(s1)/float64(n1), float64(s2)/float64(n2)
	out.Lift = relativeLift(p1, p1*(1-p1)/float64(n1), p2, p2*(1-p2)/float64(n2))
	out.PValue = ptr(twoProportionP(s1, n1, s2, n2))
	out.AdjustedPValue = out.PValue
	out.ChanceToBeatControl = ptr(betaChanceToBeat(s1, n1, s2, n2))
	return out
}

// twoProportionP is the two-sided p-value of the pooled two-proportion z-test. When the pooled
// rate is 0 or 1 both rates are equal and there is no evidence of a difference: 1.
func twoProportionP(s1, n1, s2, n2 int64) float64 {
	p1, p2 := float64(s1)/float64(n1), float64(s2)/float64(n2)
	pool := float64(s1+s2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 1
	}
	z := (p1 - p2) / se
	return 2 * distuv.UnitNormal.Survival(math.Abs(z))
}

// betaChanceToBeat is P(p1 > p2) for independent posteriors Beta(1+s, 1+n-s) (uniform priors):
// ∫ f1(x)·F2(x) dx, by Gauss–Legendre quadrature over where the posteriors have their mass.
func betaChanceToBeat(s1, n1, s2, n2 int64) float64 {
	b1 := distuv.Beta{Alpha: 1 + float64(s1), Beta: 1 + float64(n1-s1)}
	b2 := distuv.Beta{Alpha: 1 + float64(s2), Beta: 1 + float64(n2-s2)}
	lo := math.Max(0, math.Min(b1.Mean()-12*b1.StdDev(), b2.Mean()-12*b2.StdDev()))
	hi := math.Min(1, math.Max(b1.Mean()+12*b1.StdDev(), b2.Mean()+12*b2.StdDev()))
	p := quad.Fixed(func(x float64) float64 { return b1.Prob(x) * b2.CDF(x) }, lo, hi, 2000, nil, 0)
	return math.Min(1, math.Max(0, p))
}

// compareMeans compares revenue per exposure: Welch's t-test, the delta-method lift and a
// normal approximation of the chance to beat the control.
func compareMeans(v, c VariantCounts) *Comparison {
	out := &Comparison{}
	if v.SquaresUnknown || c.SquaresUnknown {
		return out
	}
	a, okA := meanOf(v.Revenue, v.RevenueSquares, v.Exposures)
	b, okB := meanOf(c.Revenue, c.RevenueSquares, c.Exposures)
	if !okA || !okB || a.n < 2 || b.n < 2 {
		return out
	}
	va, vb := a.variance/a.n, b.variance/b.n
	out.Lift = relativeLift(a.mean, va, b.mean, vb)
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
	out.PValue = ptr(2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(math.Abs(t)))
	out.AdjustedPValue = out.PValue
	out.ChanceToBeatControl = ptr(distuv.UnitNormal.CDF(t))
	return out
}

// holm replaces the adjusted p-values of metric m by Holm–Bonferroni's: with k p-values in
// ascending order, the i-th (from 0) becomes max over j <= i of min(1, (k-j)·p_j).
func holm(rs []VariantResult, m Metric) {
	var cmps []*Comparison
	for _, r := range rs {
		if c := r.VsControl[m]; c != nil && c.PValue != nil {
			cmps = append(cmps, c)
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
