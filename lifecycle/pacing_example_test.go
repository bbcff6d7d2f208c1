package lifecycle_test

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// A campaign paced EVEN on a daily budget of 100 EUR, judged in New York. At noon there the
// plan has spent 50 EUR: on or behind it every request is served; ahead of it the share of
// requests served falls linearly over PacingBand (2% of the budget), to none. Which customers
// are served is PacingDraw's: the same for one customer within a 15-minute slot.
func ExamplePacing_Probability() {
	ny, _ := time.LoadLocation("America/New_York")
	p := lifecycle.Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodDaily, Budget: decimal.NewFromInt(100),
		Location: ny, Start: time.Date(2026, 3, 1, 0, 0, 0, 0, ny)}
	noon := time.Date(2026, 3, 10, 12, 0, 0, 0, ny)
	fmt.Println("planned by noon:", p.Planned(noon))
	for _, spent := range []string{"40", "50", "51", "52"} {
		s := decimal.RequireFromString(spent)
		i, _ := p.Index(s, noon)
		fmt.Printf("spent %s: pacing index %.2f, served %.0f%%\n", spent, i, 100*p.Probability(s, noon))
	}
	// Output:
	// planned by noon: 50
	// spent 40: pacing index 0.80, served 100%
	// spent 50: pacing index 1.00, served 100%
	// spent 51: pacing index 1.02, served 50%
	// spent 52: pacing index 1.04, served 0%
}
