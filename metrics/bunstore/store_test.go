package bunstore

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	campaignstore "github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Commit adds counters (x = x + excluded.x) for many keys at once, keeps keys whose text needs
// quoting intact (PostgreSQL sends them as array literals), and refuses a batch whose starting
// position is not the stored one, without touching the counters.
func TestCommitAddsRollupsExactly(t *testing.T) {
	dbtest.Each(t, append(campaignstore.Schema(), Migrations()), func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		store := New(db)
		now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
		cid := uuid.New()
		awkward := []string{"", "A", "NULL", `q"uote`, `back\slash`, "com,ma", "{brace}", "sp ace", "it's", "ü"}
		batch := func(scale int64) map[metrics.Key]metrics.Totals {
			out := map[metrics.Key]metrics.Totals{}
			for i, v := range awkward {
				for d := range 3 {
					k := metrics.Key{CampaignID: cid, Hour: time.Date(2026, 11, 20+d, 7*d+1, 0, 0, 0, time.UTC), Variant: v, Channel: awkward[(i+d)%len(awkward)]}
					out[k] = metrics.Totals{Impressions: scale * int64(i+1), Clicks: scale, Conversions: scale * int64(d),
						Bounces: 1, Unsubscribes: 2, RevenueE4: scale * 12_3456, CostE4: scale * 7_0001}
				}
			}
			// Many rows in one statement, as a real flush has.
			for i := range 2000 {
				out[metrics.Key{CampaignID: uuid.New(), Hour: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), Variant: "B", Channel: "EMAIL"}] = metrics.Totals{Impressions: int64(i)}
			}
			return out
		}
		first, second := batch(1), batch(10)
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 0, To: 100, Rollups: first, Processed: 5}, now))
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 100, To: 250, Rollups: second, Processed: 7}, now.Add(time.Minute)))
		err := store.Commit(ctx, metrics.Batch{Consumer: "c", From: 100, To: 300, Rollups: second}, now.Add(2*time.Minute))
		require.ErrorIs(t, err, metrics.ErrPositionMoved, "a batch from a stale position must not land")

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

		// The totals' hot read (pgx's own rows on PostgreSQL) reads what Bun's select reads
		// over a transaction.
		dbtest.RequireNullsInPointers[totalsRow](t, db)
		hot, err := store.TotalRows(ctx, cid)
		require.NoError(t, err)
		require.NotEmpty(t, hot)
		require.NoError(t, db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			viaBun, err := New(tx).TotalRows(ctx, cid)
			require.NoError(t, err)
			assert.Equal(t, viaBun, hot)
			return nil
		}))
	})
}
