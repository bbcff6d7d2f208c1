package metrics

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"
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
}

// Add sums two totals.
func (t Totals) Add(o Totals) Totals {
	return Totals{
		Impressions: t.Impressions + o.Impressions, Clicks: t.Clicks + o.Clicks,
		Conversions: t.Conversions + o.Conversions, Bounces: t.Bounces + o.Bounces,
		Unsubscribes: t.Unsubscribes + o.Unsubscribes,
		RevenueE4:    t.RevenueE4 + o.RevenueE4, CostE4: t.CostE4 + o.CostE4,
	}
}

// KPIs are the indicators derived from totals. A ratio whose denominator is zero is nil.
//
// Rounding (half away from zero): rates and ROAS to 2 decimals; money to the currency's minor
// unit (2 for EUR, 0 for JPY).
type KPIs struct {
	Impressions       int64      `json:"impressions"`
	Clicks            int64      `json:"clicks"`
	Conversions       int64      `json:"conversions"`
	Bounces           int64      `json:"bounces"`
	Unsubscribes      int64      `json:"unsubscribes"`
	Revenue           Amount     `json:"revenue"`
	Cost              Amount     `json:"cost"`
	CTR               *Fixed2    `json:"ctr"`               // clicks / impressions, %
	ConversionRate    *Fixed2    `json:"conversionRate"`    // conversions / clicks, %
	CostPerClick      *Amount    `json:"costPerClick"`      // cost / clicks
	CostPerConversion *Amount    `json:"costPerConversion"` // cost / conversions
	ROAS              *Fixed2    `json:"roas"`              // revenue / cost
	ROI               *Fixed2    `json:"roi"`               // (revenue - cost) / cost, %
	BudgetSpent       *Amount    `json:"budgetSpent"`       // the cost, against the budget
	BudgetRemaining   *Amount    `json:"budgetRemaining"`   // budget - cost, never below 0
	BudgetSpentShare  *Fixed2    `json:"budgetSpentPercent"`
	LastUpdated       *time.Time `json:"lastUpdated"`
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
	return json.Marshal(struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	}{a.Value.StringFixed(minorUnit(a.Currency)), a.Currency})
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
	rev, cost := fromE4(t.RevenueE4), fromE4(t.CostE4)
	imp, clk, conv := decimal.NewFromInt(t.Impressions), decimal.NewFromInt(t.Clicks), decimal.NewFromInt(t.Conversions)
	k := KPIs{
		Impressions: t.Impressions, Clicks: t.Clicks, Conversions: t.Conversions,
		Bounces: t.Bounces, Unsubscribes: t.Unsubscribes,
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
