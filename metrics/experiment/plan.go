package experiment

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Plan is the sample size a test needs to detect an effect.
type Plan struct {
	// BaselineRate is the control's rate the plan starts from.
	BaselineRate float64 `json:"baselineRate"`
	// MinimumDetectableEffect is the relative lift to detect (0.1: +10%).
	MinimumDetectableEffect float64 `json:"minimumDetectableEffect"`
	Alpha                   float64 `json:"alpha"`
	Power                   float64 `json:"power"`
	// PerVariant is the denominator each variant needs (exposures; clicks for the conversion
	// rate): the fixed-horizon test's planned sample size.
	PerVariant int64 `json:"perVariant"`
	// SoFar is the smallest denominator of any variant today.
	SoFar int64 `json:"soFar"`
	// DaysAtCurrentTraffic is how many more days the test needs at the traffic seen so far;
	// nil before a day of traffic.
	DaysAtCurrentTraffic *float64 `json:"daysAtCurrentTraffic"`
}

// SampleSize is the number of units per variant a two-sided test at alpha needs to detect a
// relative lift mde over the baseline rate with the given power: statsmodels' NormalIndPower
// (zt_ind_solve_power) with equal arms on Cohen's effect size h = 2·asin(√p₂) - 2·asin(√p₁),
// solving Φ(h·√(n/2) - z) + Φ(-h·√(n/2) - z) = power, z = Φ⁻¹(1 - alpha/2), rounded up.
func SampleSize(baseline, mde, alpha, power float64) (int64, error) {
	target := baseline * (1 + mde)
	switch {
	case !(baseline > 0 && baseline < 1):
		return 0, fmt.Errorf("experiment: a baseline rate of %g is not in (0, 1)", baseline)
	case mde == 0 || !(target > 0 && target < 1):
		return 0, fmt.Errorf("experiment: a lift of %g from %g is not a rate in (0, 1) other than the baseline", mde, baseline)
	case !(alpha > 0 && alpha < 1) || !(power > alpha && power < 1):
		return 0, fmt.Errorf("experiment: alpha %g and power %g: need 0 < alpha < power < 1", alpha, power)
	}
	h := math.Abs(2*math.Asin(math.Sqrt(target)) - 2*math.Asin(math.Sqrt(baseline)))
	z := distuv.UnitNormal.Quantile(1 - alpha/2)
	powerAt := func(n float64) float64 {
		d := h * math.Sqrt(n/2)
		return distuv.UnitNormal.CDF(d-z) + distuv.UnitNormal.CDF(-d-z)
	}
	lo, hi := 1.0, 2.0
	for powerAt(hi) < power {
		lo, hi = hi, hi*2
		if hi > 1e15 {
			return 0, fmt.Errorf("experiment: a lift of %g from %g needs more than 10^15 units", mde, baseline)
		}
	}
	for hi-lo > 1e-6*hi {
		mid := (lo + hi) / 2
		if powerAt(mid) < power {
			lo = mid
		} else {
			hi = mid
		}
	}
	return int64(math.Ceil(hi - 1e-9)), nil
}
