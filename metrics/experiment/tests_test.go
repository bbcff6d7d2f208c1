package experiment

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fisher's exact test: the 0/4 against 3/4 by hand (hypergeometric, margins 3 and 5
// of 8: the tables at least as unlikely are x = 0 and x = 3, each C(5,4)/C(8,4) = 5/70: p = 1/7),
// and the tea-tasting table [[3, 1], [1, 3]] of R's fisher.test documentation (p = 0.4857).
func TestFisherExact(t *testing.T) {
	assert.InDelta(t, 1.0/7, fisherExactP(0, 4, 3, 4), 1e-12)
	assert.InDelta(t, 0.4857, fisherExactP(3, 4, 1, 4), 0.00005)
	assert.InDelta(t, 1, fisherExactP(0, 300, 0, 310), 1e-12, "no successes at all")
	assert.True(t, smallTable(0, 4, 3, 4))
	assert.False(t, smallTable(130, 1000, 100, 1000))

	// The conversion rate of 0/4 against 3/4 clicks was a WINNER by the z-test (p = 0.0253).
	a, err := Analyze(Input{Mode: ModeFixedHorizon, Unit: UnitImpressions, Metric: MetricConversionRate, MinSampleSize: 4,
		Variants: []VariantCounts{{Key: "A", Weight: 50, Exposures: 100, Clicks: 4}, {Key: "B", Weight: 50, Exposures: 100, Clicks: 4, Conversions: 3}}})
	require.NoError(t, err)
	cmp := a.Variants[1].VsControl[MetricConversionRate]
	assert.Equal(t, "fisher-exact", cmp.Test)
	assert.InDelta(t, 1.0/7, val(t, cmp.PValue), 1e-12)
	assert.Equal(t, VerdictNoSignificantDifference, a.Verdict)

	// The gate is the rate's own denominator: 5,000 exposures but 4 clicks is not enough data.
	a, err = Analyze(Input{Mode: ModeFixedHorizon, Unit: UnitImpressions, Metric: MetricConversionRate, MinSampleSize: 1000,
		Variants: []VariantCounts{{Key: "A", Weight: 50, Exposures: 5000, Clicks: 4}, {Key: "B", Weight: 50, Exposures: 5000, Clicks: 4, Conversions: 3}}})
	require.NoError(t, err)
	assert.False(t, a.PlannedSampleReached)
	assert.Equal(t, VerdictNotEnoughData, a.Verdict)
}

// The lift interval and the test agree, on a grid of tables with p-values between 0.001 and
// 0.2 (where the unpooled Wald interval of the ratio disagreed with the pooled z-test in 14% of
// the cases): the score interval excludes 0 exactly when p < 0.05. Its bounds never fall below
// -100%, and a control at 0% gives an unbounded upper end, not a zero-width interval.
func TestLiftIntervalAgreesWithTheTest(t *testing.T) {
	j := judge{mode: ModeFixedHorizon}
	cases, disagree := 0, 0
	for _, n1 := range []int64{40, 200, 1000, 5000} {
		for _, n2 := range []int64{30, 500, 4000} {
			for s1 := int64(0); s1 <= n1/3; s1 += max(1, n1/97) {
				for _, s2 := range []int64{n2 / 50, n2 / 20, n2 / 8} {
					p := twoProportionP(s1, n1, s2, n2)
					if p < 0.001 || p > 0.2 || smallTable(s1, n1, s2, n2) {
						continue
					}
					cases++
					c := j.compareRates(s1, n1, s2, n2)
					require.NotNil(t, c.Lift.Low)
					assert.GreaterOrEqual(t, *c.Lift.Low, -1.0)
					excludes := *c.Lift.Low > 0 || (c.Lift.High != nil && *c.Lift.High < 0)
					if excludes != (p < Alpha) {
						disagree++
						t.Errorf("%d/%d vs %d/%d: p = %.4f but lift interval [%.4f, %v]", s1, n1, s2, n2, p, *c.Lift.Low, c.Lift.High)
					}
				}
			}
		}
	}
	assert.Greater(t, cases, 200)
	t.Logf("%d tables with 0.001 < p < 0.2: %d where the interval and the test disagree", cases, disagree)

	zero := j.compareRates(5, 100, 0, 100)
	assert.Nil(t, zero.Lift.Value, "a control at 0%: no relative lift")
	assert.Nil(t, zero.Lift.High, "and no upper bound")
	assert.NotNil(t, zero.PValue)
	none := j.compareRates(0, 1000, 30, 1000)
	assert.Equal(t, -1.0, val(t, none.Lift.Value))
	assert.Equal(t, -1.0, val(t, none.Lift.Low), "0% against 3%: down to -100%, never below")
	assert.Less(t, val(t, none.Lift.High), 0.0)
}

// Peeking under A/A: two arms with the same 10% click rate, read after every 100 exposures up
// to 20,000 (200 reads), stopping at the first significant answer. The sequential mode's
// false-positive rate stays at or below alpha; the fixed-horizon test read the same way does
// not. 2,000 simulated tests, seeded.
func TestSequentialModeIsSafeToPeek(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation: skipped with -short")
	}
	const (
		runs, step, horizon = 2000, 100, 20000
		rate                = 0.10
	)
	rng := rand.New(rand.NewPCG(1, 2))
	rho2 := mixturePrecision(horizon) // tuned to the planned total, as Analyze does
	seqFalse, fixedFalse, finalFalse := 0, 0, 0
	for range runs {
		var s1, s2, n1, n2 int64
		seqHit, fixedHit := false, false
		for n := step; n <= horizon; n += step {
			for range step / 2 {
				if rng.Float64() < rate {
					s1++
				}
				if rng.Float64() < rate {
					s2++
				}
			}
			n1, n2 = n1+step/2, n2+step/2
			z := pooledZ(s1, n1, s2, n2)
			seqHit = seqHit || alwaysValidP(z, float64(n1+n2), rho2) < Alpha
			fixedHit = fixedHit || twoSidedNormalP(z) < Alpha
		}
		if seqHit {
			seqFalse++
		}
		if fixedHit {
			fixedFalse++
		}
		if twoSidedNormalP(pooledZ(s1, n1, s2, n2)) < Alpha {
			finalFalse++
		}
	}
	seq, fixed, final := float64(seqFalse)/runs, float64(fixedFalse)/runs, float64(finalFalse)/runs
	t.Logf("A/A, %d runs, a read every %d exposures up to %d: false positives sequential %.3f, fixed horizon peeked %.3f, fixed horizon read once %.3f",
		runs, step, horizon, seq, fixed, final)
	assert.LessOrEqual(t, seq, Alpha, "the sequential mode keeps its promise under peeking")
	assert.Greater(t, fixed, 2*Alpha, "the fixed-horizon test, peeked, does not")
	assert.InDelta(t, Alpha, final, 0.015, "read once, the fixed-horizon test is right")
}

// The confidence sequence's half-width is where the always-valid p-value crosses alpha, and
// it is wider than the fixed-horizon z at every n (the price of peeking).
func TestSequentialBoundary(t *testing.T) {
	rho2 := mixturePrecision(2000)
	for _, n := range []float64{10, 100, 2000, 1e5, 1e8} {
		w := sequentialHalfWidth(n, rho2)
		assert.InDelta(t, Alpha, alwaysValidP(w, n, rho2), 1e-9, "n = %g", n)
		assert.Greater(t, w, z975)
	}
	assert.Equal(t, 1.0, alwaysValidP(0, 1000, rho2), "no difference: p = 1")
	assert.True(t, math.IsInf(sequentialHalfWidth(0, rho2), 1) || sequentialHalfWidth(0, rho2) > 100)
}

// The sample size against statsmodels' NormalIndPower formula (zt_ind_solve_power on
// proportion_effectsize, equal arms), evaluated with mpmath at 30 digits by
// testdata/sample_size.py (statsmodels itself is not installed here); for 10% to 12% at alpha
// 0.05 and power 0.8 it gives 3834.6 per arm, the usual textbook figure of about 3,835.
func TestSampleSizeMatchesStatsmodels(t *testing.T) {
	for _, c := range []struct {
		baseline, mde, alpha, power float64
		want                        float64
	}{
		{0.10, 0.2, 0.05, 0.8, 3834.59573988},
		{0.02, 0.1, 0.05, 0.8, 80637.2303848},
		{0.05, -0.1, 0.05, 0.9, 38006.0587739},
		{0.3, 0.05, 0.01, 0.8, 22103.3771168},
	} {
		n, err := SampleSize(c.baseline, c.mde, c.alpha, c.power)
		require.NoError(t, err)
		assert.Equal(t, int64(math.Ceil(c.want)), n, "%+v", c)
	}
	for _, bad := range [][4]float64{{0, 0.1, 0.05, 0.8}, {0.5, 1.5, 0.05, 0.8}, {0.1, 0, 0.05, 0.8}, {0.1, 0.1, 0.05, 0.01}} {
		_, err := SampleSize(bad[0], bad[1], bad[2], bad[3])
		assert.Error(t, err, "%v", bad)
	}
}
