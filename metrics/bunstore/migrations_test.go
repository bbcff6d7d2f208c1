package bunstore

import (
	"context"
	"io/fs"
	pathpkg "path"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	campaignstore "github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

// before is the metrics schema as it was before migration name: every migration older than it.
func before(t *testing.T, name string) migrate.Set {
	t.Helper()
	version := "" // the named migration's version: its file name's leading timestamp
	err := fs.WalkDir(Migrations().FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(path, name) {
			version, _, _ = strings.Cut(pathpkg.Base(path), "_")
		}
		return err
	})
	require.NoError(t, err)
	require.NotEmpty(t, version, "no migration named %s", name)
	m := fstest.MapFS{}
	err = fs.WalkDir(Migrations().FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if v, _, _ := strings.Cut(pathpkg.Base(path), "_"); v >= version {
			return nil
		}
		b, err := fs.ReadFile(Migrations().FS, path)
		m[path] = &fstest.MapFile{Data: b}
		return err
	})
	require.NoError(t, err)
	return migrate.Set{Name: "metrics", FS: m}
}

// Upgrading a database that already has daily rows fills the all-time totals with their sums
// (hourly rows cannot be rebuilt: they start empty), and the totals go on from there; the down
// migration drops both tables.
func TestTotalsMigrationBackfillsFromDailyRows(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		db := dbtest.Open(t, target, append(campaignstore.Schema(), before(t, "_hourly_and_totals"))...)
		cid := uuid.New()
		at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
		rows := []rollupRow{
			{CampaignID: cid, Day: "2026-11-27", Variant: "A", Channel: "EMAIL", counters: counters{Impressions: 10, Clicks: 2, CostE4: 1_5000}, UpdatedAt: at},
			{CampaignID: cid, Day: "2026-11-28", Variant: "A", Channel: "EMAIL", counters: counters{Impressions: 5, RevenueE4: 9_9900}, UpdatedAt: at.Add(time.Hour)},
			{CampaignID: cid, Day: "2026-11-28", Variant: "it's", Channel: "", counters: counters{Impressions: 1, Unsubscribes: 1}, UpdatedAt: at},
		}
		_, err := db.NewInsert().Model(&rows).ExcludeColumn("personalization", "reach").Exec(ctx)
		require.NoError(t, err)

		require.NoError(t, migrate.Up(ctx, db, Migrations()))
		store := New(db)
		totals, err := store.TotalRows(ctx, cid)
		require.NoError(t, err)
		require.Len(t, totals, 2)
		assert.Equal(t, metrics.Key{CampaignID: cid, Variant: "A", Channel: "EMAIL"}, totals[0].Key)
		assert.Equal(t, metrics.Totals{Impressions: 15, Clicks: 2, CostE4: 1_5000, RevenueE4: 9_9900}, totals[0].Totals)
		assert.True(t, totals[0].UpdatedAt.Equal(at.Add(time.Hour)), "the latest change: %v", totals[0].UpdatedAt)
		assert.Equal(t, metrics.Key{CampaignID: cid, Variant: "it's"}, totals[1].Key)
		assert.Equal(t, metrics.Totals{Impressions: 1, Unsubscribes: 1}, totals[1].Totals)
		from, to := allTime()
		hourly, err := store.HourlyRows(ctx, cid, from, to)
		require.NoError(t, err)
		assert.Empty(t, hourly, "hours cannot be rebuilt from days")

		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", To: 1, Rollups: map[metrics.Key]metrics.Totals{
			{CampaignID: cid, Hour: at, Variant: "A", Channel: "EMAIL"}: {Impressions: 1}}}, at.Add(2*time.Hour)))
		totals, err = store.TotalRows(ctx, cid)
		require.NoError(t, err)
		assert.EqualValues(t, 16, totals[0].Impressions, "counting goes on from the backfilled totals")

		rolled, err := migrate.Down(ctx, db, Migrations())
		require.NoError(t, err)
		assert.Equal(t, "metrics", rolled)
		_, err = store.TotalRows(ctx, cid)
		assert.Error(t, err, "metrics_totals is dropped")
		_, err = store.HourlyRows(ctx, cid, from, to)
		assert.Error(t, err, "metrics_hourly is dropped")
		daily, err := db.NewSelect().Table("metrics_daily").Where("campaign_id = ?", cid).Count(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 3, daily, "the daily rows stay")
	})
}

// The exposures migration keeps every rollup row (personalization ” and reach 0), lets a
// rollup key carry a personalization rule, and its down migration folds the personalization
// groups back into one row per key.
func TestExposuresMigrationKeepsRollupsAndFoldsBack(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		db := dbtest.Open(t, target, append(campaignstore.Schema(), before(t, "_exposures"))...)
		cid := uuid.New()
		at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
		_, err := db.ExecContext(ctx, `INSERT INTO metrics_totals (campaign_id, variant, channel, impressions, clicks, updated_at)
VALUES (?, 'A', 'EMAIL', 10, 2, ?)`, cid, at)
		require.NoError(t, err)

		require.NoError(t, migrate.Up(ctx, db, Migrations()))
		store := New(db)
		rule := uuid.NewString()
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", To: 1, Rollups: map[metrics.Key]metrics.Totals{
			{CampaignID: cid, Hour: at, Variant: "A", Channel: "EMAIL", Personalization: rule}: {Impressions: 3, Clicks: 1},
			{CampaignID: cid, Hour: at, Variant: "A", Channel: "EMAIL"}:                        {Impressions: 1}}}, at))
		totals, err := store.TotalRows(ctx, cid)
		require.NoError(t, err)
		require.Len(t, totals, 2)
		assert.Equal(t, metrics.Totals{Impressions: 11, Clicks: 2}, totals[0].Totals, "the old row goes on")
		assert.Equal(t, rule, totals[1].Personalization)
		assert.Equal(t, metrics.Totals{Impressions: 3, Clicks: 1}, totals[1].Totals)

		_, err = migrate.Down(ctx, db, Migrations())
		require.NoError(t, err)
		var imps []int64
		require.NoError(t, db.NewSelect().Table("metrics_totals").Column("impressions").Where("campaign_id = ?", cid).Scan(ctx, &imps))
		assert.Equal(t, []int64{14}, imps, "one row per key again, with every impression")
	})
}

// The revenue squares are exact beyond the 64-bit range (a carry from the low part to the high
// part, in SQL on both databases), and rows whose revenue was counted before the squares were
// kept say so.
func TestRevenueSquaresAreExactAndMarkedWhereUnknown(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		db := dbtest.Open(t, target, append(campaignstore.Schema(), before(t, "_revenue_squares"))...)
		old := uuid.New()
		at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		_, err := db.NewInsert().Model(&[]totalsRow{
			{CampaignID: old, Variant: "A", counters: counters{Conversions: 1, RevenueE4: 5_0000}, UpdatedAt: at},
			{CampaignID: old, Variant: "B", counters: counters{Impressions: 3}, UpdatedAt: at}}).
			ExcludeColumn("revenue_sq_hi", "revenue_sq_lo").Exec(ctx)
		require.NoError(t, err)
		require.NoError(t, migrate.Up(ctx, db, Migrations()))
		store := New(db)
		rows, err := store.TotalRows(ctx, old)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		assert.False(t, rows[0].SquaresKnown, "revenue counted before: its squares are unknown")
		assert.True(t, rows[1].SquaresKnown, "no revenue: nothing is missing")

		// 900,000,000.1234 squared is 810,000,000,222,120,000.015227... in the currency squared:
		// in ten-thousandths, 9,000,000,001,234² = 81,000,000,022,212,000,001,522,756 (by hand:
		// (9·10¹² + 1234)² = 81·10²⁴ + 2·9·10¹²·1234 + 1234²). Three of them, in two flushes.
		cid := uuid.New()
		big := metrics.SquareE4(9_000_000_001_234)
		assert.Equal(t, metrics.Squares{Hi: 81_000_000, Lo: 22_212_000_001_522_756}, big)
		key := metrics.Key{CampaignID: cid, Hour: at, Variant: "A"}
		two, ok := big.Add(big)
		require.True(t, ok)
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", To: 1, Rollups: map[metrics.Key]metrics.Totals{
			key: {Conversions: 2, RevenueE4: 18_000_000_002_468, RevenueSquares: two}}}, at))
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 1, To: 2, Rollups: map[metrics.Key]metrics.Totals{
			key: {Conversions: 1, RevenueE4: 9_000_000_001_234, RevenueSquares: big}}}, at))
		rows, err = store.TotalRows(ctx, cid)
		require.NoError(t, err)
		require.Len(t, rows, 1)
		// 3 × 81,000,000,022,212,000,001,522,756 = 243,000,000,066,636,000,004,568,268.
		assert.Equal(t, metrics.Squares{Hi: 243_000_000, Lo: 66_636_000_004_568_268}, rows[0].RevenueSquares)
		assert.True(t, rows[0].SquaresKnown)
	})
}

// metrics_totals loses its updated_at index (a flush then updates its rows in place); the
// automation still finds what a flush changed, through the spend rows, and the down migration
// puts the index back.
func TestTotalsUpdatedIndexIsDropped(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		db := dbtest.Open(t, target, append(campaignstore.Schema(), before(t, "_drop_totals_updated_idx"))...)
		hasIndex := func() bool {
			t.Helper()
			q := "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'metrics_totals_updated_idx'"
			if target.Name == "postgres" {
				q = "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'metrics_totals_updated_idx'"
			}
			var n int
			require.NoError(t, db.QueryRowContext(ctx, q).Scan(&n))
			return n > 0
		}
		require.True(t, hasIndex())
		require.NoError(t, migrate.Up(ctx, db, Migrations()))
		assert.False(t, hasIndex())

		store := New(db)
		at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		changed, quiet := uuid.New(), uuid.New()
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", To: 1, Rollups: map[metrics.Key]metrics.Totals{
			{CampaignID: quiet, Hour: at, Variant: "A", Channel: "EMAIL"}: {Impressions: 1}}}, at))
		later := at.Add(time.Hour)
		require.NoError(t, store.Commit(ctx, metrics.Batch{Consumer: "c", From: 1, To: 2, Rollups: map[metrics.Key]metrics.Totals{
			{CampaignID: changed, Hour: later, Variant: "A", Channel: "EMAIL"}: {Impressions: 2},
			{CampaignID: changed, Hour: later, Variant: "B", Channel: "SMS"}:   {Impressions: 3}}}, later))
		spends, next, err := store.SpendChangedSince(ctx, at.Add(30*time.Minute))
		require.NoError(t, err)
		require.Len(t, spends, 1)
		assert.Equal(t, changed, spends[0].CampaignID)
		assert.EqualValues(t, 5, spends[0].Impressions)
		assert.True(t, next.Equal(later), "watermark %v", next)

		_, err = migrate.Down(ctx, db, Migrations())
		require.NoError(t, err)
		assert.True(t, hasIndex(), "the down migration puts the index back")
	})
}
