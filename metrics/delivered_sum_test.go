package metrics

import (
	"math"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deliveredOf sums a campaign's totals rows, and fails rather than wrap around: a wrapped
// spend or impression count would make a campaign past its limits look within them.
func TestDeliveredOfSumsAndRefusesOverflow(t *testing.T) {
	got, err := deliveredOf([]Row{
		{Totals: Totals{Impressions: 3, CostE4: 1_2345}},
		{Totals: Totals{Impressions: 4, CostE4: 10_0000}},
	})
	require.NoError(t, err)
	assert.EqualValues(t, 7, got.Impressions)
	assert.True(t, got.Spend.Equal(decimal.RequireFromString("11.2345")), "spend %s", got.Spend)

	got, err = deliveredOf(nil)
	require.NoError(t, err)
	assert.Zero(t, got.Impressions)
	assert.True(t, got.Spend.IsZero())

	for name, rows := range map[string][]Row{
		"cost":        {{Totals: Totals{CostE4: math.MaxInt64}}, {Totals: Totals{CostE4: 1}}},
		"impressions": {{Totals: Totals{Impressions: math.MaxInt64 - 1}}, {Totals: Totals{Impressions: 2}}},
		"third row":   {{Totals: Totals{CostE4: math.MaxInt64 / 2}}, {Totals: Totals{CostE4: math.MaxInt64 / 2}}, {Totals: Totals{CostE4: 2}}},
	} {
		_, err := deliveredOf(rows)
		assert.ErrorIs(t, err, ErrTotalOutOfRange, name)
	}
	_, err = deliveredOf([]Row{{Totals: Totals{CostE4: math.MaxInt64 - 1}}, {Totals: Totals{CostE4: 1}}})
	assert.NoError(t, err, "a sum that just fits is accepted")
}
