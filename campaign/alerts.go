package campaign

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// The alert events: domain events for notification consumers (the seed's "campaign status
// updates" and third-party notifications), recorded by the automation's tick (CheckAlerts)
// through the outbox like every event, once per crossing of their threshold; an alert is
// re-armed when its condition clears (a daily one also at the next day). They change nothing
// of the campaign: their version is the campaign's version when it was judged.
const (
	// EventPacingOffPlan: a campaign paced EVEN or FRONT_LOADED is further from its plan
	// than the configured band, ahead or behind (PacingOffPlanV1).
	EventPacingOffPlan = "CampaignPacingOffPlan"
	// EventDailyBudgetNearlySpent: today's spend reached the configured share of the daily
	// budget (DailyBudgetNearlySpentV1); once a day at most.
	EventDailyBudgetNearlySpent = "CampaignDailyBudgetNearlySpent"
	// EventCTRCollapsed: the last hour's CTR fell below the configured share of the trailing
	// seven days' CTR (CTRCollapsedV1).
	EventCTRCollapsed = "CampaignCTRCollapsed"
)

// The alert kinds (campaign_alerts.kind) are the event types.

// AlertState is the state one alert of a campaign is to be in: firing (for Period: a pacing
// period, a day), or re-armed.
type AlertState struct {
	CampaignID ID
	Kind       string // an alert event type
	Period     string
	Firing     bool
}

// AlertConfig tunes the alerts. Zero fields take the defaults noted.
type AlertConfig struct {
	// PacingBand is how far from its plan, as a share of the period's budget, a paced
	// campaign may be before CampaignPacingOffPlan (0.10).
	PacingBand decimal.Decimal
	// DailyBudgetAt is the share of the daily budget whose spend records
	// CampaignDailyBudgetNearlySpent (0.9).
	DailyBudgetAt decimal.Decimal
	// CTRCollapseRatio: CampaignCTRCollapsed when the last hour's CTR is below this share of
	// the trailing 7 days' CTR (0.5).
	CTRCollapseRatio decimal.Decimal
	// CTRMinImpressions is how many impressions the last hour and the trailing 7 days each need
	// before their CTRs are compared (1000).
	CTRMinImpressions int64
}

// CTRTrailing is the trailing window the last hour's CTR is compared with.
const CTRTrailing = 7 * 24 * time.Hour

func (c AlertConfig) withDefaults() AlertConfig {
	if !c.PacingBand.IsPositive() {
		c.PacingBand = decimal.RequireFromString("0.10")
	}
	if !c.DailyBudgetAt.IsPositive() {
		c.DailyBudgetAt = decimal.RequireFromString("0.9")
	}
	if !c.CTRCollapseRatio.IsPositive() {
		c.CTRCollapseRatio = decimal.RequireFromString("0.5")
	}
	if c.CTRMinImpressions <= 0 {
		c.CTRMinImpressions = 1000
	}
	return c
}

// CTRWindows reads campaigns' impressions and clicks per hour; the metrics capability's store
// implements it from its hourly rollups, in one query.
type CTRWindows interface {
	// CTRWindows returns, for every campaign with impressions in the hour that starts at
	// hour, that hour's impressions and clicks and those of the hours from trailingFrom up to
	// hour.
	CTRWindows(ctx context.Context, hour, trailingFrom time.Time) ([]CTRWindow, error)
}

// CTRWindow is a campaign's impressions and clicks in one hour and in the trailing hours
// before it, what the CTR-collapse alert judges.
type CTRWindow struct {
	CampaignID                          uuid.UUID
	Hour                                time.Time // the hour's start
	HourImpressions, HourClicks         int64
	TrailingImpressions, TrailingClicks int64
}

// PacingOffPlanV1 is the data of CampaignPacingOffPlan, version 1: the period, its budget,
// what it spent and what the plan had spent when the alert fired, how far off that is (a
// percentage of the budget, signed: positive ahead, negative behind) and the band it crossed.
type PacingOffPlanV1 struct {
	Mode             string    `json:"mode"`
	Period           string    `json:"period"`
	Timezone         string    `json:"timezone"`
	From             time.Time `json:"from"`
	To               time.Time `json:"to"`
	Budget           MoneyV1   `json:"budget"`
	Spent            MoneyV1   `json:"spent"`
	Planned          MoneyV1   `json:"planned"`
	Direction        string    `json:"direction"` // AHEAD or BEHIND
	DeviationPercent string    `json:"deviationPercent"`
	BandPercent      string    `json:"bandPercent"`
	PacingIndex      string    `json:"pacingIndex"`
}

// DailyBudgetNearlySpentV1 is the data of CampaignDailyBudgetNearlySpent, version 1: the day
// (in the pacing zone), today's spend, the daily budget, and the share spent and the
// threshold it reached, as percentages.
type DailyBudgetNearlySpentV1 struct {
	Day              string  `json:"day"`
	Timezone         string  `json:"timezone"`
	Spent            MoneyV1 `json:"spent"`
	DailyBudget      MoneyV1 `json:"dailyBudget"`
	SpentPercent     string  `json:"spentPercent"`
	ThresholdPercent string  `json:"thresholdPercent"`
}

// CTRCollapsedV1 is the data of CampaignCTRCollapsed, version 1: the hour judged (UTC, its
// start), its impressions, clicks and CTR, the trailing window's, and the ratio of the two
// CTRs against the threshold. CTRs are percentages with two decimals.
type CTRCollapsedV1 struct {
	Hour                time.Time `json:"hour"`
	HourImpressions     int64     `json:"hourImpressions"`
	HourClicks          int64     `json:"hourClicks"`
	HourCTR             string    `json:"hourCtr"`
	TrailingFrom        time.Time `json:"trailingFrom"`
	TrailingImpressions int64     `json:"trailingImpressions"`
	TrailingClicks      int64     `json:"trailingClicks"`
	TrailingCTR         string    `json:"trailingCtr"`
	Ratio               string    `json:"ratio"`
	Threshold           string    `json:"threshold"`
}

func (PacingOffPlanV1) schemaVersion() int          { return 1 }
func (DailyBudgetNearlySpentV1) schemaVersion() int { return 1 }
func (CTRCollapsedV1) schemaVersion() int           { return 1 }

// AlertStats counts what one CheckAlerts did.
type AlertStats struct {
	Fired, Rearmed int
}

// CheckAlerts judges every live ACTIVE campaign's alerts at the service's clock and records
// the alert events of those that cross their threshold, each once per crossing (see the
// alert events). ctr, when not nil, gives the hourly impressions and clicks the CTR
// collapse is judged on: the last complete UTC hour against the CTRTrailing before it. A
// failure on one campaign is logged and the others are judged.
func (s *Service) CheckAlerts(ctx context.Context, cfg AlertConfig, ctr CTRWindows) (AlertStats, error) {
	cfg = cfg.withDefaults()
	now := s.clock()
	live, err := s.Live(ctx, "", true, now)
	if err != nil {
		return AlertStats{}, fmt.Errorf("alerts: campaigns: %w", err)
	}
	var windows map[uuid.UUID]CTRWindow
	if ctr != nil {
		hour := now.Truncate(time.Hour).Add(-time.Hour)
		got, err := ctr.CTRWindows(ctx, hour, hour.Add(-CTRTrailing))
		if err != nil {
			return AlertStats{}, fmt.Errorf("alerts: ctr: %w", err)
		}
		windows = make(map[uuid.UUID]CTRWindow, len(got))
		for _, w := range got {
			windows[w.CampaignID] = w
		}
	}
	var st AlertStats
	for _, v := range live {
		for _, a := range judgeAlerts(v, cfg, windows, now) {
			changed, err := s.alert(ctx, v, a, now)
			switch {
			case err != nil:
				s.cfg.Logger.WarnContext(ctx, "alert not recorded", slog.String("campaign_id", v.ID().String()),
					slog.String("kind", a.state.Kind), slog.Any("error", err))
			case changed && a.state.Firing:
				st.Fired++
			case changed:
				st.Rearmed++
			}
		}
	}
	return st, nil
}

// judgedAlert is one alert's verdict: the state it is to be in and, firing, its data.
type judgedAlert struct {
	state AlertState
	data  Payload
}

// judgeAlerts is what each of v's alerts is at now. An alert whose condition cannot be judged
// (no pacing, too few impressions) gives no verdict: its state stays as it is.
func judgeAlerts(v *View, cfg AlertConfig, windows map[uuid.UUID]CTRWindow, now time.Time) []judgedAlert {
	var out []judgedAlert
	d := v.Delivery()
	serving := v.Serving(now)
	cur, zone := v.Budget().Currency, v.Settings().PacingZone()
	money := func(a decimal.Decimal) MoneyV1 {
		m := Money{Amount: a, Currency: cur}
		return MoneyV1{Amount: a.StringFixed(m.Scale()), Currency: cur}
	}
	if p := d.Pacing; p != nil && p.Mode != lifecycle.PacingASAP && serving == lifecycle.ServingServing {
		if from, to, ok := p.Window(now); ok && p.Budget.IsPositive() {
			spent, planned := d.PeriodSpent(), p.Planned(now)
			dev := spent.Sub(planned).Div(p.Budget)
			st := AlertState{CampaignID: v.ID(), Kind: EventPacingOffPlan, Period: from.Format(time.RFC3339), Firing: dev.Abs().GreaterThan(cfg.PacingBand)}
			data := PacingOffPlanV1{Mode: string(p.Mode), Period: string(p.Period), Timezone: zone, From: from, To: to,
				Budget: money(p.Budget), Spent: money(spent), Planned: money(planned), Direction: "AHEAD",
				DeviationPercent: dev.Shift(2).StringFixed(2), BandPercent: cfg.PacingBand.Shift(2).StringFixed(2)}
			if dev.IsNegative() {
				data.Direction = "BEHIND"
			}
			if i, ok := p.Index(spent, now); ok {
				data.PacingIndex = decimal.NewFromFloat(i).StringFixed(3)
			}
			out = append(out, judgedAlert{state: st, data: data})
		}
	}
	if p := d.Pacing; p != nil && p.Period == lifecycle.PeriodDaily && p.Budget.IsPositive() &&
		(serving == lifecycle.ServingServing || serving == lifecycle.ServingBudgetExhausted) {
		if _, _, ok := p.Window(now); ok {
			spent := d.Delivered.PeriodSpend
			share := spent.Div(p.Budget)
			day := now.In(p.Location).Format(time.DateOnly)
			if share.GreaterThanOrEqual(cfg.DailyBudgetAt) {
				out = append(out, judgedAlert{
					state: AlertState{CampaignID: v.ID(), Kind: EventDailyBudgetNearlySpent, Period: day, Firing: true},
					data: DailyBudgetNearlySpentV1{Day: day, Timezone: zone, Spent: money(spent), DailyBudget: money(p.Budget),
						SpentPercent: share.Shift(2).StringFixed(2), ThresholdPercent: cfg.DailyBudgetAt.Shift(2).StringFixed(2)},
				})
			}
		}
	}
	if w, ok := windows[uuid.UUID(v.ID())]; ok && w.HourImpressions >= cfg.CTRMinImpressions &&
		w.TrailingImpressions >= cfg.CTRMinImpressions && w.TrailingClicks > 0 {
		hourCTR := decimal.NewFromInt(w.HourClicks).Div(decimal.NewFromInt(w.HourImpressions))
		trailingCTR := decimal.NewFromInt(w.TrailingClicks).Div(decimal.NewFromInt(w.TrailingImpressions))
		ratio := hourCTR.Div(trailingCTR)
		out = append(out, judgedAlert{
			state: AlertState{CampaignID: v.ID(), Kind: EventCTRCollapsed, Firing: ratio.LessThan(cfg.CTRCollapseRatio)},
			data: CTRCollapsedV1{Hour: w.Hour, HourImpressions: w.HourImpressions, HourClicks: w.HourClicks,
				HourCTR: hourCTR.Shift(2).StringFixed(2), TrailingFrom: w.Hour.Add(-CTRTrailing),
				TrailingImpressions: w.TrailingImpressions, TrailingClicks: w.TrailingClicks,
				TrailingCTR: trailingCTR.Shift(2).StringFixed(2), Ratio: ratio.StringFixed(2),
				Threshold: cfg.CTRCollapseRatio.StringFixed(2)},
		})
	}
	return out
}

// alert records a's state for v, with its event when it fires, and tells the relay; changed
// reports whether it fired or re-armed the alert.
func (s *Service) alert(ctx context.Context, v *View, a judgedAlert, now time.Time) (bool, error) {
	var e *Event
	if a.state.Firing {
		ev, err := newEvent(ctx, v.Campaign, a.state.Kind, a.data, nil, now, uuid.Must(uuid.NewV7()))
		if err != nil {
			return false, err
		}
		e = &ev
	}
	changed, err := s.store.Alert(ctx, a.state, e)
	if err != nil {
		return false, err
	}
	if changed && e != nil && !s.store.Joined() {
		s.announce([]loggedEvent{{ID: e.ID, Type: e.Type, Campaign: v.ID()}})
	}
	return changed, nil
}
