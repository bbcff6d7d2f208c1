package bunstore

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	campaignstore "github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// allTime is a range of hours that holds every hour the tests write.
func allTime() (from, to time.Time) {
	return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
}

// levelSums is what one campaign's rows at each level should hold.
type levelSums struct {
	hourly map[metrics.Key]metrics.Totals
	daily  map[dayKey]metrics.Totals
	totals map[groupKey]metrics.Totals
}

func newLevelSums() levelSums {
	return levelSums{hourly: map[metrics.Key]metrics.Totals{}, daily: map[dayKey]metrics.Totals{}, totals: map[groupKey]metrics.Totals{}}
}

// read reads a campaign's rows at every level back into sums.
func readLevels(t *testing.T, store *Store, cid uuid.UUID) levelSums {
	t.Helper()
	ctx := context.Background()
	got := newLevelSums()
	from, to := allTime()
	hourly, err := store.HourlyRows(ctx, cid, from, to)
	require.NoError(t, err)
	for _, r := range hourly {
		require.Equal(t, r.Hour, metrics.HourOf(r.Hour), "an hourly row starts on the hour, UTC")
		got.hourly[r.Key] = r.Totals
	}
	daily, err := store.Rows(ctx, cid, "", "")
	require.NoError(t, err)
	for _, r := range daily {
		got.daily[dayKey{CampaignID: r.CampaignID, Day: r.Hour.Format(time.DateOnly), Variant: r.Variant, Channel: r.Channel}] = r.Totals
	}
	totals, err := store.TotalRows(ctx, cid)
	require.NoError(t, err)
	for _, r := range totals {
		got.totals[groupKey{CampaignID: r.CampaignID, Variant: r.Variant, Channel: r.Channel}] = r.Totals
	}
	return got
}

// Random batches over two campaigns, awkward variant and channel strings, hours on both sides
// of midnight and keys given with minutes or in other zones, committed 40 times: the hourly
// rows hold exactly what was committed, the daily rows are their sums per UTC day, the totals
// rows their sums per variant and channel, and the spend row the campaign's money.
func TestCommitKeepsHourlyDailyAndTotalsConsistent(t *testing.T) {
	dbtest.Each(t, append(campaignstore.Schema(), Migrations()), func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		store := New(db)
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rnd := rand.New(rand.NewPCG(seed, 12))
		campaigns := []uuid.UUID{uuid.New(), uuid.New()}
		awkward := []string{"", "A", "NULL", `q"uote`, `back\slash`, "com,ma", "{brace}", "sp ace", "it's", "ü"}
		zones := []*time.Location{time.UTC, time.FixedZone("CEST", 2*3600), time.FixedZone("NST", -(3*3600 + 1800))}
		base := time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC)
		want := map[uuid.UUID]levelSums{}
		for _, c := range campaigns {
			want[c] = newLevelSums()
		}
		wantSpend := map[uuid.UUID]int64{}
		now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		var pos uint64
		for commit := range 40 {
			batch := map[metrics.Key]metrics.Totals{}
			for range 1 + rnd.IntN(60) {
				hour := base.Add(time.Duration(rnd.IntN(60)) * time.Hour)                          // 2.5 days
				at := hour.Add(time.Duration(rnd.IntN(3600)) * time.Second).In(zones[rnd.IntN(3)]) // within that hour
				k := metrics.Key{CampaignID: campaigns[rnd.IntN(2)], Hour: at, Variant: awkward[rnd.IntN(4)], Channel: awkward[rnd.IntN(len(awkward))]}
				add := metrics.Totals{Impressions: rnd.Int64N(1000), Clicks: rnd.Int64N(100), Conversions: rnd.Int64N(10),
					Bounces: rnd.Int64N(5), Unsubscribes: rnd.Int64N(3), RevenueE4: rnd.Int64N(1_000_0000), CostE4: rnd.Int64N(100_0000)}
				sum, err := batch[k].Add(add)
				require.NoError(t, err)
				batch[k] = sum

				w := want[k.CampaignID]
				h := metrics.HourOf(at)
				require.NoError(t, addTo(w.hourly, metrics.Key{CampaignID: k.CampaignID, Hour: h, Variant: k.Variant, Channel: k.Channel}, add))
				require.NoError(t, addTo(w.daily, dayKey{CampaignID: k.CampaignID, Day: h.Format(time.DateOnly), Variant: k.Variant, Channel: k.Channel}, add))
				require.NoError(t, addTo(w.totals, groupKey{CampaignID: k.CampaignID, Variant: k.Variant, Channel: k.Channel}, add))
				wantSpend[k.CampaignID] += add.CostE4
			}
			at := now.Add(time.Duration(commit) * time.Second)
			require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: pos, To: pos + 10, Rollups: batch, Processed: 10}, at))
			pos += 10
		}

		for _, cid := range campaigns {
			got := readLevels(t, store, cid)
			w := want[cid]
			assert.Equal(t, w.hourly, got.hourly, "hourly rows")
			assert.Equal(t, w.daily, got.daily, "daily rows")
			assert.Equal(t, w.totals, got.totals, "totals rows")

			// Each level is the sum of the one below, read back from the database.
			dailyOfHourly, totalsOfDaily := map[dayKey]metrics.Totals{}, map[groupKey]metrics.Totals{}
			for k, v := range got.hourly {
				require.NoError(t, addTo(dailyOfHourly, dayKey{CampaignID: k.CampaignID, Day: k.Hour.Format(time.DateOnly), Variant: k.Variant, Channel: k.Channel}, v))
			}
			for k, v := range got.daily {
				require.NoError(t, addTo(totalsOfDaily, groupKey{CampaignID: k.CampaignID, Variant: k.Variant, Channel: k.Channel}, v))
			}
			assert.Equal(t, got.daily, dailyOfHourly, "sum of hourly == daily")
			assert.Equal(t, got.totals, totalsOfDaily, "sum of daily == totals")
			assert.LessOrEqual(t, len(got.totals), 4*len(awkward), "at most variants x channels totals rows")
		}
		spend, _, err := store.SpendChangedSince(ctx, time.Time{})
		require.NoError(t, err)
		require.Len(t, spend, len(campaigns))
		for _, s := range spend {
			assert.Equal(t, metrics.FromE4(wantSpend[s.CampaignID]).String(), s.Amount.String(), "spend of %s", s.CampaignID)
		}
	})
}

// The new tables refuse a total beyond the 64-bit range as metrics_daily does: a flush that
// would take an all-time total or an hourly total out of range fails as refused data and
// writes nothing, and Refused names exactly the offending contributions.
func TestHourlyAndTotalsRefuseOverflow(t *testing.T) {
	dbtest.Each(t, append(campaignstore.Schema(), Migrations()), func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		store := New(db)
		now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		hour := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
		cid := uuid.New()
		_, err := db.NewInsert().Model(&totalsRow{CampaignID: cid, Variant: "A", Channel: "EMAIL",
			counters: counters{Impressions: math.MaxInt64 - 1}, UpdatedAt: now}).Exec(ctx)
		require.NoError(t, err)
		_, err = db.NewInsert().Model(&hourlyRow{CampaignID: cid, Hour: hour, Variant: "B",
			counters: counters{Clicks: math.MaxInt64}, UpdatedAt: now}).Exec(ctx)
		require.NoError(t, err)

		full := metrics.Key{CampaignID: cid, Hour: hour, Variant: "A", Channel: "EMAIL"}
		fullHour := metrics.Key{CampaignID: cid, Hour: hour, Variant: "B"}
		other := metrics.Key{CampaignID: cid, Hour: hour, Variant: "A"}
		for name, batch := range map[string]map[metrics.Key]metrics.Totals{
			"totals": {full: {Impressions: 2}, other: {Impressions: 1}},
			"hourly": {fullHour: {Clicks: 1}, other: {Impressions: 1}}, // no totals or daily row yet: only the hourly sum overflows
		} {
			err := store.Commit(ctx, metrics.Batch{Consumer: "c", From: 0, To: 5, Rollups: batch, Processed: 5}, now)
			require.Error(t, err, name)
			assert.True(t, sqlerr.IsDataRefused(err), "%s: refused data, not another error: %v", name, err)
		}
		pos, err := store.Position(ctx, "c")
		require.NoError(t, err)
		assert.Zero(t, pos, "nothing committed")
		daily, err := store.Rows(ctx, cid, "", "")
		require.NoError(t, err)
		assert.Empty(t, daily, "nothing written")

		items := []metrics.Contribution{
			{Key: other, Totals: metrics.Totals{Impressions: 1}},
			{Key: full, Totals: metrics.Totals{Impressions: 2}},    // MaxInt64-1 + 2: out of range
			{Key: full, Totals: metrics.Totals{Impressions: 1}},    // MaxInt64: fits
			{Key: fullHour, Totals: metrics.Totals{Clicks: 1}},     // the hourly row is full
			{Key: other, Totals: metrics.Totals{Impressions: 100}}, // fits
		}
		refused, err := store.Refused(ctx, items, now)
		require.NoError(t, err)
		var idx []int
		for _, r := range refused {
			idx = append(idx, r.Index)
			assert.True(t, sqlerr.IsDataRefused(r.Err), "%v", r.Err)
		}
		assert.Equal(t, []int{1, 3}, idx)
		totals, err := store.TotalRows(ctx, cid)
		require.NoError(t, err)
		require.Len(t, totals, 1, "a dry run writes nothing")
		assert.EqualValues(t, math.MaxInt64-1, totals[0].Impressions)
	})
}
