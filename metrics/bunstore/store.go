// Package bunstore is the metrics Store over Bun, on PostgreSQL (pgdialect) or SQLite
// (sqlitedialect): the hourly, daily and all-time rollups, each campaign's spend, the
// per-customer exposures, the consumer positions, and the leases and group of the aggregation
// workers. Each flush of the Aggregator is one transaction of Commit. Migrations is its schema.
package bunstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations is the metrics schema, one folder per dialect. The set keeps its name,
// "metrics", so that databases migrated before keep their history.
func Migrations() migrate.Set {
	return migrate.Embedded("metrics", migrationFiles)
}

// Store keeps the rollups (hourly, daily and all-time), each campaign's spend, the customers'
// exposures, the consumer positions, and the leases and group of the aggregation workers.
type Store struct {
	db bun.IDB
	// totalsQuery is TotalRows' prepared statement, written once.
	totalsQuery string
}

// New returns a store over db.
func New(db bun.IDB) *Store {
	// revenue_sq_known is scan-only (never written): Columns leaves it out.
	return &Store{db: db, totalsQuery: "SELECT " + database.Columns[totalsRow](db) + ", revenue_sq_known" +
		" FROM metrics_totals WHERE campaign_id = $1 ORDER BY variant ASC, channel ASC, personalization ASC"}
}

// read runs fn, a read: over a *bun.DB again on a connection fault (database.Retry); over a
// transaction once, as a fault has broken the transaction.
func (s *Store) read(ctx context.Context, fn func(ctx context.Context) error) error {
	switch s.db.(type) {
	case bun.Tx, *bun.Tx:
		return fn(ctx)
	}
	return database.Retry(ctx, fn)
}

// The Store is what the Aggregator keeps, where the campaign service reads what campaigns
// delivered and a campaign export their totals, and the lifecycle automation's budget source.
var (
	_ metrics.Store           = (*Store)(nil)
	_ campaign.DeliveryTotals = (*Store)(nil)
	_ campaign.TotalsSource   = (*Store)(nil)
	_ automation.BudgetSource = (*Store)(nil)
)

// counterNames are the counters every rollup table sums, in the order of counterValues.
func counterNames() []string {
	return []string{"impressions", "clicks", "conversions", "bounces", "unsubscribes", "revenue_e4", "cost_e4", "reach"}
}

func counterValues(t metrics.Totals) [8]int64 {
	return [8]int64{t.Impressions, t.Clicks, t.Conversions, t.Bounces, t.Unsubscribes, t.RevenueE4, t.CostE4, t.Reach}
}

// counters are the counter columns of every rollup table; embedded, Bun maps them as the
// table's own columns.
type counters struct {
	Impressions  int64 `bun:"impressions"`
	Clicks       int64 `bun:"clicks"`
	Conversions  int64 `bun:"conversions"`
	Bounces      int64 `bun:"bounces"`
	Unsubscribes int64 `bun:"unsubscribes"`
	RevenueE4    int64 `bun:"revenue_e4"`
	CostE4       int64 `bun:"cost_e4"`
	Reach        int64 `bun:"reach"`
}

func countersOf(t metrics.Totals) counters {
	return counters{Impressions: t.Impressions, Clicks: t.Clicks, Conversions: t.Conversions, Bounces: t.Bounces,
		Unsubscribes: t.Unsubscribes, RevenueE4: t.RevenueE4, CostE4: t.CostE4, Reach: t.Reach}
}

func (c counters) totals() metrics.Totals {
	return metrics.Totals{Impressions: c.Impressions, Clicks: c.Clicks, Conversions: c.Conversions,
		Bounces: c.Bounces, Unsubscribes: c.Unsubscribes, RevenueE4: c.RevenueE4, CostE4: c.CostE4, Reach: c.Reach}
}

type hourlyRow struct {
	bun.BaseModel `bun:"table:metrics_hourly"`

	CampaignID uuid.UUID `bun:"campaign_id,pk"`
	Hour       time.Time `bun:"hour,pk"`
	Variant    string    `bun:"variant,pk"`
	Channel    string    `bun:"channel,pk"`
	// Personalization is the rule the events name ("" for none).
	Personalization string `bun:"personalization,pk"`
	counters
	UpdatedAt time.Time `bun:"updated_at"`
}

type rollupRow struct {
	bun.BaseModel `bun:"table:metrics_daily"`

	CampaignID uuid.UUID `bun:"campaign_id,pk"`
	Day        string    `bun:"day,pk"` // YYYY-MM-DD
	Variant    string    `bun:"variant,pk"`
	Channel    string    `bun:"channel,pk"`
	// Personalization is the rule the events name ("" for none).
	Personalization string `bun:"personalization,pk"`
	counters
	UpdatedAt time.Time `bun:"updated_at"`
}

type totalsRow struct {
	bun.BaseModel `bun:"table:metrics_totals"`

	CampaignID uuid.UUID `bun:"campaign_id,pk"`
	Variant    string    `bun:"variant,pk"`
	Channel    string    `bun:"channel,pk"`
	// Personalization is the rule the events name ("" for none).
	Personalization string `bun:"personalization,pk"`
	counters
	RevenueSqHi int64 `bun:"revenue_sq_hi"`
	RevenueSqLo int64 `bun:"revenue_sq_lo"`
	// RevenueSqKnown is false where revenue was counted before the squares were kept; rows
	// inserted since take the column's default (true).
	RevenueSqKnown bool      `bun:"revenue_sq_known,scanonly"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

type positionRow struct {
	bun.BaseModel `bun:"table:metrics_consumer_positions"`

	Consumer     string    `bun:"consumer,pk"`
	StreamSeq    uint64    `bun:"stream_seq"`
	Processed    int64     `bun:"processed"`
	DeadLettered int64     `bun:"dead_lettered"`
	UpdatedAt    time.Time `bun:"updated_at"`
}

// Position is where a consumer stands: every stream message at or below StreamSeq is counted.
func (s *Store) Position(ctx context.Context, consumer string) (uint64, error) {
	var row positionRow
	err := s.db.NewSelect().Model(&row).Where("consumer = ?", consumer).Scan(ctx)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return 0, fmt.Errorf("metrics: read position: %w", err)
	}
	return row.StreamSeq, nil
}

// Positions returns the stored positions of the consumers whose name starts with prefix.
func (s *Store) Positions(ctx context.Context, prefix string) (map[string]uint64, error) {
	var rows []positionRow
	if err := s.db.NewSelect().Model(&rows).Where("consumer LIKE ?", prefix+"%").Scan(ctx); err != nil {
		return nil, fmt.Errorf("metrics: read positions: %w", err)
	}
	out := make(map[string]uint64, len(rows))
	for _, r := range rows {
		out[r.Consumer] = r.StreamSeq
	}
	return out, nil
}

// Commit adds the batch's counters and moves the consumer position, in one transaction: the
// counters land exactly when the position says they did, and, for a fenced batch, only while
// the partition's lease is still held under the batch's fence. Each table (hourly, daily, all-time
// totals, spend) takes one multi-row upsert; the per-customer exposures take two (the new
// customers, then the others), and the new customers add to the reach of their rollups.
//
// A connection fault before COMMIT runs it again on a fresh connection (database.RunInTx). A
// COMMIT of unknown outcome is not (sqlerr.ErrCommitUnknown): if it did commit, the next try
// of the same batch is refused by the position's guard (metrics.ErrPositionMoved).
func (s *Store) Commit(ctx context.Context, b metrics.Batch, now time.Time) error {
	return database.RunInTx(ctx, s.db, nil, func(ctx context.Context, tx bun.Tx) error {
		// The position first: its row lock orders concurrent workers, and its guard refuses a
		// batch that another worker already counted.
		pos := positionRow{Consumer: b.Consumer, StreamSeq: b.To, Processed: b.Processed,
			DeadLettered: b.DeadLettered, UpdatedAt: now}
		res, err := tx.NewInsert().Model(&pos).
			On("CONFLICT (consumer) DO UPDATE").
			Set("stream_seq = EXCLUDED.stream_seq").
			Set("processed = ?TableAlias.processed + EXCLUDED.processed").
			Set("dead_lettered = ?TableAlias.dead_lettered + EXCLUDED.dead_lettered").
			Set("updated_at = EXCLUDED.updated_at").
			Where("?TableAlias.stream_seq = ?", b.From).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("metrics: move position: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			if b.Fence != nil {
				if err := checkFence(ctx, tx, *b.Fence); err != nil {
					return err // the worker lost the partition: it must drop it, not read on
				}
			}
			return metrics.ErrPositionMoved
		}
		reach, err := addExposures(ctx, tx, b.Exposures)
		if err != nil {
			return err
		}
		if err := addRollups(ctx, tx, withReach(b.Rollups, reach), now); err != nil {
			return err
		}
		if b.Fence != nil {
			// Last, just before the commit: on PostgreSQL it share-locks the lease row until then,
			// and the worker's own renewal of the lease must not wait for the whole flush.
			return checkFence(ctx, tx, *b.Fence)
		}
		return nil
	})
}

// addRollups adds hourly rollups to every level the store keeps, in the caller's transaction:
// the hourly rows, the daily rows (their sums per UTC day), the all-time totals per variant and
// channel, and each campaign's spend. A sum beyond the 64-bit range is refused by the database
// (PostgreSQL: "bigint out of range"; SQLite: the overflow triggers), never wrapped or turned
// into a float. The all-time rows are the largest sums (counts are never negative): while they
// fit, so does every hourly and daily row, and any sum of them that a report makes.
func addRollups(ctx context.Context, tx bun.Tx, rollups map[metrics.Key]metrics.Totals, now time.Time) error {
	if len(rollups) == 0 {
		return nil
	}
	lv, err := levelsOf(rollups)
	if err != nil {
		return err
	}
	if tx.Dialect().Name() == dialect.PG {
		return lv.upsertPG(ctx, tx, now)
	}
	return lv.upsertSQLite(ctx, tx, now)
}

// dayKey is a daily rollup row: a campaign, a UTC day (YYYY-MM-DD), a variant and a channel.
type dayKey struct {
	CampaignID                        uuid.UUID
	Day                               string
	Variant, Channel, Personalization string
}

// groupKey is an all-time totals row: a campaign, a variant and a channel.
type groupKey struct {
	CampaignID                        uuid.UUID
	Variant, Channel, Personalization string
}

// levels are one batch's sums at every level the store keeps.
type levels struct {
	hourly map[metrics.Key]metrics.Totals
	daily  map[dayKey]metrics.Totals
	totals map[groupKey]metrics.Totals
	spend  map[uuid.UUID]metrics.Totals // cost and revenue only
}

// levelsOf derives the daily, all-time and spend sums of hourly rollups. The sums are checked:
// one that leaves the 64-bit range fails with ErrTotalOutOfRange.
func levelsOf(rollups map[metrics.Key]metrics.Totals) (levels, error) {
	lv := levels{
		hourly: make(map[metrics.Key]metrics.Totals, len(rollups)),
		daily:  make(map[dayKey]metrics.Totals, len(rollups)),
		totals: make(map[groupKey]metrics.Totals, min(len(rollups), 1024)),
		spend:  make(map[uuid.UUID]metrics.Totals, min(len(rollups), 256)),
	}
	for k, t := range rollups {
		// A key built by hand may carry minutes or a zone: the row is its UTC hour's.
		k.Hour = metrics.HourOf(k.Hour)
		d := dayKey{CampaignID: k.CampaignID, Day: k.Hour.Format(time.DateOnly), Variant: k.Variant, Channel: k.Channel,
			Personalization: k.Personalization}
		g := groupKey{CampaignID: k.CampaignID, Variant: k.Variant, Channel: k.Channel, Personalization: k.Personalization}
		err := addTo(lv.hourly, k, t)
		if err == nil {
			err = addTo(lv.daily, d, t)
		}
		if err == nil {
			err = addTo(lv.totals, g, t)
		}
		if err == nil {
			err = addTo(lv.spend, k.CampaignID, metrics.Totals{CostE4: t.CostE4, RevenueE4: t.RevenueE4})
		}
		if err != nil {
			return levels{}, fmt.Errorf("metrics: campaign %s: %w", k.CampaignID, err)
		}
	}
	return lv, nil
}

// addTo adds t to m[k], checked.
func addTo[K comparable](m map[K]metrics.Totals, k K, t metrics.Totals) error {
	s, err := m[k].Add(t)
	if err != nil {
		return err
	}
	m[k] = s
	return nil
}

// upsertPG writes the levels on PostgreSQL: one unnest upsert per table. The spend row goes
// first, as it always has: its lock orders concurrent flushes of one campaign.
func (lv levels) upsertPG(ctx context.Context, tx bun.Tx, now time.Time) error {
	{
		ids := make([]string, 0, len(lv.spend))
		costs, revenues := make([]int64, 0, len(lv.spend)), make([]int64, 0, len(lv.spend))
		for id, t := range lv.spend {
			ids, costs, revenues = append(ids, id.String()), append(costs, t.CostE4), append(revenues, t.RevenueE4)
		}
		err := upsertUnnest(ctx, tx, "metrics_campaign_spend", []pgColumn{{"campaign_id", "uuid", ids}},
			[]pgColumn{{"cost_e4", "bigint", costs}, {"revenue_e4", "bigint", revenues}}, now, nil, nil)
		if err != nil {
			return fmt.Errorf("metrics: upsert spend: %w", err)
		}
	}
	{
		n := len(lv.totals)
		ids, variants, channels, pers, sums := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), newCounterArrays(n)
		sqHi, sqLo := make([]int64, 0, n), make([]int64, 0, n)
		for k, t := range lv.totals {
			ids, variants, channels = append(ids, k.CampaignID.String()), append(variants, k.Variant), append(channels, k.Channel)
			pers = append(pers, k.Personalization)
			sums.add(t)
			sqHi, sqLo = append(sqHi, t.RevenueSquares.Hi), append(sqLo, t.RevenueSquares.Lo)
		}
		err := upsertUnnest(ctx, tx, "metrics_totals",
			[]pgColumn{{"campaign_id", "uuid", ids}, {"variant", "text", variants}, {"channel", "text", channels},
				{"personalization", "text", pers}}, sums.columns(), now,
			[]pgColumn{{"revenue_sq_hi", "bigint", sqHi}, {"revenue_sq_lo", "bigint", sqLo}}, squaresAssignments("m"))
		if err != nil {
			return fmt.Errorf("metrics: upsert totals: %w", err)
		}
	}
	{
		n := len(lv.daily)
		ids, days, variants, channels, pers, sums := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), newCounterArrays(n)
		for k, t := range lv.daily {
			ids, days = append(ids, k.CampaignID.String()), append(days, k.Day)
			variants, channels, pers = append(variants, k.Variant), append(channels, k.Channel), append(pers, k.Personalization)
			sums.add(t)
		}
		err := upsertUnnest(ctx, tx, "metrics_daily", []pgColumn{{"campaign_id", "uuid", ids}, {"day", "date", days},
			{"variant", "text", variants}, {"channel", "text", channels}, {"personalization", "text", pers}}, sums.columns(), now, nil, nil)
		if err != nil {
			return fmt.Errorf("metrics: upsert daily rollups: %w", err)
		}
	}
	n := len(lv.hourly)
	ids, hours, variants, channels, pers, sums := make([]string, 0, n), make([]time.Time, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), newCounterArrays(n)
	for k, t := range lv.hourly {
		ids, hours = append(ids, k.CampaignID.String()), append(hours, k.Hour)
		variants, channels, pers = append(variants, k.Variant), append(channels, k.Channel), append(pers, k.Personalization)
		sums.add(t)
	}
	err := upsertUnnest(ctx, tx, "metrics_hourly", []pgColumn{{"campaign_id", "uuid", ids}, {"hour", "timestamptz", hours},
		{"variant", "text", variants}, {"channel", "text", channels}, {"personalization", "text", pers}}, sums.columns(), now, nil, nil)
	if err != nil {
		return fmt.Errorf("metrics: upsert hourly rollups: %w", err)
	}
	return nil
}

// pgColumn is one column of an unnest upsert: its name, its PostgreSQL type and its values (a
// slice, sent as one array).
type pgColumn struct {
	name, typ string
	values    any
}

// counterArrays are the counter columns of an unnest upsert, one slice per counter.
type counterArrays [8][]int64

func newCounterArrays(n int) *counterArrays {
	var c counterArrays
	for i := range c {
		c[i] = make([]int64, 0, n)
	}
	return &c
}

func (c *counterArrays) add(t metrics.Totals) {
	for i, v := range counterValues(t) {
		c[i] = append(c[i], v)
	}
}

func (c *counterArrays) columns() []pgColumn {
	out := make([]pgColumn, len(c))
	for i, name := range counterNames() {
		out[i] = pgColumn{name, "bigint", c[i]}
	}
	return out
}

// upsertUnnest is the PostgreSQL form of a rollup upsert: one statement that unnests one array
// per column and adds sums to the stored ones (x = x + excluded.x). PostgreSQL parses and plans
// a few array literals far faster than a VALUES list of thousands of rows (about half the time
// of the whole flush at 5,000 events).
func upsertUnnest(ctx context.Context, tx bun.Tx, table string, keys, sums []pgColumn, now time.Time,
	other []pgColumn, otherSets []string) error {
	cols := make([]string, 0, len(keys)+len(sums))
	arrays := make([]string, 0, len(keys)+len(sums))
	args := append(make([]any, 0, 1+len(keys)+len(sums)), now)
	keyNames := make([]string, 0, len(keys))
	sets := make([]string, 0, len(sums)+1)
	for _, c := range keys {
		keyNames = append(keyNames, c.name)
	}
	for _, c := range sums {
		sets = append(sets, c.name+" = m."+c.name+" + EXCLUDED."+c.name)
	}
	sets = append(sets, otherSets...)
	for _, c := range slices.Concat(keys, sums, other) {
		cols = append(cols, c.name)
		arrays = append(arrays, "?::"+c.typ+"[]")
		args = append(args, pgdialect.Array(c.values))
	}
	sets = append(sets, "updated_at = EXCLUDED.updated_at")
	query := "INSERT INTO " + table + " AS m (" + strings.Join(cols, ", ") + ", updated_at)\n" +
		"SELECT u.*, ?::timestamptz FROM unnest(" + strings.Join(arrays, ", ") + ") AS u\n" +
		"ON CONFLICT (" + strings.Join(keyNames, ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
	_, err := tx.ExecContext(ctx, query, args...)
	return err
}

// upsertSQLite writes the levels on SQLite: one Bun multi-row upsert per table, the spend row
// first as on PostgreSQL.
func (lv levels) upsertSQLite(ctx context.Context, tx bun.Tx, now time.Time) error {
	spend := make([]spendRow, 0, len(lv.spend))
	for id, t := range lv.spend {
		spend = append(spend, spendRow{CampaignID: id, CostE4: t.CostE4, RevenueE4: t.RevenueE4, UpdatedAt: now})
	}
	if err := upsertModels(ctx, tx, &spend, "campaign_id", []string{"cost_e4", "revenue_e4"}); err != nil {
		return fmt.Errorf("metrics: upsert spend: %w", err)
	}
	totals := make([]totalsRow, 0, len(lv.totals))
	for k, t := range lv.totals {
		totals = append(totals, totalsRow{CampaignID: k.CampaignID, Variant: k.Variant, Channel: k.Channel,
			Personalization: k.Personalization, counters: countersOf(t), RevenueSqHi: t.RevenueSquares.Hi, RevenueSqLo: t.RevenueSquares.Lo, UpdatedAt: now})
	}
	if err := upsertModels(ctx, tx, &totals, "campaign_id, variant, channel, personalization", counterNames(), squaresAssignments("?TableAlias")...); err != nil {
		return fmt.Errorf("metrics: upsert totals: %w", err)
	}
	daily := make([]rollupRow, 0, len(lv.daily))
	for k, t := range lv.daily {
		daily = append(daily, rollupRow{CampaignID: k.CampaignID, Day: k.Day, Variant: k.Variant, Channel: k.Channel,
			Personalization: k.Personalization, counters: countersOf(t), UpdatedAt: now})
	}
	if err := upsertModels(ctx, tx, &daily, "campaign_id, day, variant, channel, personalization", counterNames()); err != nil {
		return fmt.Errorf("metrics: upsert daily rollups: %w", err)
	}
	hourly := make([]hourlyRow, 0, len(lv.hourly))
	for k, t := range lv.hourly {
		hourly = append(hourly, hourlyRow{CampaignID: k.CampaignID, Hour: k.Hour, Variant: k.Variant, Channel: k.Channel,
			Personalization: k.Personalization, counters: countersOf(t), UpdatedAt: now})
	}
	if err := upsertModels(ctx, tx, &hourly, "campaign_id, hour, variant, channel, personalization", counterNames()); err != nil {
		return fmt.Errorf("metrics: upsert hourly rollups: %w", err)
	}
	return nil
}

// upsertModels inserts rows in one statement, adding sums to the stored ones on conflict.
func upsertModels(ctx context.Context, tx bun.Tx, rows any, conflict string, sums []string, otherSets ...string) error {
	q := tx.NewInsert().Model(rows).On("CONFLICT (" + conflict + ") DO UPDATE")
	for _, c := range sums {
		q = q.Set(c + " = ?TableAlias." + c + " + EXCLUDED." + c)
	}
	for _, s := range otherSets {
		q = q.Set(s)
	}
	_, err := q.Set("updated_at = EXCLUDED.updated_at").Exec(ctx)
	return err
}

// errDryRun rolls Refused's transaction back.
var errDryRun = errors.New("metrics: dry run")

// Refused finds the contributions that the database refuses when they are added, in order, to
// the stored totals (a total that would leave the 64-bit range): it adds the whole list under
// a savepoint and, where that is refused, each half in turn, down to single contributions.
// It costs about two flushes whatever the list's length, and writes nothing: the transaction
// is rolled back. Other errors (the database is unavailable) are returned as they are.
func (s *Store) Refused(ctx context.Context, items []metrics.Contribution, now time.Time) ([]metrics.Refusal, error) {
	var out []metrics.Refusal
	err := database.RunInTx(ctx, s.db, nil, func(ctx context.Context, tx bun.Tx) error {
		out = out[:0] // run again after a connection fault
		var try func(lo, hi int) error
		try = func(lo, hi int) error {
			err := tx.RunInTx(ctx, nil, func(ctx context.Context, sp bun.Tx) error {
				rollups, err := sum(items[lo:hi])
				if err != nil {
					return err
				}
				return addRollups(ctx, sp, rollups, now)
			})
			switch {
			case err == nil:
				return nil
			case !sqlerr.IsDataRefused(err) && !errors.Is(err, metrics.ErrTotalOutOfRange):
				return err
			case hi-lo == 1:
				out = append(out, metrics.Refusal{Index: lo, Err: err})
				return nil
			}
			mid := lo + (hi-lo)/2
			if err := try(lo, mid); err != nil {
				return err
			}
			return try(mid, hi)
		}
		if err := try(0, len(items)); err != nil {
			return err
		}
		return errDryRun
	})
	if !errors.Is(err, errDryRun) {
		return nil, fmt.Errorf("metrics: find refused totals: %w", err)
	}
	return out, nil
}

// sum folds contributions into rollups.
func sum(items []metrics.Contribution) (map[metrics.Key]metrics.Totals, error) {
	out := make(map[metrics.Key]metrics.Totals, min(len(items), 1024))
	for _, it := range items {
		t, err := out[it.Key].Add(it.Totals)
		if err != nil {
			return nil, err
		}
		out[it.Key] = t
	}
	return out, nil
}

type spendRow struct {
	bun.BaseModel `bun:"table:metrics_campaign_spend"`

	CampaignID uuid.UUID `bun:"campaign_id,pk"`
	CostE4     int64     `bun:"cost_e4"`
	RevenueE4  int64     `bun:"revenue_e4"`
	UpdatedAt  time.Time `bun:"updated_at"`
}

// Rows returns a campaign's daily rollups for days in [from, to] (YYYY-MM-DD, either may be
// ""), oldest first.
func (s *Store) Rows(ctx context.Context, campaignID uuid.UUID, from, to string) ([]metrics.Row, error) {
	var rows []rollupRow
	q := s.db.NewSelect().Model(&rows).
		ColumnExpr("campaign_id, CAST(day AS TEXT) AS day, variant, channel, personalization, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, reach, updated_at").
		Where("campaign_id = ?", campaignID)
	if from != "" {
		q = q.Where("day >= ?", from)
	}
	if to != "" {
		q = q.Where("day <= ?", to)
	}
	if err := s.read(ctx, func(ctx context.Context) error { return q.OrderExpr("day ASC").Scan(ctx) }); err != nil {
		return nil, fmt.Errorf("metrics: read daily rollups: %w", err)
	}
	out := make([]metrics.Row, len(rows))
	for i, r := range rows {
		day, err := time.Parse(time.DateOnly, r.Day)
		if err != nil {
			return nil, fmt.Errorf("metrics: read daily rollups: day %q: %w", r.Day, err)
		}
		out[i] = metrics.Row{Key: metrics.Key{CampaignID: r.CampaignID, Hour: day, Variant: r.Variant, Channel: r.Channel, Personalization: r.Personalization},
			Totals: r.totals(), UpdatedAt: r.UpdatedAt.UTC()}
	}
	return out, nil
}

// HourlyRows returns a campaign's hourly rollups of the hours from from's to to's, both
// included, oldest first.
func (s *Store) HourlyRows(ctx context.Context, campaignID uuid.UUID, from, to time.Time) ([]metrics.Row, error) {
	var rows []hourlyRow
	err := s.read(ctx, func(ctx context.Context) error {
		return s.db.NewSelect().Model(&rows).
			Where("campaign_id = ?", campaignID).
			Where("hour >= ?", metrics.HourOf(from)).
			Where("hour <= ?", metrics.HourOf(to)).
			OrderExpr("hour ASC").Scan(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: read hourly rollups: %w", err)
	}
	out := make([]metrics.Row, len(rows))
	for i, r := range rows {
		out[i] = metrics.Row{Key: metrics.Key{CampaignID: r.CampaignID, Hour: metrics.HourOf(r.Hour), Variant: r.Variant, Channel: r.Channel,
			Personalization: r.Personalization},
			Totals: r.totals(), UpdatedAt: r.UpdatedAt.UTC()}
	}
	return out, nil
}

// TotalRows returns a campaign's all-time totals, one row per variant, channel and
// personalization rule it has events of: a number of rows bounded by its variants and channels, whatever the length of its history.
func (s *Store) TotalRows(ctx context.Context, campaignID uuid.UUID) ([]metrics.Row, error) {
	var rows []totalsRow
	var err error
	if db, ok := s.db.(*bun.DB); ok {
		// GET /campaigns/:id reads these at every request: a prepared statement, scanned by
		// pgx (see database.PreparedSlice).
		err = database.PreparedSlice(ctx, db, &rows, s.totalsQuery, campaignID)
	} else {
		err = s.db.NewSelect().Model(&rows).ColumnExpr("?TableAlias.*").Where("campaign_id = ?", campaignID).
			OrderExpr("variant ASC, channel ASC, personalization ASC").Scan(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("metrics: read totals: %w", err)
	}
	out := make([]metrics.Row, len(rows))
	for i, r := range rows {
		out[i] = metrics.Row{Key: metrics.Key{CampaignID: r.CampaignID, Variant: r.Variant, Channel: r.Channel, Personalization: r.Personalization},
			Totals: r.withSquares(), UpdatedAt: r.UpdatedAt.UTC(), SquaresKnown: r.RevenueSqKnown}
	}
	return out, nil
}

// deliveredRow is one campaign's all-time impressions and spend, summed over its totals rows
// (one per variant and channel).
type deliveredRow struct {
	CampaignID  uuid.UUID `bun:"campaign_id"`
	Impressions int64     `bun:"impressions"`
	CostE4      int64     `bun:"cost_e4"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

// Delivered returns the all-time impressions and spend of the campaigns among ids that have
// any, in one query over the O(1) totals rows (campaign.DeliveryTotals).
func (s *Store) Delivered(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]lifecycle.Delivered, error) {
	out := make(map[uuid.UUID]lifecycle.Delivered, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []deliveredRow
	err := s.read(ctx, func(ctx context.Context) error {
		rows = rows[:0]
		return s.db.NewSelect().Table("metrics_totals").
			ColumnExpr("campaign_id, SUM(impressions) AS impressions, SUM(cost_e4) AS cost_e4, MAX(updated_at) AS updated_at").
			Where("campaign_id IN (?)", bun.In(ids)).GroupExpr("campaign_id").Scan(ctx, &rows)
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: delivered: %w", err)
	}
	for _, r := range rows {
		out[r.CampaignID] = lifecycle.Delivered{Impressions: r.Impressions, Spend: metrics.FromE4(r.CostE4)}
	}
	return out, nil
}

// spendLookback re-reads a minute before the watermark: a flush that committed late with an
// older timestamp is still seen. Reading a campaign twice is harmless to the automation.
const spendLookback = time.Minute

// SpendChangedSince returns the total spend and impressions of every campaign whose totals
// changed after since (less spendLookback), and the watermark for the next call (the newest
// change seen).
//
// Which campaigns changed is read from metrics_campaign_spend, by its updated_at index: a
// flush writes the spend row of every campaign it writes totals for, in the same transaction
// and with the same time. metrics_totals has no such index, so that a flush updates its rows
// in place (HOT on PostgreSQL) instead of moving the index at every update.
func (s *Store) SpendChangedSince(ctx context.Context, since time.Time) ([]automation.Spend, time.Time, error) {
	var rows []deliveredRow
	q := s.db.NewSelect().Table("metrics_totals").
		ColumnExpr("campaign_id, SUM(impressions) AS impressions, SUM(cost_e4) AS cost_e4, MAX(updated_at) AS updated_at").
		GroupExpr("campaign_id")
	if !since.IsZero() {
		changed := s.db.NewSelect().Table("metrics_campaign_spend").Column("campaign_id").
			Where("updated_at > ?", since.Add(-spendLookback).UTC())
		q = q.Where("campaign_id IN (?)", changed)
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, since, fmt.Errorf("metrics: spend: %w", err)
	}
	next := since
	out := make([]automation.Spend, len(rows))
	for i, r := range rows {
		out[i] = automation.Spend{CampaignID: r.CampaignID, Amount: metrics.FromE4(r.CostE4), Impressions: r.Impressions}
		if r.UpdatedAt.After(next) {
			next = r.UpdatedAt
		}
	}
	return out, next, nil
}

// squaresAssignments are the ON CONFLICT assignments of the revenue squares of metrics_totals
// (alias: the stored row's): the sum of the low parts carries into the high part. Both
// databases read the stored row's old values on the right-hand sides, and the sum of two low
// parts (each below 10^18) fits a BIGINT.
func squaresAssignments(alias string) []string {
	lo := "(" + alias + ".revenue_sq_lo + EXCLUDED.revenue_sq_lo)"
	return []string{
		"revenue_sq_hi = " + alias + ".revenue_sq_hi + EXCLUDED.revenue_sq_hi + " + lo + " / 1000000000000000000",
		"revenue_sq_lo = " + lo + " % 1000000000000000000",
	}
}

// withSquares is the row's totals with its revenue squares.
func (r totalsRow) withSquares() metrics.Totals {
	t := r.totals()
	t.RevenueSquares = metrics.Squares{Hi: r.RevenueSqHi, Lo: r.RevenueSqLo}
	return t
}
