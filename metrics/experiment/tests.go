package experiment

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// MinExpectedCount is the smallest expected count of any cell of a rate's 2×2 table (successes
// and failures of each arm, under no difference) for which the z-test's normal approximation
// is used (Cochran's rule). Below it the fixed-horizon test is Fisher's exact test, and the
// sequential mode, which has no exact form, answers NOT_ENOUGH_DATA.
const MinExpectedCount = 5

// smallTable reports whether the 2×2 table of s1/n1 against s2/n2 has a cell whose expected
// count is below MinExpectedCount.
func smallTable(s1, n1, s2, n2 int64) bool {
	n := float64(n1 + n2)
	succ, fail := float64(s1+s2), float64(n1-s1+n2-s2)
	for _, row := range []float64{float64(n1), float64(n2)} {
		if row*succ/n < MinExpectedCount || row*fail/n < MinExpectedCount {
			return true
		}
	}
	return false
}

// fisherExactP is the two-sided p-value of Fisher's exact test of the 2×2 table
// [[s1, n1-s1], [s2, n2-s2]]: the probability, with the margins fixed, of every table at most
// as likely as the observed one (the convention of R's fisher.test and scipy).
func fisherExactP(s1, n1, s2, n2 int64) float64 {
	k := s1 + s2 // successes, the column margin
	lo, hi := max(0, k-n2), min(k, n1)
	logP := func(x int64) float64 { // hypergeometric: C(n1, x)·C(n2, k-x) / C(n1+n2, k)
		return lchoose(n1, x) + lchoose(n2, k-x) - lchoose(n1+n2, k)
	}
	observed := logP(s1)
	p := 0.0
	for x := lo; x <= hi; x++ {
		if lp := logP(x); lp <= observed+1e-7 { // a relative tolerance, as R uses, against rounding ties
			p += math.Exp(lp)
		}
	}
	return math.Min(1, p)
}

func lchoose(n, k int64) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// ratioScoreInterval is the 95% score interval of the rate ratio (s1/n1)/(s2/n2) (Koopman,
// 1984; the Miettinen–Nurminen statistic without its N/(N-1) factor): every ratio R whose
// score statistic, with the rates re-estimated under p1 = R·p2, is within ±z. At R = 1 the
// statistic is the pooled two-proportion z, so the interval excludes 1 exactly when the
// z-test's p-value is below alpha: the lift interval and the test never contradict each other.
// Its bounds are never negative (a lift never below -100%); an unbounded upper end (no control
// successes) is +Inf.
func ratioScoreInterval(s1, n1, s2, n2 int64, z float64) (low, high float64) {
	score := func(r float64) float64 { return ratioScore(s1, n1, s2, n2, r) }
	// The statistic decreases in R: find where it crosses +z (low) and -z (high), on ln R.
	solve := func(target float64) float64 {
		lo, hi := -40.0, 40.0
		if score(math.Exp(lo)) < target {
			return 0
		}
		if score(math.Exp(hi)) > target {
			return math.Inf(1)
		}
		for range 200 {
			mid := (lo + hi) / 2
			if score(math.Exp(mid)) > target {
				lo = mid
			} else {
				hi = mid
			}
			if hi-lo < 1e-12 {
				break
			}
		}
		return math.Exp((lo + hi) / 2)
	}
	low, high = solve(z), solve(-z)
	if s1 == 0 {
		low = 0
	}
	if s2 == 0 {
		high = math.Inf(1)
	}
	return low, high
}

// ratioScore is the score statistic of H0: p1 = r·p2, with the restricted maximum-likelihood
// rates of Miettinen and Nurminen (1985).
func ratioScore(s1, n1, s2, n2 int64, r float64) float64 {
	x1, x2, m1, m2 := float64(s1), float64(s2), float64(n1), float64(n2)
	a := (m1 + m2) * r
	b := -(r*(m1+x2) + x1 + m2)
	c := x1 + x2
	disc := math.Max(0, b*b-4*a*c)
	// The smaller root, written as 2c/(-b + √disc) (b < 0): no cancellation at any r.
	p2 := 2 * c / (-b + math.Sqrt(disc))
	p1 := math.Min(1, r*p2)
	num := x1/m1 - r*x2/m2
	v := p1*(1-p1)/m1 + r*r*p2*(1-p2)/m2
	if v <= 0 {
		switch {
		case num > 0:
			return math.Inf(1)
		case num < 0:
			return math.Inf(-1)
		}
		return 0
	}
	return num / math.Sqrt(v)
}

// fiellerInterval is the interval of the ratio of two independent means a/b with variances va
// and vb (Fieller's theorem): every θ with |a - θ·b| / √(va + θ²·vb) <= t. At θ = 1 the
// statistic is Welch's, so the interval excludes 1 exactly when Welch's test (with the same
// t quantile) rejects. ok is false when the interval is unbounded (the control's mean is not
// distinguishable from 0).
func fiellerInterval(a, va, b, vb, t float64) (low, high float64, ok bool) {
	t2 := t * t
	qa := b*b - t2*vb
	if qa <= 0 {
		return 0, 0, false
	}
	qb := -2 * a * b
	qc := a*a - t2*va
	disc := qb*qb - 4*qa*qc
	if disc < 0 {
		return 0, 0, false
	}
	r := math.Sqrt(disc)
	return (-qb - r) / (2 * qa), (-qb + r) / (2 * qa), true
}

// Sequential testing: an always-valid p-value from the normal-mixture sequential probability
// ratio test (Johari, Pekelis, Walsh, "Always Valid Inference", arXiv:1512.04922; the mixture
// boundary of Howard et al., "Time-uniform, nonparametric, nonasymptotic confidence
// sequences", Ann. Statist. 2021, as GrowthBook ships it). Reading it after every exposure
// and stopping at the first p < alpha keeps the false-positive rate at or below alpha.

// mixturePrecision is ρ² of the normal mixture, tuned so that the boundary is tightest at n
// observations (Howard et al., eq. (3.4), as GrowthBook computes it from the expected sample
// size): ρ² = (-2·ln α + ln(1 - 2·ln α)) / n.
func mixturePrecision(n float64) float64 {
	l := -2 * math.Log(Alpha)
	return (l + math.Log(1+l)) / n
}

// alwaysValidP is 1/M, M the mixture likelihood ratio after n observations whose fixed-horizon
// z statistic is z: M = (1 + ρ²n)^(-½)·exp(ρ²·n·z² / (2(1 + ρ²n))). By Ville's inequality
// P(M ever reaches 1/α) <= α under no difference.
func alwaysValidP(z, n, rho2 float64) float64 {
	g := rho2 * n
	logM := -0.5*math.Log1p(g) + g*z*z/(2*(1+g))
	return math.Min(1, math.Exp(-logM))
}

// sequentialHalfWidth is the half-width, in standard errors, of the (1-α) confidence sequence
// after n observations: the z beyond which alwaysValidP < α.
func sequentialHalfWidth(n, rho2 float64) float64 {
	g := rho2 * n
	return math.Sqrt(2 * (1 + g) / g * (math.Log(1/Alpha) + 0.5*math.Log1p(g)))
}

// zFor is the z statistic of a difference with its standard error.
func zFor(diff, se float64) float64 {
	if se == 0 {
		return 0
	}
	return diff / se
}

// twoSidedNormalP is the two-sided p-value of z.
func twoSidedNormalP(z float64) float64 { return 2 * distuv.UnitNormal.Survival(math.Abs(z)) }
