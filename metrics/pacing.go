package metrics

import (
	"math"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// PacingReport is where a campaign stands against its pacing plan in the current pacing
// period (GET /campaigns/{id}, /metrics and /pacing): today in its pacing zone for a daily
// budget, its flight otherwise.
type PacingReport struct {
	Mode     string `json:"mode"`
	Period   string `json:"period"`
	Timezone string `json:"timezone"`
	// From and To bound the current period; null when there is none (outside the flight, or a
	// flight without an end date).
	From *time.Time `json:"from"`
	To   *time.Time `json:"to"`
	// Budget is the period's budget; Spent what the period spent; Planned what the plan has
	// spent by now.
	Budget  Amount `json:"budget"`
	Spent   Amount `json:"spent"`
	Planned Amount `json:"planned"`
	// PacingIndex is (spent / budget) / planned share: 1 on plan, above 1 ahead; for EVEN and
	// ASAP (spend to date / budget) / (elapsed / period). Null when undefined.
	PacingIndex *float64 `json:"pacingIndex"`
	// ServedShare is the share of requests the pacing throttle serves now (1: no throttling).
	ServedShare float64 `json:"servedShare"`
	// Series is the period's cumulative spend against the plan, hour by hour (at each UTC
	// midnight for a period longer than MaxPacingHours), ending at now; only GET .../metrics
	// gives it.
	Series []PacingPoint `json:"series,omitempty"`
}

// PacingPoint is one point of a pacing chart: cumulative spend and plan at At, as decimal
// strings in the budget's currency.
type PacingPoint struct {
	At      time.Time `json:"at"`
	Spent   string    `json:"spent"`
	Planned string    `json:"planned"`
}

// MaxPacingHours is the longest period charted hour by hour (two days: a daily budget's day);
// a longer one, a flight, is charted day by day, so that a chart stays a few hundred points.
const MaxPacingHours = 48

// NewPacingReport is where c, which spent spent in its current pacing period, stands at now.
func NewPacingReport(c *campaign.View, spent decimal.Decimal, now time.Time) PacingReport {
	p, cur := c.PacingPlan(), c.Budget().Currency
	r := PacingReport{Mode: string(p.Mode), Period: string(p.Period), Timezone: c.Settings().PacingZone(),
		Budget: Amount{Value: p.Budget, Currency: cur}, Spent: Amount{Value: spent.Round(minorUnit(cur)), Currency: cur},
		Planned: Amount{Value: decimal.Zero, Currency: cur}, ServedShare: 1}
	from, to, ok := p.Window(now)
	if !ok {
		return r
	}
	r.From, r.To = &from, &to
	r.Planned.Value = p.Planned(now).Round(minorUnit(cur))
	if i, ok := p.Index(spent, now); ok {
		i = math.Round(i*1000) / 1000
		r.PacingIndex = &i
	}
	if d := c.Delivery(); d.Pacing != nil {
		r.ServedShare = math.Round(p.Probability(spent, now)*1000) / 1000
	}
	return r
}

// WithSeries adds the chart of the period to r, from the campaign's rollups rows (hourly, or
// daily for a period longer than MaxPacingHours) of the period so far.
func (r PacingReport) WithSeries(p lifecycle.Pacing, rows []Row, now time.Time) PacingReport {
	r.Series = []PacingPoint{}
	if r.From == nil {
		return r
	}
	from, to := *r.From, *r.To
	step := time.Hour
	if to.Sub(from) > MaxPacingHours*time.Hour {
		step = 24 * time.Hour
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Hour.Before(rows[j].Hour) })
	cum, i := int64(0), 0
	point := func(at time.Time) {
		for i < len(rows) && rows[i].Hour.Before(at) {
			if !rows[i].Hour.Before(from.Truncate(step)) {
				cum += rows[i].CostE4
			}
			i++
		}
		r.Series = append(r.Series, PacingPoint{At: at, Spent: FromE4(cum).StringFixed(4),
			Planned: p.Planned(at).StringFixed(4)})
	}
	point(from)
	for at := from.Truncate(step).Add(step); at.Before(now) && at.Before(to); at = at.Add(step) {
		point(at)
	}
	if now.After(from) {
		point(now)
	}
	return r
}
