package metrics_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	campaignstore "github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/metrics/bunstore"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// exposureBatch is the batch of impressions (customer, variant, time) of one campaign, as the
// aggregator builds it.
func exposureBatch(cid uuid.UUID, imps []struct {
	customer, variant string
	at                time.Time
}) (map[metrics.Key]metrics.Totals, []metrics.Exposure) {
	var events []metrics.Parsed
	for i, im := range imps {
		events = append(events, metrics.ParsedEvent(uint64(i+1), metrics.Event{CampaignID: cid, Type: metrics.Impression,
			OccurredAt: im.at, Variant: im.variant, CustomerID: im.customer}))
	}
	rollups, _ := metrics.Aggregate(events)
	return rollups, metrics.ExposuresOf(events)
}

// Exposures are counted with the rollups, exactly once: a batch from a stale position (a
// redelivery, a worker that lost its partition) changes neither counts nor reach; a customer
// counts once in reach whatever the number of batches; the first and last exposure follow
// occurredAt even out of order; reach per variant and the audience pages read them back.
func TestExposuresAreCountedOnceWithTheRollups(t *testing.T) {
	dbtest.Each(t, append(campaignstore.Schema(), bunstore.Migrations()), func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		store := bunstore.New(db)
		cid, other := uuid.New(), uuid.New()
		t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
		type imp = struct {
			customer, variant string
			at                time.Time
		}
		first := []imp{{"ann", "A", t0}, {"bob", "B", t0.Add(time.Minute)}, {"ann", "A", t0.Add(2 * time.Hour)}, {"it's \"q\"", "A", t0}}
		rollups, exposures := exposureBatch(cid, first)
		require.Len(t, exposures, 3, "one exposure per customer")
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 0, To: 4, Rollups: rollups, Exposures: exposures}, t0))

		err := store.Commit(ctx, metrics.Batch{Consumer: "c", From: 0, To: 4, Rollups: rollups, Exposures: exposures}, t0)
		require.ErrorIs(t, err, metrics.ErrPositionMoved, "a redelivered batch must not land")

		// Ann again, earlier than she was first seen (out of order), and a new customer.
		second := []imp{{"ann", "A", t0.Add(-time.Hour)}, {"cat", "B", t0.Add(3 * time.Hour)}}
		rollups, exposures = exposureBatch(cid, second)
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 4, To: 6, Rollups: rollups, Exposures: exposures}, t0))
		rollups, exposures = exposureBatch(other, []imp{{"ann", "", t0}})
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 6, To: 7, Rollups: rollups, Exposures: exposures}, t0))

		got, err := store.Exposures(ctx, "ann", []uuid.UUID{cid, other, uuid.New()})
		require.NoError(t, err)
		require.Len(t, got, 2, "campaigns that never reached ann are absent")
		assert.EqualValues(t, 3, got[cid].Impressions)
		assert.True(t, got[cid].First.Equal(t0.Add(-time.Hour)), "first: %v", got[cid].First)
		assert.True(t, got[cid].Last.Equal(t0.Add(2*time.Hour)), "last: %v", got[cid].Last)
		assert.Equal(t, "A", got[cid].Variant)
		assert.EqualValues(t, 1, got[other].Impressions)

		byVariant, err := store.ReachByVariant(ctx, cid)
		require.NoError(t, err)
		assert.Equal(t, map[string]int64{"A": 2, "B": 2}, byVariant)
		totals, err := store.TotalRows(ctx, cid)
		require.NoError(t, err)
		var reach, impressions int64
		for _, r := range totals {
			reach, impressions = reach+r.Reach, impressions+r.Impressions
		}
		assert.EqualValues(t, 4, reach, "ann, bob, it's \"q\" and cat")
		assert.EqualValues(t, 6, impressions)

		var all []string
		after := ""
		for {
			page, err := store.Audience(ctx, cid, after, 3)
			require.NoError(t, err)
			for _, e := range page {
				all = append(all, e.CustomerID)
			}
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].CustomerID
		}
		assert.Equal(t, []string{"ann", "bob", "cat", "it's \"q\""}, all)
	})
}

// A flush of many customers at once (a full batch) lands in one pair of statements, and a
// second flush of the same customers adds to them without adding to reach.
func TestExposuresOfAFullBatch(t *testing.T) {
	dbtest.Each(t, append(campaignstore.Schema(), bunstore.Migrations()), func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		store := bunstore.New(db)
		cid := uuid.New()
		t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
		var events []metrics.Parsed
		for i := range 2000 {
			events = append(events, metrics.ParsedEvent(uint64(i+1), metrics.Event{CampaignID: cid, Type: metrics.Impression,
				OccurredAt: t0, CustomerID: fmt.Sprintf("c%04d", i%1500)}))
		}
		rollups, _ := metrics.Aggregate(events)
		exposures := metrics.ExposuresOf(events)
		require.Len(t, exposures, 1500)
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 0, To: 1, Rollups: rollups, Exposures: exposures}, t0))
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 1, To: 2, Rollups: rollups, Exposures: exposures}, t0))
		byVariant, err := store.ReachByVariant(ctx, cid)
		require.NoError(t, err)
		assert.Equal(t, map[string]int64{"": 1500}, byVariant)
		got, err := store.Exposures(ctx, "c0007", []uuid.UUID{cid})
		require.NoError(t, err)
		assert.EqualValues(t, 4, got[cid].Impressions, "two in each batch")
	})
}
