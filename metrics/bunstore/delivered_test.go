package bunstore

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	campaignstore "github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Delivered sums a campaign's totals over its variants and channels, for many campaigns in one
// read; SpendChangedSince gives the same sums for the campaigns changed after the watermark.
func TestDeliveredAndChangedSince(t *testing.T) {
	dbtest.Each(t, append(campaignstore.Schema(), Migrations()), func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		store := New(db)
		now := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
		a, b, quiet := uuid.New(), uuid.New(), uuid.New()
		h := metrics.HourOf(now)
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 0, To: 1, Rollups: map[metrics.Key]metrics.Totals{
			{CampaignID: a, Hour: h, Variant: "A", Channel: "EMAIL"}: {Impressions: 3, CostE4: 1_2345},
			{CampaignID: a, Hour: h, Variant: "B", Channel: ""}:      {Impressions: 4, CostE4: 10_0000},
			{CampaignID: b, Hour: h, Variant: "", Channel: "SMS"}:    {Impressions: 1},
		}}, now))
		got, err := store.Delivered(ctx, []uuid.UUID{a, b, quiet})
		require.NoError(t, err)
		assert.Equal(t, map[uuid.UUID]lifecycle.Delivered{
			a: {Impressions: 7, Spend: decimal.RequireFromString("11.2345")},
			b: {Impressions: 1, Spend: decimal.Zero},
		}, normalise(got))

		later := now.Add(10 * time.Minute)
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 1, To: 2, Rollups: map[metrics.Key]metrics.Totals{
			{CampaignID: b, Hour: metrics.HourOf(later), Variant: "", Channel: "SMS"}: {Impressions: 2, CostE4: 5_0000},
		}}, later))
		spends, next, err := store.SpendChangedSince(ctx, now.Add(5*time.Minute))
		require.NoError(t, err)
		require.Len(t, spends, 1, "only b changed after the watermark (less the lookback)")
		assert.Equal(t, b, spends[0].CampaignID)
		assert.EqualValues(t, 3, spends[0].Impressions)
		assert.True(t, spends[0].Amount.Equal(decimal.NewFromInt(5)))
		assert.True(t, next.Equal(later), "the watermark moves to the newest change: %v", next)
	})
}

func normalise(m map[uuid.UUID]lifecycle.Delivered) map[uuid.UUID]lifecycle.Delivered {
	for k, v := range m {
		v.Spend = decimal.RequireFromString(v.Spend.String())
		if v.Spend.IsZero() {
			v.Spend = decimal.Zero
		}
		m[k] = v
	}
	return m
}
