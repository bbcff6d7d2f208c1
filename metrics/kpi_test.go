package metrics_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/metrics"
)

func e4(s string) int64 { return decimal.RequireFromString(s).Shift(4).IntPart() }

func kpiJSON(t *testing.T, k metrics.KPIs) map[string]any {
	t.Helper()
	b, err := json.Marshal(k)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// The seed system's own example must come out exactly.
func TestKPIsSeedExample(t *testing.T) {
	budget := decimal.RequireFromString("10000")
	k := metrics.Compute(metrics.Totals{Impressions: 15420, Clicks: 1234, Conversions: 89,
		RevenueE4: e4("4450.00"), CostE4: e4("890.00")}, "EUR", &budget, nil)
	b, err := json.Marshal(k)
	require.NoError(t, err)
	s := string(b)
	assert.Contains(t, s, `"ctr":8.00`)
	assert.Contains(t, s, `"conversionRate":7.21`)
	assert.Contains(t, s, `"roi":400.00`)
	assert.Contains(t, s, `"roas":5.00`)
	assert.Contains(t, s, `"revenue":{"amount":"4450.00","currency":"EUR"}`)
	assert.Contains(t, s, `"costPerClick":{"amount":"0.72","currency":"EUR"}`)
	assert.Contains(t, s, `"costPerConversion":{"amount":"10.00","currency":"EUR"}`)
	assert.Contains(t, s, `"budgetSpent":{"amount":"890.00","currency":"EUR"}`)
	assert.Contains(t, s, `"budgetRemaining":{"amount":"9110.00","currency":"EUR"}`)
	assert.Contains(t, s, `"budgetSpentPercent":8.90`)
}

func TestKPIsZeroDenominatorsAreNull(t *testing.T) {
	tests := []struct {
		name  string
		t     metrics.Totals
		nulls []string
	}{
		{"nothing at all", metrics.Totals{}, []string{"ctr", "conversionRate", "costPerClick", "costPerConversion", "roas", "roi"}},
		{"impressions only", metrics.Totals{Impressions: 10}, []string{"conversionRate", "costPerClick", "costPerConversion", "roas", "roi"}},
		{"no clicks", metrics.Totals{Impressions: 10, CostE4: e4("5")}, []string{"conversionRate", "costPerClick", "costPerConversion"}},
		{"no conversions", metrics.Totals{Impressions: 10, Clicks: 2, CostE4: e4("5")}, []string{"costPerConversion"}},
		{"no cost", metrics.Totals{Impressions: 10, Clicks: 2, Conversions: 1, RevenueE4: e4("3")}, []string{"roas", "roi"}},
	}
	all := []string{"ctr", "conversionRate", "costPerClick", "costPerConversion", "roas", "roi"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := kpiJSON(t, metrics.Compute(tt.t, "EUR", nil, nil))
			for _, k := range all {
				_, isNull := m[k], m[k] == nil
				assert.Equal(t, contains(tt.nulls, k), isNull, k)
			}
			assert.Nil(t, m["budgetSpent"], "no budget, no budget KPIs")
		})
	}
}

func TestKPIsRoundingAndCurrencies(t *testing.T) {
	// 1/3 click-through rounds half away from zero to two decimals.
	m := kpiJSON(t, metrics.Compute(metrics.Totals{Impressions: 3, Clicks: 1, CostE4: e4("100")}, "JPY", nil, nil))
	assert.EqualValues(t, 33.33, m["ctr"])
	assert.Equal(t, map[string]any{"amount": "100", "currency": "JPY"}, m["costPerClick"], "JPY has no minor unit")
	m = kpiJSON(t, metrics.Compute(metrics.Totals{Impressions: 8, Clicks: 1}, "EUR", nil, nil))
	assert.EqualValues(t, 12.5, m["ctr"])
	// Overspend leaves nothing remaining, never a negative amount.
	budget := decimal.RequireFromString("100")
	m = kpiJSON(t, metrics.Compute(metrics.Totals{CostE4: e4("150")}, "EUR", &budget, nil))
	assert.Equal(t, "0.00", m["budgetRemaining"].(map[string]any)["amount"])
	assert.EqualValues(t, 150, m["budgetSpentPercent"])
	// ROI can be negative.
	m = kpiJSON(t, metrics.Compute(metrics.Totals{RevenueE4: e4("50"), CostE4: e4("200")}, "EUR", nil, nil))
	assert.EqualValues(t, -75, m["roi"])
	assert.EqualValues(t, 0.25, m["roas"])
}

func TestTotalsAdd(t *testing.T) {
	a := metrics.Totals{Impressions: 1, Clicks: 2, Conversions: 3, Bounces: 4, Unsubscribes: 5, RevenueE4: 6, CostE4: 7}
	sum, err := a.Add(a)
	require.NoError(t, err)
	assert.Equal(t, metrics.Totals{Impressions: 2, Clicks: 4, Conversions: 6, Bounces: 8, Unsubscribes: 10, RevenueE4: 12, CostE4: 14}, sum)
}

// A sum beyond the 64-bit range is refused, whichever counter overflows, and the receiver is
// returned unchanged; a sum that lands exactly on the largest value is fine.
func TestTotalsAddRefusesOverflow(t *testing.T) {
	limit := metrics.Totals{Impressions: math.MaxInt64, Clicks: math.MaxInt64, Conversions: math.MaxInt64,
		Bounces: math.MaxInt64, Unsubscribes: math.MaxInt64, RevenueE4: math.MaxInt64, CostE4: math.MaxInt64}
	for name, one := range map[string]metrics.Totals{
		"impressions": {Impressions: 1}, "clicks": {Clicks: 1}, "conversions": {Conversions: 1},
		"bounces": {Bounces: 1}, "unsubscribes": {Unsubscribes: 1}, "revenue": {RevenueE4: 1}, "cost": {CostE4: 1},
	} {
		got, err := limit.Add(one)
		require.ErrorIs(t, err, metrics.ErrTotalOutOfRange, name)
		assert.Equal(t, limit, got, name)
	}
	almost := metrics.Totals{CostE4: math.MaxInt64 - 5}
	got, err := almost.Add(metrics.Totals{CostE4: 5})
	require.NoError(t, err)
	assert.EqualValues(t, int64(metrics.MaxTotalE4), got.CostE4)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
