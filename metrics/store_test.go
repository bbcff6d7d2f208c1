package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Commit adds counters (x = x + excluded.x) for many keys at once, keeps keys whose text needs
// quoting intact (PostgreSQL sends them as array literals), and refuses a batch whose starting
// position is not the stored one, without touching the counters.
func TestCommitAddsRollupsExactly(t *testing.T) {
	dbtest.Each(t, append(bunstore.Schema(), Migrations()), func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		store := NewStore(db)
		now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
		cid := uuid.New()
		awkward := []string{"", "A", "NULL", `q"uote`, `back\slash`, "com,ma", "{brace}", "sp ace", "it's", "ü"}
		batch := func(scale int64) map[Key]Totals {
			out := map[Key]Totals{}
			for i, v := range awkward {
				for d := range 3 {
					k := Key{CampaignID: cid, Hour: time.Date(2026, 11, 20+d, 7*d+1, 0, 0, 0, time.UTC), Variant: v, Channel: awkward[(i+d)%len(awkward)]}
					out[k] = Totals{Impressions: scale * int64(i+1), Clicks: scale, Conversions: scale * int64(d),
						Bounces: 1, Unsubscribes: 2, RevenueE4: scale * 12_3456, CostE4: scale * 7_0001}
				}
			}
			// Many rows in one statement, as a real flush has.
			for i := range 2000 {
				out[Key{CampaignID: uuid.New(), Hour: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), Variant: "B", Channel: "EMAIL"}] = Totals{Impressions: int64(i)}
			}
			return out
		}
		first, second := batch(1), batch(10)
		require.NoError(t, store.Commit(ctx, Batch{Consumer: "c", From: 0, To: 100, Rollups: first, Processed: 5}, now))
		require.NoError(t, store.Commit(ctx, Batch{Consumer: "c", From: 100, To: 250, Rollups: second, Processed: 7}, now.Add(time.Minute)))
		err := store.Commit(ctx, Batch{Consumer: "c", From: 100, To: 300, Rollups: second}, now.Add(2*time.Minute))
		require.ErrorIs(t, err, ErrPositionMoved, "a batch from a stale position must not land")

		pos, err := store.Position(ctx, "c")
		require.NoError(t, err)
		assert.EqualValues(t, 250, pos)
		rows, err := store.HourlyRows(ctx, cid, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), now)
		require.NoError(t, err)
		require.Len(t, rows, len(awkward)*3)
		for _, r := range rows {
			want, err := first[r.Key].Add(second[r.Key])
			require.NoError(t, err)
			require.Contains(t, first, r.Key, "a key came back changed: %+v", r.Key)
			assert.Equal(t, want, r.Totals, "key %+v", r.Key)
			assert.True(t, r.UpdatedAt.Equal(now.Add(time.Minute)), "updated_at is the last commit's: %v", r.UpdatedAt)
		}
		var total, processed int64
		require.NoError(t, db.NewSelect().Table("metrics_daily").ColumnExpr("SUM(impressions)").Scan(ctx, &total))
		var want int64
		for k, v := range first {
			want += v.Impressions + second[k].Impressions
		}
		for k, v := range second {
			if _, ok := first[k]; !ok {
				want += v.Impressions
			}
		}
		assert.Equal(t, want, total)
		require.NoError(t, db.NewSelect().Table("metrics_consumer_positions").Column("processed").Scan(ctx, &processed))
		assert.EqualValues(t, 12, processed)
	})
}

// countingCampaigns answers GetMany from a fixed set and records what it was asked.
type countingCampaigns struct {
	known map[campaign.ID]*campaign.View
	asked [][]campaign.ID
}

func (c *countingCampaigns) GetMany(_ context.Context, ids []campaign.ID) (map[campaign.ID]*campaign.View, error) {
	c.asked = append(c.asked, ids)
	out := map[campaign.ID]*campaign.View{}
	for _, id := range ids {
		if x, ok := c.known[id]; ok {
			out[id] = x
		}
	}
	return out, nil
}

// stored is a campaign as the campaign store would return it.
func stored(t *testing.T, id campaign.ID, budget campaign.Money) *campaign.View {
	t.Helper()
	c, err := campaign.Rehydrate(campaign.RehydrateParams{
		ID: id, Status: lifecycle.StatusDraft, Type: campaign.TypePromotion, Budget: budget, Version: 1,
	})
	require.NoError(t, err)
	return campaign.NewView(c, lifecycle.Delivered{})
}

// A batch names the same campaigns many times: each is looked up once, then served from the
// cache until it expires; unknown campaigns are cached as such.
func TestTargetsLookEachCampaignUpOnce(t *testing.T) {
	a, b, unknown := campaign.ID(uuid.New()), campaign.ID(uuid.New()), campaign.ID(uuid.New())
	src := &countingCampaigns{known: map[campaign.ID]*campaign.View{
		a: stored(t, a, campaign.MustMoney("1", "EUR")), b: stored(t, b, campaign.MustMoney("1", "USD")),
	}}
	tg := newTargets(src, time.Minute)
	ids := []uuid.UUID{uuid.UUID(a), uuid.UUID(b), uuid.UUID(a), uuid.UUID(unknown), uuid.UUID(b), uuid.UUID(unknown)}
	now := time.Now()
	got, err := tg.get(context.Background(), ids, now)
	require.NoError(t, err)
	require.Len(t, src.asked, 1)
	assert.ElementsMatch(t, []campaign.ID{a, b, unknown}, src.asked[0], "each campaign once")
	assert.Len(t, got, 3)
	assert.Equal(t, "EUR", got[uuid.UUID(a)].target.Currency)
	assert.Equal(t, "USD", got[uuid.UUID(b)].target.Currency)
	assert.False(t, got[uuid.UUID(unknown)].found)

	_, err = tg.get(context.Background(), ids, now.Add(30*time.Second))
	require.NoError(t, err)
	assert.Len(t, src.asked, 1, "served from the cache")
	_, err = tg.get(context.Background(), ids[:1], now.Add(2*time.Minute))
	require.NoError(t, err)
	require.Len(t, src.asked, 2, "expired entries are looked up again")
	assert.Equal(t, []campaign.ID{a}, src.asked[1])
}
