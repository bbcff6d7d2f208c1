package experiment

import (
	"math"

	"gonum.org/v1/gonum/integrate/quad"
)

// The posteriors of rates are Beta(1+successes, 1+failures), with parameters up to the
// billions (impressions). Their CDF is the regularized incomplete beta function, evaluated
// here by its continued fraction (Lentz's method) with a prefactor computed without
// cancellation, which stays exact to about 1e-12 at any size; gonum's RegIncBeta drifts by up
// to 5e-2 at 10^8-10^9 (its fraction is cut off after a fixed number of terms).

// stirlingRest is lgamma(z) - [(z-½)·ln z - z + ½·ln 2π], the remainder of Stirling's series,
// for z >= 10 (its first four terms; the next is below 1e-16 there).
func stirlingRest(z float64) float64 {
	z2 := z * z
	return (1.0 / 12 / z) * (1 - (1.0/30/z2)*(1-(2.0/7/z2)*(1-(3.0/4/z2))))
}

// logPowerTerms is ln[x^a·(1-x)^b / B(a, b)] for 0 < x < 1. Written around the mean
// p = a/(a+b) with log1p, and with Stirling's remainders for B, its terms stay of the size of
// the result instead of a·ln x (10^10 at a = 10^9), whose rounding would be 1e-6.
func logPowerTerms(a, b, x float64) float64 {
	if a < 10 || b < 10 {
		la, _ := math.Lgamma(a)
		lb, _ := math.Lgamma(b)
		lab, _ := math.Lgamma(a + b)
		if a >= 10 || b >= 10 { // one small, one large: ln Γ(a+b) - ln Γ(large) without cancellation
			small, large := a, b
			if a > b {
				small, large = b, a
			}
			ls, _ := math.Lgamma(small)
			// ln Γ(L+s) - ln Γ(L) = (L-½)·ln(1+s/L) + s·ln(L+s) - s + rest(L+s) - rest(L)
			diff := (large-0.5)*math.Log1p(small/large) + small*math.Log(large+small) - small +
				stirlingRest(large+small) - stirlingRest(large)
			return a*math.Log(x) + b*math.Log1p(-x) + diff - ls
		}
		return a*math.Log(x) + b*math.Log1p(-x) + lab - la - lb
	}
	n := a + b
	p, q := a/n, b/n
	// a·ln(x/p) + b·ln((1-x)/q), plus a·ln p + b·ln q - ln B(a, b) in Stirling's form.
	head := a*math.Log1p((x-p)/p) + b*math.Log1p((p-x)/q)
	return head + 0.5*math.Log(a*b/n) - 0.5*math.Log(2*math.Pi) -
		stirlingRest(a) - stirlingRest(b) + stirlingRest(n)
}

// betaLogPDF is the log density of Beta(a, b) at x in (0, 1).
func betaLogPDF(a, b, x float64) float64 {
	return logPowerTerms(a, b, x) - math.Log(x) - math.Log1p(-x)
}

// regIncBeta is the regularized incomplete beta function I_x(a, b), the CDF of Beta(a, b).
func regIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	// The fraction converges fast below the mean; above it, use I_x(a,b) = 1 - I_(1-x)(b,a).
	if x > (a+1)/(a+b+2) {
		return 1 - regIncBeta(b, a, 1-x)
	}
	return math.Exp(logPowerTerms(a, b, x)) * betaFraction(a, b, x) / a
}

// betaFraction is the continued fraction of the incomplete beta function (Numerical Recipes,
// 3rd ed., 6.4), by the modified Lentz method. It needs about √max(a, b) terms near the mean.
func betaFraction(a, b, x float64) float64 {
	const (
		tiny = 1e-300
		eps  = 1e-15
	)
	maxIter := 1000 + int(20*math.Sqrt(math.Max(a, b)))
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

// betaChanceToBeat is P(p1 > p2) for independent posteriors Beta(1+s, 1+n-s) (uniform
// priors). It integrates the density of the narrower posterior against the CDF of the other,
// over ±20 standard deviations of the narrower one (the mass outside is below 1e-9 even for
// the most skewed posterior, Beta(1, n)): whatever the arms' sizes, the nodes sit where the
// integrand lives. The density is normalised over the same nodes, so that the quadrature's
// own error cancels in the ratio.
func betaChanceToBeat(s1, n1, s2, n2 int64) float64 {
	a1, b1 := 1+float64(s1), 1+float64(n1-s1)
	a2, b2 := 1+float64(s2), 1+float64(n2-s2)
	if betaSD(a1, b1) > betaSD(a2, b2) { // integrate on the narrower: P(p1 > p2) = 1 - P(p2 > p1)
		return 1 - chanceAbove(a2, b2, a1, b1)
	}
	return chanceAbove(a1, b1, a2, b2)
}

// chanceAbove is P(X > Y) for X ~ Beta(a, b), the narrower, and Y ~ Beta(c, d).
func chanceAbove(a, b, c, d float64) float64 {
	mean, sd := a/(a+b), betaSD(a, b)
	lo, hi := math.Max(0, mean-20*sd), math.Min(1, mean+20*sd)
	mode := math.Max(lo, math.Min(hi, (a-1)/(a+b-2)))
	if a+b <= 2 {
		mode = mean
	}
	peak := betaLogPDF(a, b, math.Max(math.SmallestNonzeroFloat64, math.Min(mode, 1-1e-16)))
	density := func(x float64) float64 {
		if x <= 0 || x >= 1 {
			return 0
		}
		return math.Exp(betaLogPDF(a, b, x) - peak) // scaled: normalised below
	}
	const nodes = 256
	mass := quad.Fixed(density, lo, hi, nodes, nil, 0)
	if mass <= 0 || math.IsNaN(mass) {
		return math.NaN()
	}
	p := quad.Fixed(func(x float64) float64 { return density(x) * regIncBeta(c, d, x) }, lo, hi, nodes, nil, 0) / mass
	return math.Min(1, math.Max(0, p))
}

func betaSD(a, b float64) float64 {
	n := a + b
	return math.Sqrt(a * b / (n * n * (n + 1)))
}
