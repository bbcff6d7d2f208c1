package bunstore

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignstore "github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// SpentSince sums each campaign's hourly spend from its own instant on (the hour holding it
// whole), and CTRWindows gives one hour's impressions and clicks beside the trailing hours',
// for the campaigns with impressions in that hour: in both dialects.
func TestSpentSinceAndCTRWindows(t *testing.T) {
	dbtest.Each(t, append(campaignstore.Schema(), Migrations()), func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		store := New(db)
		a, b, quiet := uuid.New(), uuid.New(), uuid.New()
		day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
		rollups := map[metrics.Key]metrics.Totals{}
		add := func(id uuid.UUID, at time.Time, channel string, imp, clicks, costE4 int64) {
			k := metrics.Key{CampaignID: id, Hour: metrics.HourOf(at), Channel: channel}
			tot := rollups[k]
			tot.Impressions, tot.Clicks, tot.CostE4 = tot.Impressions+imp, tot.Clicks+clicks, tot.CostE4+costE4
			rollups[k] = tot
		}
		add(a, day.Add(-time.Hour), "WEB", 100, 10, 50_0000)      // yesterday's last hour
		add(a, day.Add(30*time.Minute), "WEB", 1000, 20, 12_5000) // today
		add(a, day.Add(10*time.Hour), "EMAIL", 1000, 1, 7_2500)   // today, another channel: the last hour
		add(a, day.Add(-3*24*time.Hour), "WEB", 5000, 150, 0)     // the trailing week
		add(b, day.Add(2*time.Hour), "WEB", 10, 1, 1_0000)
		add(quiet, day.Add(-2*time.Hour), "WEB", 10, 1, 0) // nothing in the hour judged
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 0, To: 1, Rollups: rollups}, day.Add(11*time.Hour)))

		got, err := store.SpentSince(ctx, map[uuid.UUID]time.Time{a: day, b: day.Add(2*time.Hour + 30*time.Minute), quiet: day})
		require.NoError(t, err)
		assert.Equal(t, "19.75", got[a].String(), "today's two hours, not yesterday's")
		assert.Equal(t, "1", got[b].String(), "the hour holding the instant counts whole")
		_, ok := got[quiet]
		assert.False(t, ok, "nothing spent: absent")

		ws, err := store.CTRWindows(ctx, day.Add(10*time.Hour), day.Add(10*time.Hour-campaign.CTRTrailing))
		require.NoError(t, err)
		require.Len(t, ws, 1, "only campaigns with impressions in the hour judged")
		assert.Equal(t, campaign.CTRWindow{CampaignID: a, Hour: day.Add(10 * time.Hour), HourImpressions: 1000, HourClicks: 1,
			TrailingImpressions: 6100, TrailingClicks: 180}, ws[0])
	})
}
