package experiment

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/stat/distuv"
)

// Reference values come from sources independent of the code under test: published worked
// examples (cited), closed forms written out here, and other functions (the standard library's
// math.Erfc and math.Lgamma, gonum's F distribution) than the ones the code calls.

func val(t *testing.T, p *float64) float64 {
	t.Helper()
	require.NotNil(t, p)
	return *p
}

// Wilson score intervals: Newcombe, "Two-sided confidence intervals for the single
// proportion: comparison of seven methods", Statistics in Medicine 17 (1998) 857-872, Table I,
// method 3 (score interval without continuity correction), to 4 decimals; and the closed form
// of 0 successes, upper = z²/(n+z²), and of n successes, lower = n/(n+z²).
func TestRateIntervalMatchesNewcombe(t *testing.T) {
	for _, c := range []struct {
		s, n      int64
		low, high float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
	} {
		e := rateInterval(c.s, c.n)
		assert.InDelta(t, float64(c.s)/float64(c.n), val(t, e.Value), 1e-12)
		assert.InDelta(t, c.low, val(t, e.Low), 0.00005, "%d/%d", c.s, c.n)
		assert.InDelta(t, c.high, val(t, e.High), 0.00005, "%d/%d", c.s, c.n)
	}
	z2 := 1.959963984540054 * 1.959963984540054 // z of 97.5%, squared
	zero := rateInterval(0, 50)
	assert.InDelta(t, z2/(50+z2), val(t, zero.High), 1e-12, "0%: the upper bound in closed form")
	assert.Equal(t, 0.0, val(t, zero.Low))
	all := rateInterval(50, 50)
	assert.InDelta(t, 50/(50+z2), val(t, all.Low), 1e-12, "100%: the lower bound in closed form")
	assert.Equal(t, 1.0, val(t, all.High))
	assert.Nil(t, rateInterval(0, 0).Value, "no trials: no rate")
	assert.Nil(t, rateInterval(3, 2).Value, "more successes than trials is not a proportion")
}

// The two-proportion z-test against Pearson's chi-square of the 2x2 table (no continuity
// correction): χ² = N(ad-bc)²/((a+b)(c+d)(a+c)(b+d)) equals z², and the p-value of χ² with one
// degree of freedom is erfc(√(χ²/2)) (the standard library's erfc, not gonum).
func TestTwoProportionPValueIsTheChiSquareOfTheTable(t *testing.T) {
	for _, c := range []struct{ s1, n1, s2, n2 int64 }{
		{130, 1000, 100, 1000}, {12, 40, 3, 35}, {1, 5, 0, 7}, {5000, 100000, 5210, 100000},
	} {
		a, b := float64(c.s1), float64(c.n1-c.s1)
		cc, d := float64(c.s2), float64(c.n2-c.s2)
		n := a + b + cc + d
		chi := n * (a*d - b*cc) * (a*d - b*cc) / ((a + b) * (cc + d) * (a + cc) * (b + d))
		want := math.Erfc(math.Sqrt(chi / 2))
		assert.InDelta(t, want, twoProportionP(c.s1, c.n1, c.s2, c.n2), 1e-12, "%+v", c)
	}
	// 130/1000 vs 100/1000: pooled 0.115, se = √(0.115·0.885·0.002) = 0.0142671, z = 2.10274,
	// p = erfc(2.10274/√2) = 0.035488 (hand computation).
	assert.InDelta(t, 0.035488, twoProportionP(130, 1000, 100, 1000), 0.000002)
	assert.Equal(t, 1.0, twoProportionP(0, 100, 0, 80), "both 0%: no evidence of a difference")
	assert.Equal(t, 1.0, twoProportionP(100, 100, 80, 80), "both 100%: no evidence of a difference")
}

// Welch's t-test: the worked example of the Wikipedia article "Welch's t-test" (Examples,
// first pair of samples A1, A2): t = -2.46, ν ≈ 24.99, p = 0.021 (two-sided), to the printed
// decimals. The p-value is also checked exactly against t² ~ F(1, ν): p = F(1, ν).Survival(t²).
func TestWelchMatchesThePublishedExample(t *testing.T) {
	a1 := []float64{27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4}
	a2 := []float64{27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4}
	counts := func(xs []float64) VariantCounts {
		v := VariantCounts{Exposures: int64(len(xs))}
		for _, x := range xs {
			v.Revenue += x
			v.RevenueSquares += x * x
		}
		return v
	}
	v, c := counts(a1), counts(a2)
	cmp := judge{mode: ModeFixedHorizon}.compareMeans(v, c)
	p := val(t, cmp.PValue)
	assert.InDelta(t, 0.021, p, 0.0005)

	// t and ν by hand from the sample variances.
	m1, _ := meanOf(v.Revenue, v.RevenueSquares, v.Exposures)
	m2, _ := meanOf(c.Revenue, c.RevenueSquares, c.Exposures)
	se2 := m1.variance/15 + m2.variance/15
	tStat := (m1.mean - m2.mean) / math.Sqrt(se2)
	nu := se2 * se2 / ((m1.variance/15)*(m1.variance/15)/14 + (m2.variance/15)*(m2.variance/15)/14)
	assert.InDelta(t, -2.46, tStat, 0.005)
	assert.InDelta(t, 24.99, nu, 0.01)
	assert.InDelta(t, distuv.F{D1: 1, D2: nu}.Survival(tStat*tStat), p, 1e-9)
	// The normal approximation of the chance to beat: Φ(t) = erfc(-t/√2)/2.
	assert.InDelta(t, math.Erfc(-tStat/math.Sqrt2)/2, val(t, cmp.ChanceToBeatControl), 1e-12)
}

// The Bayesian chance to beat the control, against the exact sum for integer Beta parameters
// (Evan Miller, "Formulas for Bayesian A/B testing", 2015):
// P(pB > pA) = Σ_{i=0}^{αB-1} B(αA+i, βA+βB) / ((βB+i) B(1+i, βB) B(αA, βA)).
func TestChanceToBeatMatchesTheClosedForm(t *testing.T) {
	lbeta := func(a, b float64) float64 {
		la, _ := math.Lgamma(a)
		lb, _ := math.Lgamma(b)
		lab, _ := math.Lgamma(a + b)
		return la + lb - lab
	}
	exact := func(s1, n1, s2, n2 int64) float64 {
		aB, bB := float64(1+s1), float64(1+n1-s1)
		aA, bA := float64(1+s2), float64(1+n2-s2)
		total := 0.0
		for i := 0.0; i < aB; i++ {
			total += math.Exp(lbeta(aA+i, bA+bB) - math.Log(bB+i) - lbeta(1+i, bB) - lbeta(aA, bA))
		}
		return total
	}
	for _, c := range []struct{ s1, n1, s2, n2 int64 }{
		{30, 100, 20, 100}, {0, 50, 0, 50}, {3, 10, 1, 12}, {0, 200, 5, 200}, {40, 40, 38, 40}, {120, 2000, 100, 2000},
	} {
		assert.InDelta(t, exact(c.s1, c.n1, c.s2, c.n2), betaChanceToBeat(c.s1, c.n1, c.s2, c.n2), 1e-6, "%+v", c)
	}
	assert.InDelta(t, 0.5, betaChanceToBeat(50, 1000, 50, 1000), 1e-6, "equal data: even odds")
	// Large samples, where the posteriors are narrow: the normal approximation is close.
	p := betaChanceToBeat(10300, 1_000_000, 10000, 1_000_000)
	a, b := 10301.0/1000002, 10001.0/1000002
	z := (a - b) / math.Sqrt(a*(1-a)/1000003+b*(1-b)/1000003)
	assert.InDelta(t, math.Erfc(-z/math.Sqrt2)/2, p, 0.001)
}

// Holm–Bonferroni by hand: p = 0.01, 0.04, 0.03 (k = 3) -> 3·0.01 = 0.03, then
// max(0.03, 2·0.03) = 0.06, then max(0.06, 1·0.04) = 0.06.
func TestHolm(t *testing.T) {
	p := func(x float64) *Comparison { return &Comparison{PValue: &x, AdjustedPValue: &x} }
	rs := []VariantResult{{}, {VsControl: map[Metric]*Comparison{MetricCTR: p(0.01)}},
		{VsControl: map[Metric]*Comparison{MetricCTR: p(0.04)}}, {VsControl: map[Metric]*Comparison{MetricCTR: p(0.03)}}}
	holm(rs, []Metric{MetricCTR})
	assert.InDelta(t, 0.03, val(t, rs[1].VsControl[MetricCTR].AdjustedPValue), 1e-12)
	assert.InDelta(t, 0.06, val(t, rs[2].VsControl[MetricCTR].AdjustedPValue), 1e-12)
	assert.InDelta(t, 0.06, val(t, rs[3].VsControl[MetricCTR].AdjustedPValue), 1e-12)
	assert.InDelta(t, 0.04, val(t, rs[2].VsControl[MetricCTR].PValue), 1e-12, "the raw p-value stays")
}

// The sample-ratio check: χ² by hand, its p-value for one degree of freedom as erfc(√(χ²/2)),
// for two degrees of freedom in closed form exp(-χ²/2).
func TestSampleRatioMismatch(t *testing.T) {
	// 5000 vs 5200 at 50/50: expected 5100 each, χ² = 2·100²/5100 = 3.921569.
	s := sampleRatio([]VariantCounts{{Weight: 50, Exposures: 5000}, {Weight: 50, Exposures: 5200}})
	assert.InDelta(t, 2*100.0*100/5100, val(t, s.ChiSquare), 1e-9)
	assert.InDelta(t, math.Erfc(math.Sqrt(2*100.0*100/5100/2)), val(t, s.PValue), 1e-12)
	assert.False(t, s.Detected, "p = 0.048: not a mismatch at 0.001")
	// 1000 vs 1200: χ² = 18.18, p = 2.0e-5.
	s = sampleRatio([]VariantCounts{{Weight: 50, Exposures: 1000}, {Weight: 50, Exposures: 1200}})
	assert.True(t, s.Detected)
	// Three variants 20/30/50 with 2000, 3000, 5300: N = 10300, expected 2060, 3090, 5150;
	// χ² = 60²/2060 + 90²/3090 + 150²/5150, p = exp(-χ²/2).
	s = sampleRatio([]VariantCounts{{Weight: 20, Exposures: 2000}, {Weight: 30, Exposures: 3000}, {Weight: 50, Exposures: 5300}})
	chi := 60.0*60/2060 + 90.0*90/3090 + 150.0*150/5150
	assert.InDelta(t, chi, val(t, s.ChiSquare), 1e-9)
	assert.InDelta(t, math.Exp(-chi/2), val(t, s.PValue), 1e-12)
	assert.Equal(t, 2, s.DegreesOfFreedom)
	assert.False(t, sampleRatio([]VariantCounts{{Weight: 50}, {Weight: 50}}).Checked, "no traffic: nothing to check")
	assert.False(t, sampleRatio([]VariantCounts{{Weight: 100, Exposures: 9}, {Weight: 0, Exposures: 1}}).Checked,
		"a concluded test (a weight of 0) is not checked")
}

func TestAnalyzeVerdicts(t *testing.T) {
	v := func(key string, w int, exp, clicks, conv int64) VariantCounts {
		return VariantCounts{Key: key, Weight: w, Exposures: exp, Clicks: clicks, Conversions: conv,
			Revenue: float64(conv) * 10, RevenueSquares: float64(conv) * 100}
	}
	t.Run("winner on CTR", func(t *testing.T) {
		a, err := Analyze(Input{Mode: ModeFixedHorizon, Unit: UnitImpressions, Metric: MetricCTR, MinSampleSize: 1000,
			Variants: []VariantCounts{v("A", 50, 10000, 1000, 50), v("B", 50, 10050, 1200, 60)}})
		require.NoError(t, err)
		assert.Equal(t, VerdictWinner, a.Verdict)
		require.NotNil(t, a.Winner)
		assert.Equal(t, "B", *a.Winner)
		assert.Equal(t, "A", a.Control)
		assert.Equal(t, "none", a.MultipleComparisons)
		assert.Nil(t, a.Variants[0].VsControl)
		assert.True(t, a.Variants[1].VsControl[MetricCTR].Significant)
		assert.False(t, a.SRMDetected)
	})
	t.Run("the control marked, and better", func(t *testing.T) {
		a, err := Analyze(Input{Mode: ModeFixedHorizon, Unit: UnitImpressions, Metric: MetricCTR, MinSampleSize: 100,
			Variants: []VariantCounts{v("A", 50, 10000, 800, 0), {Key: "B", Weight: 50, Control: true, Exposures: 10000, Clicks: 1000}}})
		require.NoError(t, err)
		assert.Equal(t, "B", a.Control)
		assert.Equal(t, VerdictWinner, a.Verdict)
		assert.Equal(t, "B", *a.Winner, "the control beats the only other variant")
	})
	t.Run("not enough data, tiny samples", func(t *testing.T) {
		a, err := Analyze(Input{Mode: ModeFixedHorizon, Unit: UnitImpressions, Metric: MetricCTR, MinSampleSize: 100,
			Variants: []VariantCounts{v("A", 50, 3, 1, 0), v("B", 50, 2, 2, 1)}})
		require.NoError(t, err)
		assert.Equal(t, VerdictNotEnoughData, a.Verdict)
		assert.Nil(t, a.Winner)
		assert.Equal(t, 1.0, val(t, a.Variants[1].CTR.Value), "100% CTR")
		assert.Equal(t, 1.0, val(t, a.Variants[1].CTR.High))
	})
	t.Run("one variant without traffic", func(t *testing.T) {
		a, err := Analyze(Input{Mode: ModeFixedHorizon, Unit: UnitImpressions, Metric: MetricRevenuePerExposure,
			Variants: []VariantCounts{v("A", 50, 5000, 300, 20), v("B", 50, 0, 0, 0)}})
		require.NoError(t, err)
		assert.Equal(t, VerdictSRMDetected, a.Verdict, "all traffic to one arm of 50/50 is a mismatch")
		assert.True(t, a.SRMDetected)
		assert.Nil(t, a.Variants[1].CTR.Value)
		assert.Nil(t, a.Variants[1].VsControl[MetricCTR].PValue)
		assert.Contains(t, a.Warnings[0], "must not be trusted")
	})
	t.Run("zero conversions everywhere", func(t *testing.T) {
		a, err := Analyze(Input{Mode: ModeFixedHorizon, Unit: UnitImpressions, Metric: MetricConversionRate, MinSampleSize: 100,
			Variants: []VariantCounts{v("A", 50, 5000, 300, 0), v("B", 50, 5000, 310, 0)}})
		require.NoError(t, err)
		assert.Equal(t, VerdictNoSignificantDifference, a.Verdict)
		cmp := a.Variants[1].VsControl[MetricConversionRate]
		assert.Equal(t, 1.0, val(t, cmp.PValue))
		assert.Nil(t, cmp.Lift.Value, "no lift against 0%")
		rev := a.Variants[1].VsControl[MetricRevenuePerExposure]
		assert.Equal(t, 1.0, val(t, rev.PValue), "no revenue anywhere: no difference")
	})
	t.Run("three variants are corrected", func(t *testing.T) {
		a, err := Analyze(Input{Mode: ModeFixedHorizon, Unit: UnitImpressions, Metric: MetricCTR, MinSampleSize: 1000,
			Variants: []VariantCounts{v("A", 34, 10000, 1000, 0), v("B", 33, 9800, 1075, 0), v("C", 33, 9900, 1000, 0)}})
		require.NoError(t, err)
		assert.Equal(t, MultipleComparisonsMethod, a.MultipleComparisons)
		b, c := a.Variants[1].VsControl[MetricCTR], a.Variants[2].VsControl[MetricCTR]
		// B has the smaller p-value: doubled; C's is the max of B's adjusted and its own.
		assert.InDelta(t, 2*val(t, b.PValue), val(t, b.AdjustedPValue), 1e-12)
		assert.InDelta(t, math.Max(val(t, b.AdjustedPValue), val(t, c.PValue)), val(t, c.AdjustedPValue), 1e-12)
		assert.Less(t, val(t, b.PValue), 0.05, "B alone would be significant")
		assert.Greater(t, val(t, b.AdjustedPValue), 0.05, "but not once corrected")
		assert.Equal(t, VerdictNoSignificantDifference, a.Verdict)
		assert.Contains(t, a.Warnings[0], "Holm")
	})
	t.Run("bad input", func(t *testing.T) {
		_, err := Analyze(Input{Metric: MetricCTR, Variants: []VariantCounts{v("A", 100, 1, 1, 1)}})
		assert.Error(t, err)
		_, err = Analyze(Input{Metric: "roas", Variants: []VariantCounts{v("A", 50, 1, 1, 1), v("B", 50, 1, 1, 1)}})
		assert.Error(t, err)
	})
}
