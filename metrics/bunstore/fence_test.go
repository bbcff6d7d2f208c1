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

// A fenced Commit lands only while its partition's lease is held under its fence: once another
// worker has taken the lease, the old tenure's batch is refused (ErrFenced) and writes nothing,
// even from the stored position (the new holder has not flushed yet), while the new tenure's
// lands.
func TestFaultCommitRefusesAnOldTenure(t *testing.T) {
	dbtest.Each(t, append(campaignstore.Schema(), Migrations()), func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		store := New(db)
		now := time.Now().UTC()
		key := metrics.Key{CampaignID: uuid.New(), Hour: metrics.HourOf(now), Channel: "EMAIL"}
		batch := func(from, to uint64, fence metrics.Fence) metrics.Batch {
			return metrics.Batch{Consumer: "c.p0", From: from, To: to, Processed: int64(to - from),
				Rollups: map[metrics.Key]metrics.Totals{key: {Impressions: int64(to - from)}}, Fence: &fence}
		}
		hold := func(l metrics.Lease) metrics.Fence {
			t.Helper()
			ok, err := l.Hold(ctx)
			require.NoError(t, err)
			require.True(t, ok)
			f, ok := l.Fence()
			require.True(t, ok)
			return f
		}

		old := store.Lease("c.p0", 300*time.Millisecond)
		fOld := hold(old)
		require.NoError(t, store.Commit(ctx, batch(0, 10, fOld), now), "the holder's batch lands")

		time.Sleep(400 * time.Millisecond) // the old holder stalls past its lease
		fNew := hold(store.Lease("c.p0", time.Minute))
		assert.Equal(t, fOld.Token+1, fNew.Token, "the new holder's token follows")
		err := store.Commit(ctx, batch(10, 20, fOld), now)
		require.ErrorIs(t, err, metrics.ErrFenced, "the old tenure's batch is refused")
		ok, err := old.Confirm(ctx, fOld, 0)
		require.NoError(t, err)
		assert.False(t, ok, "and the old holder cannot resume it")

		pos, err := store.Position(ctx, "c.p0")
		require.NoError(t, err)
		assert.EqualValues(t, 10, pos, "the refused batch moved nothing")
		require.NoError(t, store.Commit(ctx, batch(10, 25, fNew), now), "the new holder's batch lands")
		rows, err := store.TotalRows(ctx, key.CampaignID)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		assert.EqualValues(t, 25, rows[0].Impressions, "the holders' batches, once each")
	})
}
