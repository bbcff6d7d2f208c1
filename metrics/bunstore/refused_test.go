package bunstore

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignstore "github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// campaignEnv is a database with one EUR campaign on EMAIL and the metrics store.
type campaignEnv struct {
	ctx      context.Context
	store    *Store
	campaign uuid.UUID
}

func newCampaignEnv(t *testing.T, target dbtest.Target) *campaignEnv {
	ctx := context.Background()
	db := dbtest.Open(t, target, append(campaignstore.Schema(), Migrations())...)
	svc := campaign.NewService(campaignstore.New(db), campaign.ServiceConfig{})
	c, err := svc.Create(ctx, campaign.UserID(uuid.New()), campaign.Input{
		Name: t.Name(), Type: campaign.TypePromotion, StartDate: time.Now().Add(time.Hour),
		Budget: campaign.MustMoney("100", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
	})
	require.NoError(t, err)
	return &campaignEnv{ctx: ctx, store: New(db), campaign: uuid.UUID(c.ID())}
}

// Refused finds every refused contribution in order, whatever their number and place, and
// writes nothing.
func TestRefusedFindsEachOffender(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		env := newCampaignEnv(t, target)
		now := time.Now().UTC()
		cid := env.campaign
		full := int64(math.MaxInt64 - 5)
		_, err := env.store.db.NewInsert().Model(&spendRow{CampaignID: cid, CostE4: full, UpdatedAt: now}).Exec(env.ctx)
		require.NoError(t, err)
		key := metrics.Key{CampaignID: cid, Hour: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)}
		items := make([]metrics.Contribution, 100)
		for i := range items {
			items[i] = metrics.Contribution{Key: key, Totals: metrics.Totals{Impressions: 1}}
		}
		// 3 fits (total MaxInt64-2); 7 does not, nor does the second 3; 2 fits exactly.
		items[10].Totals.CostE4 = 3
		items[40].Totals.CostE4 = 7
		items[41].Totals.CostE4 = 3
		items[99].Totals.CostE4 = 2
		refused, err := env.store.Refused(env.ctx, items, now)
		require.NoError(t, err)
		var idx []int
		for _, r := range refused {
			idx = append(idx, r.Index)
			assert.Error(t, r.Err)
		}
		assert.Equal(t, []int{40, 41}, idx)
		var cost int64
		require.NoError(t, env.store.db.NewSelect().Table("metrics_campaign_spend").Column("cost_e4").
			Where("campaign_id = ?", cid).Scan(env.ctx, &cost))
		assert.Equal(t, full, cost, "a dry run writes nothing")
	})
}
