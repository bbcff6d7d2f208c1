package metrics

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/engine-rules-sp/campaigns/campaign"
)

// Squares by hand: 1,000,000,000.0000 (10¹³ ten-thousandths) squared is 10²⁶ = 10⁸·10¹⁸.
func TestSquares(t *testing.T) {
	assert.Equal(t, Squares{Hi: 100_000_000}, SquareE4(10_000_000_000_000))
	assert.Equal(t, Squares{Lo: 1_522_756}, SquareE4(1234), "1234² = 1,522,756")
	// The low parts carry: (10¹⁸ - 1) + 1 = 1·10¹⁸ + 0.
	s, ok := Squares{Lo: squaresBase - 1}.Add(Squares{Hi: 2, Lo: 1})
	assert.True(t, ok)
	assert.Equal(t, Squares{Hi: 3}, s)
	// 12.34 squared is 152.2756 in the currency squared.
	assert.InDelta(t, 152.2756, SquareE4(12_3400).Float(), 1e-9)
	// Beyond the 64-bit range of the high part: refused, never wrapped.
	_, ok = Squares{Hi: math.MaxInt64}.Add(Squares{Hi: 1})
	assert.False(t, ok)
	_, ok = SquareE4(-1).Add(Squares{})
	assert.True(t, ok, "alone it is a value")
	_, ok = SquareE4(-1).Add(SquareE4(1))
	assert.False(t, ok, "an amount out of range makes any sum out of range")
	// A conversion's totals carry its revenue squared; Totals.Add sums them.
	a, err := Totals{RevenueSquares: SquareE4(10_000_000_000_000)}.Add(Totals{RevenueSquares: SquareE4(10_000_000_000_000)})
	assert.NoError(t, err)
	assert.Equal(t, Squares{Hi: 200_000_000}, a.RevenueSquares)
	_, err = Totals{RevenueSquares: Squares{Hi: math.MaxInt64}}.Add(Totals{RevenueSquares: Squares{Hi: 1}})
	assert.ErrorIs(t, err, ErrTotalOutOfRange)
	rev := campaign.MustMoney("12.34", "EUR")
	assert.Equal(t, SquareE4(12_3400), Event{Type: Conversion, Revenue: &rev}.totals().RevenueSquares,
		"an event counts its revenue squared")
	assert.Equal(t, Squares{}, Event{Type: Click}.totals().RevenueSquares)
}
