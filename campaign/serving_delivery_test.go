package campaign_test

import (
	"context"
	"fmt"
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

// fixedTotals is what the metrics totals would say; the wired app uses the metrics store
// (platform/app tests it end to end).
type fixedTotals struct {
	delivered map[uuid.UUID]lifecycle.Delivered
	calls     int
}

func (f *fixedTotals) Delivered(_ context.Context, ids []uuid.UUID) (map[uuid.UUID]lifecycle.Delivered, error) {
	f.calls++
	out := map[uuid.UUID]lifecycle.Delivered{}
	for _, id := range ids {
		if d, ok := f.delivered[id]; ok {
			out[id] = d
		}
	}
	return out, nil
}

// A campaign whose impressions reached its cap, or whose spend reached its budget or budget
// limit, is CAP_REACHED or BUDGET_EXHAUSTED on GET and in the list filter at once, before the
// automation acts; refined pages hold exactly `limit` campaigns and the cursor walks them all.
func TestServingHoldsFromDeliveredTotals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		ctx := context.Background()
		now := base.Add(time.Hour) // a Monday, 11:00 Paris: inside the fixture's window
		totals := &fixedTotals{delivered: map[uuid.UUID]lifecycle.Delivered{}}
		repo := bunstore.New(db)
		svc := campaign.NewService(repo, campaign.ServiceConfig{Now: func() time.Time { return now }, Delivery: totals})
		want := map[lifecycle.ServingStatus][]campaign.ID{}
		for i := range 21 {
			c := campaigntest.Fixture(fmt.Sprintf("Delivery %02d", i), base.Add(-time.Duration(21-i)*time.Hour),
				func(p *campaign.RehydrateParams) { p.Status = lifecycle.StatusActive })
			var d lifecycle.Delivered
			var status lifecycle.ServingStatus
			switch i % 3 {
			case 0: // under every limit
				d, status = lifecycle.Delivered{Impressions: 4999, Spend: decimal.RequireFromString("899.99")}, lifecycle.ServingServing
			case 1: // 5000 impressions: the cap
				d, status = lifecycle.Delivered{Impressions: 5000}, lifecycle.ServingCapReached
			case 2: // 900.00 spent: the budget limit (the budget is 1000.50)
				d, status = lifecycle.Delivered{Spend: decimal.RequireFromString("900.00")}, lifecycle.ServingBudgetExhausted
			}
			require.NoError(t, repo.Create(ctx, c, campaigntest.Created(c)))
			totals.delivered[uuid.UUID(c.ID())] = d
			want[status] = append(want[status], c.ID())

			got, err := svc.Get(ctx, c.ID())
			require.NoError(t, err)
			assert.Equal(t, status, got.Serving(now), "GET of %s", c.Name())
			assert.Equal(t, d.Impressions, got.Delivered().Impressions)
		}
		for status, ids := range want {
			var listed []campaign.ID
			f := campaign.Filter{Serving: []lifecycle.ServingStatus{status}, Now: now, Limit: 3, Sort: campaign.SortCreatedAt}
			for pages := 0; ; pages++ {
				require.Less(t, pages, 10)
				page, next, err := svc.List(ctx, f)
				require.NoError(t, err)
				for _, c := range page {
					listed = append(listed, c.ID())
					assert.Equal(t, status, c.Serving(now))
				}
				if next == nil {
					break
				}
				assert.Len(t, page, 3, "a page before the last is full")
				f.After = next
			}
			assert.ElementsMatch(t, ids, listed, "servingStatus=%s", status)
		}
		// Without totals (nothing delivered), all 21 serve.
		blind := campaign.NewService(repo, campaign.ServiceConfig{Now: func() time.Time { return now }})
		page, _, err := blind.List(ctx, campaign.Filter{Serving: []lifecycle.ServingStatus{lifecycle.ServingServing}, Now: now, Limit: 100})
		require.NoError(t, err)
		assert.Len(t, page, 21)
		// Out of the window (Tuesday), every one is OUT_OF_SCHEDULE unless a budget or cap holds first.
		tuesday := now.Add(24 * time.Hour)
		page, _, err = blind.List(ctx, campaign.Filter{Serving: []lifecycle.ServingStatus{lifecycle.ServingOutOfSchedule}, Now: tuesday, Limit: 100})
		require.NoError(t, err)
		assert.Len(t, page, 21)
		for _, c := range page {
			assert.Equal(t, []lifecycle.Hold{lifecycle.HoldSchedule}, c.Delivery().Holds(tuesday))
		}
	})
}

// A campaign paused at its impression cap and resumed answers CAP_REACHED, as GET does: the
// transition's answer carries what the campaign delivered, not an empty count.
func TestResumeAnswersTheServingStatusOfWhatWasDelivered(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		ctx := context.Background()
		now := base.Add(time.Hour) // a Monday, 11:00 Paris: inside the fixture's window
		totals := &fixedTotals{delivered: map[uuid.UUID]lifecycle.Delivered{}}
		repo := bunstore.New(db)
		svc := campaign.NewService(repo, campaign.ServiceConfig{Now: func() time.Time { return now }, Delivery: totals})
		c := campaigntest.Fixture("Resumed at cap", base.Add(-time.Hour), func(p *campaign.RehydrateParams) {
			p.Status, p.StopCode = lifecycle.StatusPaused, lifecycle.StopCapReached
		})
		require.NoError(t, repo.Create(ctx, c, campaigntest.Created(c)))
		totals.delivered[uuid.UUID(c.ID())] = lifecycle.Delivered{Impressions: 5000}

		res, err := svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionResume})
		require.NoError(t, err)
		require.True(t, res.Applied)
		assert.Equal(t, lifecycle.StatusActive, res.Campaign.Status())
		assert.Equal(t, lifecycle.ServingCapReached, res.Campaign.Serving(now), "the answer")
		got, err := svc.Get(ctx, c.ID())
		require.NoError(t, err)
		assert.Equal(t, lifecycle.ServingCapReached, got.Serving(now), "GET")
	})
}
