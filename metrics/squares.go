package metrics

import (
	"math"
	"math/bits"
)

// squaresBase splits a sum of squares in two 64-bit integers: Hi·10¹⁸ + Lo.
const squaresBase = 1_000_000_000_000_000_000

// Squares is an exact sum of squared amounts, in ten-thousandths squared (10⁻⁸ of the currency
// squared), as Hi·10¹⁸ + Lo with 0 <= Lo < 10¹⁸: one 64-bit integer cannot hold the square
// of a single large amount. The all-time totals keep the sum of the squared revenue of every
// conversion, which the experiment's revenue test needs for the variance (metrics/experiment).
type Squares struct {
	Hi, Lo int64
}

// maxSquaredE4 is the largest amount SquareE4 squares exactly (10¹⁸ ten-thousandths, the
// bound of metrics.max_event_amount).
const maxSquaredE4 = squaresBase

// SquareE4 is x² for an amount x in ten-thousandths. An amount outside 0..10¹⁸ (which event
// validation never lets through) gives a sum no addition accepts (ErrTotalOutOfRange).
func SquareE4(x int64) Squares {
	if x < 0 || x > maxSquaredE4 {
		return Squares{Hi: math.MaxInt64, Lo: squaresBase - 1}
	}
	hi, lo := bits.Mul64(uint64(x), uint64(x))
	q, r := bits.Div64(hi, lo, squaresBase) // x² <= 10³⁶: hi < 10¹⁸, q <= 10¹⁸
	return Squares{Hi: int64(q), Lo: int64(r)}
}

// Add is s + o, and false when the sum leaves the range.
func (s Squares) Add(o Squares) (Squares, bool) {
	lo := s.Lo + o.Lo // both below 10¹⁸: no overflow
	carry := lo / squaresBase
	hi, ok1 := add64(s.Hi, o.Hi)
	hi, ok2 := add64(hi, carry)
	return Squares{Hi: hi, Lo: lo % squaresBase}, ok1 && ok2
}

// Float is the sum in the currency's units squared, as a float64 (for statistics).
func (s Squares) Float() float64 {
	return (float64(s.Hi)*squaresBase + float64(s.Lo)) / 1e8
}
