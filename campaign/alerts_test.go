package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Each alert is recorded once per crossing and re-armed when its condition clears (the daily
// budget's at the next day), in both dialects, through the real store: the alert's state and
// its event are written together.
func TestAlertsFireOncePerCrossing(t *testing.T) {
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		clock := time.Date(2027, 4, 15, 0, 30, 0, 0, time.UTC)
		now := func() time.Time { return clock }
		spend := &goldenTotals{spend: decimal.Zero}
		totals := deliveredFunc(func() decimal.Decimal { return spend.spend })
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{Now: now, Delivery: totals, PeriodSpend: totals})
		in := campaigntest.GoldenInput()
		in.Name, in.EndDate, in.StartDate = "Alerts", nil, time.Date(2027, 4, 15, 1, 0, 0, 0, time.UTC)
		in.Settings.SchedulingRules = nil
		daily := campaign.MustMoney("200.00", "EUR")
		in.Settings.Pacing = &campaign.Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodDaily, DailyBudget: &daily, Timezone: "Europe/Paris"}
		ctx := context.Background()
		c, err := svc.Create(ctx, alice, in)
		require.NoError(t, err)
		_, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
		require.NoError(t, err)
		ctr := goldenCTR{{CampaignID: uuid.UUID(c.ID()), HourImpressions: 2000, HourClicks: 10, TrailingImpressions: 50000, TrailingClicks: 1000}}
		check := func(want campaign.AlertStats, why string) {
			t.Helper()
			st, err := svc.CheckAlerts(ctx, campaign.AlertConfig{}, ctr)
			require.NoError(t, err)
			assert.Equal(t, want, st, why)
		}
		count := func(typ string) int {
			t.Helper()
			evs, err := svc.Events(ctx, c.ID(), []string{typ}, 0, 100)
			require.NoError(t, err)
			return len(evs)
		}

		clock = time.Date(2027, 4, 15, 12, 0, 0, 0, time.UTC) // 14:00 in Paris
		spend.spend = decimal.RequireFromString("100")        // on plan (104.76), 50% of the day's budget
		check(campaign.AlertStats{Fired: 1}, "only the CTR collapse")
		spend.spend = decimal.RequireFromString("190")
		check(campaign.AlertStats{Fired: 2}, "42.6% ahead, and 95% of the day's budget")
		check(campaign.AlertStats{}, "still firing: nothing new")
		ctr[0].HourClicks = 40 // the CTR recovered (2%)
		spend.spend = decimal.RequireFromString("190")
		clock = time.Date(2027, 4, 15, 20, 0, 0, 0, time.UTC) // 22:00: 90.5% planned, 4.5% off
		check(campaign.AlertStats{Rearmed: 2}, "pacing back within the band, the CTR back: re-armed")
		ctr[0].HourClicks = 5
		spend.spend = decimal.RequireFromString("199.99")
		clock = time.Date(2027, 4, 15, 13, 0, 0, 0, time.UTC)
		check(campaign.AlertStats{Fired: 2}, "the pacing and the CTR cross again; the daily budget's fired today")
		clock = time.Date(2027, 4, 16, 12, 0, 0, 0, time.UTC) // the next day, still 190 spent today
		spend.spend = decimal.RequireFromString("190")
		check(campaign.AlertStats{Fired: 2}, "a new day: the daily budget's and the new period's pacing alerts")

		assert.Equal(t, 3, count(campaign.EventPacingOffPlan))
		assert.Equal(t, 2, count(campaign.EventDailyBudgetNearlySpent))
		assert.Equal(t, 2, count(campaign.EventCTRCollapsed))
	})
}

// deliveredFunc reports the spend it reads as what every campaign delivered, all-time and
// today.
type deliveredFunc func() decimal.Decimal

func (f deliveredFunc) Delivered(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]lifecycle.Delivered, error) {
	return goldenTotals{spend: f()}.Delivered(ctx, ids)
}

func (f deliveredFunc) SpentSince(ctx context.Context, since map[uuid.UUID]time.Time) (map[uuid.UUID]decimal.Decimal, error) {
	return goldenTotals{spend: f()}.SpentSince(ctx, since)
}
