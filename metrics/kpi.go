package metrics

import (
	"errors"
	"math"
	"slices"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"

	"github.com/engine-rules-sp/campaigns/platform/jsonappend"
)

// Totals are summed counters.
type Totals struct {
	Impressions  int64
	Clicks       int64
	Conversions  int64
	Bounces      int64
	Unsubscribes int64
	RevenueE4    int64 // ten-thousandths of the currency
	CostE4       int64
	// Reach is the customers whose first counted impression falls in the rollup: summed over
	// all of a campaign's rows, its distinct customers with an impression.
	Reach int64
	// RevenueSquares is the sum of each conversion's revenue squared; only the all-time
	// totals keep it (Store.TotalRows).
	RevenueSquares Squares
}

// MaxTotalE4 is the largest money total the rollups hold, in ten-thousandths
// (922,337,203,685,477.5807 in the campaign's currency).
const MaxTotalE4 = math.MaxInt64

// ErrTotalOutOfRange means a sum would not fit the 64-bit counters: it is refused, never
// wrapped.
var ErrTotalOutOfRange = errors.New("metrics: total out of range")

// Add sums two totals of non-negative counters, or fails with ErrTotalOutOfRange.
func (t Totals) Add(o Totals) (Totals, error) {
	var ok [9]bool
	s := Totals{}
	s.Impressions, ok[0] = add64(t.Impressions, o.Impressions)
	s.Clicks, ok[1] = add64(t.Clicks, o.Clicks)
	s.Conversions, ok[2] = add64(t.Conversions, o.Conversions)
	s.Bounces, ok[3] = add64(t.Bounces, o.Bounces)
	s.Unsubscribes, ok[4] = add64(t.Unsubscribes, o.Unsubscribes)
	s.RevenueE4, ok[5] = add64(t.RevenueE4, o.RevenueE4)
	s.CostE4, ok[6] = add64(t.CostE4, o.CostE4)
	s.Reach, ok[7] = add64(t.Reach, o.Reach)
	s.RevenueSquares, ok[8] = t.RevenueSquares.Add(o.RevenueSquares)
	if slices.Contains(ok[:], false) {
		return t, ErrTotalOutOfRange
	}
	return s, nil
}

// add64 is a+b and whether it did not overflow.
func add64(a, b int64) (int64, bool) {
	s := a + b
	return s, (s > a) == (b > 0)
}

// KPIs are the indicators derived from totals. A ratio whose denominator is zero is nil.
//
// Rounding (half away from zero): rates and ROAS to 2 decimals; money to the currency's minor
// unit (2 for EUR, 0 for JPY).
type KPIs struct {
	Impressions       int64   `json:"impressions"`
	Clicks            int64   `json:"clicks"`
	Conversions       int64   `json:"conversions"`
	Bounces           int64   `json:"bounces"`
	Unsubscribes      int64   `json:"unsubscribes"`
	Revenue           Amount  `json:"revenue"`
	Cost              Amount  `json:"cost"`
	CTR               *Fixed2 `json:"ctr"`               // clicks / impressions, %
	ConversionRate    *Fixed2 `json:"conversionRate"`    // conversions / clicks, %
	CostPerClick      *Amount `json:"costPerClick"`      // cost / clicks
	CostPerConversion *Amount `json:"costPerConversion"` // cost / conversions
	ROAS              *Fixed2 `json:"roas"`              // revenue / cost
	ROI               *Fixed2 `json:"roi"`               // (revenue - cost) / cost, %
	BudgetSpent       *Amount `json:"budgetSpent"`       // the cost, against the budget
	BudgetRemaining   *Amount `json:"budgetRemaining"`   // budget - cost, never below 0
	BudgetSpentShare  *Fixed2 `json:"budgetSpentPercent"`
	// Reach: distinct customers with an impression (impressions that carry a customerId);
	// over a period, those first reached in it.
	Reach int64 `json:"reach"`
	// Frequency: impressions / reach, from the campaign's start only (nil over a period that
	// starts later, and when reach is zero).
	Frequency   *Fixed2    `json:"frequency"`
	LastUpdated *time.Time `json:"lastUpdated"`
	// Pacing is where the campaign stands against its pacing plan (all-time metrics of a
	// campaign with pacing settings only).
	Pacing *PacingReport `json:"pacing,omitempty"`
}

// Fixed2 is a rate rounded to 2 decimals, written as a JSON number with exactly two (8.00).
type Fixed2 struct{ decimal.Decimal }

// MarshalJSON writes the number with two decimals.
func (f Fixed2) MarshalJSON() ([]byte, error) { return []byte(f.StringFixed(2)), nil }

// Amount is money as the API writes it: {"amount": "10.00", "currency": "EUR"}.
type Amount struct {
	Value    decimal.Decimal
	Currency string
}

// MarshalJSON writes the amount as a string with the currency's minor-unit decimals.
func (a Amount) MarshalJSON() ([]byte, error) {
	return jsonappend.Money(nil, a.Value.StringFixed(minorUnit(a.Currency)), a.Currency), nil
}

func minorUnit(code string) int32 {
	unit, err := currency.ParseISO(code)
	if err != nil {
		return 2
	}
	scale, _ := currency.Standard.Rounding(unit)
	return int32(scale)
}

var hundred = decimal.NewFromInt(100)

// ratio is num/den, or nil when den is zero.
func ratio(num, den decimal.Decimal) *decimal.Decimal {
	if den.IsZero() {
		return nil
	}
	r := num.Div(den)
	return &r
}

func round2(d *decimal.Decimal) *Fixed2 {
	if d == nil {
		return nil
	}
	return &Fixed2{d.Round(2)}
}

func money(d *decimal.Decimal, cur string) *Amount {
	if d == nil {
		return nil
	}
	return &Amount{Value: d.Round(minorUnit(cur)), Currency: cur}
}

// Compute derives the KPIs of t in currency cur. budget may be nil (no budget KPIs).
func Compute(t Totals, cur string, budget *decimal.Decimal, lastUpdated *time.Time) KPIs {
	rev, cost := FromE4(t.RevenueE4), FromE4(t.CostE4)
	imp, clk, conv := decimal.NewFromInt(t.Impressions), decimal.NewFromInt(t.Clicks), decimal.NewFromInt(t.Conversions)
	k := KPIs{
		Impressions: t.Impressions, Clicks: t.Clicks, Conversions: t.Conversions,
		Bounces: t.Bounces, Unsubscribes: t.Unsubscribes, Reach: t.Reach,
		Revenue:     Amount{Value: rev.Round(minorUnit(cur)), Currency: cur},
		Cost:        Amount{Value: cost.Round(minorUnit(cur)), Currency: cur},
		LastUpdated: lastUpdated,
	}
	if r := ratio(clk, imp); r != nil {
		k.CTR = round2(ptr(r.Mul(hundred)))
	}
	if r := ratio(conv, clk); r != nil {
		k.ConversionRate = round2(ptr(r.Mul(hundred)))
	}
	k.Frequency = round2(ratio(imp, decimal.NewFromInt(t.Reach)))
	k.CostPerClick = money(ratio(cost, clk), cur)
	k.CostPerConversion = money(ratio(cost, conv), cur)
	k.ROAS = round2(ratio(rev, cost))
	if r := ratio(rev.Sub(cost), cost); r != nil {
		k.ROI = round2(ptr(r.Mul(hundred)))
	}
	if budget != nil {
		k.BudgetSpent = &Amount{Value: cost.Round(minorUnit(cur)), Currency: cur}
		rem := decimal.Max(budget.Sub(cost), decimal.Zero)
		k.BudgetRemaining = &Amount{Value: rem.Round(minorUnit(cur)), Currency: cur}
		if r := ratio(cost, *budget); r != nil {
			k.BudgetSpentShare = round2(ptr(r.Mul(hundred)))
		}
	}
	return k
}

func ptr[T any](v T) *T { return &v }
