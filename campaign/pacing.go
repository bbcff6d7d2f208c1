package campaign

import (
	"context"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Pacing is how a campaign spreads its spend (settings.pacing): a daily budget (period DAILY,
// DailyBudget) or the campaign's budget over its flight (period FLIGHT), spent as fast as
// traffic allows (ASAP), evenly over the period (EVEN) or faster at its start (FRONT_LOADED).
// A campaign without pacing settings is ASAP over its flight, as campaigns were before pacing.
//
// Days are judged in the pacing zone: Timezone when set, else the first scheduling rule's
// zone, else UTC (PacingZone).
type Pacing struct {
	Mode        lifecycle.PacingMode   `json:"mode"`
	Period      lifecycle.PacingPeriod `json:"period"`
	DailyBudget *Money                 `json:"dailyBudget,omitempty"`
	Timezone    string                 `json:"timezone,omitempty"`
}

// PacingZone is the IANA zone the campaign's days are judged in: settings.pacing.timezone,
// else the first scheduling rule's zone, else UTC.
func (s Settings) PacingZone() string {
	switch {
	case s.Pacing != nil && s.Pacing.Timezone != "":
		return s.Pacing.Timezone
	case len(s.SchedulingRules) > 0 && s.SchedulingRules[0].Timezone != "":
		return s.SchedulingRules[0].Timezone
	}
	return "UTC"
}

// PacingWith is the campaign's pacing as the delivery judges it (zones loaded through
// zones), nil when it paces nothing: no pacing settings, or ASAP over the flight (the
// campaign's budget is enforced as it always was). A zone this machine does not know
// falls back to UTC: the daily budget still holds, a few hours off.
func (c *Campaign) PacingWith(zones *lifecycle.Zones) *lifecycle.Pacing {
	p := c.PacingPlan(zones)
	if p.Mode == lifecycle.PacingASAP && p.Period != lifecycle.PeriodDaily {
		return nil
	}
	return &p
}

// PacingPlan is the campaign's pacing as the pacing index judges it, ASAP over the flight
// when it has no pacing settings. The budget paced over a flight is the smaller of the
// budget and the budget limit.
func (c *Campaign) PacingPlan(zones *lifecycle.Zones) lifecycle.Pacing {
	loc, err := zones.Load(c.settings.PacingZone())
	if err != nil {
		loc = time.UTC
	}
	out := lifecycle.Pacing{Mode: lifecycle.PacingASAP, Period: lifecycle.PeriodFlight, Location: loc,
		Start: c.startDate, End: c.EndDate()}
	if p := c.settings.Pacing; p != nil && p.Mode != "" {
		out.Mode, out.Period = p.Mode, p.Period
	}
	switch {
	case out.Period == lifecycle.PeriodDaily:
		if d := c.settings.Pacing.DailyBudget; d != nil {
			out.Budget = d.Amount
		}
	default:
		out.Budget = c.budget.Amount
		if l := c.settings.BudgetLimit; l != nil && l.Amount.LessThan(out.Budget) {
			out.Budget = l.Amount
		}
	}
	return out
}

func (p *Pacing) clone() *Pacing {
	if p == nil {
		return nil
	}
	out := *p
	if p.DailyBudget != nil {
		m := *p.DailyBudget
		out.DailyBudget = &m
	}
	return &out
}

func (v *validator) pacing(p Pacing, in Input) {
	if !slices.Contains(lifecycle.PacingModes(), p.Mode) {
		v.add("settings.pacing.mode", "must be one of %s", joinQuoted(lifecycle.PacingModes()))
	}
	switch p.Period {
	case lifecycle.PeriodDaily:
		if p.DailyBudget == nil {
			v.add("settings.pacing.dailyBudget", "is required when the period is DAILY")
			break
		}
		v.money("settings.pacing.dailyBudget", *p.DailyBudget)
		if p.DailyBudget.Currency != in.Budget.Currency {
			v.add("settings.pacing.dailyBudget.currency", "must be the budget's currency (%s)", in.Budget.Currency)
		} else if p.DailyBudget.Amount.GreaterThan(in.Budget.Amount) {
			v.add("settings.pacing.dailyBudget.amount", "must not exceed the budget")
		}
	case lifecycle.PeriodFlight:
		if p.DailyBudget != nil {
			v.add("settings.pacing.dailyBudget", "must be absent when the period is FLIGHT (the flight's budget is the campaign's budget)")
		}
		if p.Mode != lifecycle.PacingASAP && in.EndDate == nil {
			v.add("settings.pacing.mode", "%s over the flight needs an endDate", p.Mode)
		}
	default:
		v.add("settings.pacing.period", "must be one of %s", joinQuoted(lifecycle.PacingPeriods()))
	}
	if p.Timezone != "" {
		if _, err := time.LoadLocation(p.Timezone); err != nil || p.Timezone == "Local" {
			v.add("settings.pacing.timezone", "must be an IANA time zone such as Europe/Paris")
		}
	}
}

// PacingIndex is where one serving campaign stands against its pacing plan.
type PacingIndex struct {
	Campaign *View
	Pacing   lifecycle.Pacing
	Spent    decimal.Decimal // in the current period
	Planned  decimal.Decimal // by now
	Index    float64         // (spent / budget) / planned share
}

// PacingIndexes returns the pacing index of every live campaign that is SERVING at now and
// paces its spend (EVEN or FRONT_LOADED), in three queries whatever their number: the
// Prometheus gauge's series and what the pacing alerts judge. ASAP campaigns are left out,
// which keeps the gauge's series to the campaigns someone asked to pace.
func (s *Service) PacingIndexes(ctx context.Context) ([]PacingIndex, error) {
	now := s.clock()
	live, err := s.Live(ctx, "", true, now)
	if err != nil {
		return nil, err
	}
	var out []PacingIndex
	for _, v := range live {
		d := v.Delivery()
		if d.Pacing == nil || d.Pacing.Mode == lifecycle.PacingASAP || v.Serving(now) != lifecycle.ServingServing {
			continue
		}
		spent := d.PeriodSpent()
		i, ok := d.Pacing.Index(spent, now)
		if !ok {
			continue
		}
		out = append(out, PacingIndex{Campaign: v, Pacing: *d.Pacing, Spent: spent, Planned: d.Pacing.Planned(now), Index: i})
	}
	return out, nil
}
