package bunstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/engine-rules-sp/campaigns/metrics"
)

type exposureRow struct {
	bun.BaseModel `bun:"table:metrics_exposures"`

	CampaignID  uuid.UUID `bun:"campaign_id,pk"`
	CustomerID  string    `bun:"customer_id,pk"`
	Variant     string    `bun:"variant"`
	Impressions int64     `bun:"impressions"`
	FirstAt     time.Time `bun:"first_at"`
	LastAt      time.Time `bun:"last_at"`
}

func (r exposureRow) exposure() metrics.CustomerExposure {
	return metrics.CustomerExposure{CampaignID: r.CampaignID, CustomerID: r.CustomerID, Variant: r.Variant,
		Impressions: r.Impressions, First: r.FirstAt.UTC(), Last: r.LastAt.UTC()}
}

// customerKey names an exposure row.
type customerKey struct {
	CampaignID uuid.UUID
	CustomerID string
}

// addExposures adds a batch's exposures in the caller's transaction and returns the reach
// each rollup gains: one for each customer new to the campaign, at the Key of the customer's
// earliest impression in the batch. One upsert: a row that is not there yet is inserted, a
// stored one takes the batch's impressions and widens its first and last times (its variant,
// the customer's first, stays). A row another transaction is inserting is waited for, then
// updated, so a customer is new exactly once, whatever the number of workers or retries, and
// reach is exact. The rows go in key order, so that two transactions lock them in one order.
func addExposures(ctx context.Context, tx bun.Tx, exposures []metrics.Exposure) (map[metrics.Key]int64, error) {
	if len(exposures) == 0 {
		return nil, nil
	}
	exposures = slices.Clone(exposures)
	slices.SortFunc(exposures, func(a, b metrics.Exposure) int {
		return cmp.Or(bytes.Compare(a.Key.CampaignID[:], b.Key.CampaignID[:]), strings.Compare(a.CustomerID, b.CustomerID))
	})
	var reach map[metrics.Key]int64
	var err error
	if tx.Dialect().Name() == dialect.PG {
		reach, err = upsertExposuresPG(ctx, tx, exposures)
	} else {
		reach, err = upsertExposuresSQLite(ctx, tx, exposures)
	}
	if err != nil {
		return nil, fmt.Errorf("metrics: upsert exposures: %w", err)
	}
	return reach, nil
}

func exposureRowOf(e metrics.Exposure) exposureRow {
	return exposureRow{CampaignID: e.Key.CampaignID, CustomerID: e.CustomerID, Variant: e.Key.Variant,
		Impressions: e.Impressions, FirstAt: e.First.UTC(), LastAt: e.Last.UTC()}
}

// upsertExposuresPG is one statement: an unnest upsert whose inserted rows (those with no
// xmax: no transaction has locked or updated them yet; a row it updated carries this
// transaction's) are counted per rollup key in the database, so that a few hundred rows come
// back instead of one per customer. Each exposure carries the index of its Key in keys.
func upsertExposuresPG(ctx context.Context, tx bun.Tx, exposures []metrics.Exposure) (map[metrics.Key]int64, error) {
	n := len(exposures)
	ids, customers, variants := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	counts, firsts, lasts, keyIdx := make([]int64, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n), make([]int64, 0, n)
	index := make(map[metrics.Key]int64, 256)
	var keys []metrics.Key
	for _, e := range exposures {
		k, ok := index[e.Key]
		if !ok {
			k = int64(len(keys))
			index[e.Key] = k
			keys = append(keys, e.Key)
		}
		ids, customers, variants = append(ids, e.Key.CampaignID.String()), append(customers, e.CustomerID), append(variants, e.Key.Variant)
		counts, firsts, lasts = append(counts, e.Impressions), append(firsts, e.First.UTC()), append(lasts, e.Last.UTC())
		keyIdx = append(keyIdx, k)
	}
	var back []struct {
		K     int64 `bun:"k"`
		Count int64 `bun:"n"`
	}
	err := tx.NewRaw("WITH input AS (SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::bigint[], ?::timestamptz[], ?::timestamptz[], ?::bigint[])\n"+
		"  AS u(campaign_id, customer_id, variant, impressions, first_at, last_at, k)),\n"+
		"up AS (INSERT INTO metrics_exposures AS m (campaign_id, customer_id, variant, impressions, first_at, last_at)\n"+
		"  SELECT campaign_id, customer_id, variant, impressions, first_at, last_at FROM input\n"+
		"  ON CONFLICT (campaign_id, customer_id) DO UPDATE SET impressions = m.impressions + EXCLUDED.impressions,\n"+
		"  first_at = LEAST(m.first_at, EXCLUDED.first_at), last_at = GREATEST(m.last_at, EXCLUDED.last_at)\n"+
		"  RETURNING campaign_id, customer_id, xmax = 0 AS inserted)\n"+
		"SELECT input.k, COUNT(*) AS n FROM up JOIN input USING (campaign_id, customer_id) WHERE up.inserted GROUP BY input.k",
		pgdialect.Array(ids), pgdialect.Array(customers), pgdialect.Array(variants), pgdialect.Array(counts),
		pgdialect.Array(firsts), pgdialect.Array(lasts), pgdialect.Array(keyIdx)).Scan(ctx, &back)
	if err != nil {
		return nil, err
	}
	reach := make(map[metrics.Key]int64, len(back))
	for _, r := range back {
		if r.K < 0 || r.K >= int64(len(keys)) {
			return nil, fmt.Errorf("the database returned key %d of %d", r.K, len(keys))
		}
		reach[keys[r.K]] += r.Count
	}
	return reach, nil
}

// upsertExposuresSQLite is one multi-row upsert. SQLite has no xmax: a row returns as many
// impressions as the batch brought exactly when it was not there before (a stored row holds
// at least one impression), and the transaction holds SQLite's only write lock meanwhile.
func upsertExposuresSQLite(ctx context.Context, tx bun.Tx, exposures []metrics.Exposure) (map[metrics.Key]int64, error) {
	rows := make([]exposureRow, len(exposures))
	for i, e := range exposures {
		rows[i] = exposureRowOf(e)
	}
	var back []exposureRow
	err := tx.NewInsert().Model(&rows).On("CONFLICT (campaign_id, customer_id) DO UPDATE").
		Set("impressions = ?TableAlias.impressions + EXCLUDED.impressions").
		Set("first_at = MIN(?TableAlias.first_at, EXCLUDED.first_at)").
		Set("last_at = MAX(?TableAlias.last_at, EXCLUDED.last_at)").
		Returning("campaign_id, customer_id, impressions").Scan(ctx, &back)
	if err != nil {
		return nil, err
	}
	sent := make(map[customerKey]int, len(exposures))
	for i, e := range exposures {
		sent[customerKey{CampaignID: e.Key.CampaignID, CustomerID: e.CustomerID}] = i
	}
	reach := make(map[metrics.Key]int64)
	for _, r := range back {
		i, ok := sent[customerKey{CampaignID: r.CampaignID, CustomerID: r.CustomerID}]
		if ok && r.Impressions == exposures[i].Impressions {
			reach[exposures[i].Key]++
		}
	}
	return reach, nil
}

// withReach returns rollups plus the reach each key gains. It copies rollups: a flush that is
// retried starts from the same sums.
func withReach(rollups map[metrics.Key]metrics.Totals, reach map[metrics.Key]int64) map[metrics.Key]metrics.Totals {
	if len(reach) == 0 {
		return rollups
	}
	out := make(map[metrics.Key]metrics.Totals, len(rollups)+1)
	for k, t := range rollups {
		out[k] = t
	}
	for k, n := range reach {
		t := out[k]
		t.Reach += n // at most the rollup's impressions: it cannot overflow where they do not
		out[k] = t
	}
	return out
}

// Exposures returns a customer's exposures to each of campaignIDs that reached them (campaigns
// that did not are absent), in one query whatever the number of campaigns.
func (s *Store) Exposures(ctx context.Context, customerID string, campaignIDs []uuid.UUID) (map[uuid.UUID]metrics.CustomerExposure, error) {
	out := make(map[uuid.UUID]metrics.CustomerExposure, len(campaignIDs))
	if len(campaignIDs) == 0 || customerID == "" {
		return out, nil
	}
	var rows []exposureRow
	err := s.db.NewSelect().Model(&rows).
		Where("customer_id = ?", customerID).
		Where("campaign_id IN (?)", bun.In(campaignIDs)).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("metrics: read exposures: %w", err)
	}
	for _, r := range rows {
		out[r.CampaignID] = r.exposure()
	}
	return out, nil
}

// Audience returns up to limit of the customers a campaign reached, in customer id order,
// starting after the customer id after ("" for the first page): a keyset page, as fast deep
// into the audience as at its start.
func (s *Store) Audience(ctx context.Context, campaignID uuid.UUID, after string, limit int) ([]metrics.CustomerExposure, error) {
	var rows []exposureRow
	q := s.db.NewSelect().Model(&rows).Where("campaign_id = ?", campaignID)
	if after != "" {
		q = q.Where("customer_id > ?", after)
	}
	if err := q.OrderExpr("customer_id ASC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("metrics: read audience: %w", err)
	}
	out := make([]metrics.CustomerExposure, len(rows))
	for i, r := range rows {
		out[i] = r.exposure()
	}
	return out, nil
}

// ReachByVariant returns a campaign's distinct customers with an impression, per A/B variant
// (the variant of each customer's first counted impression; "" for impressions without one).
// It sums the campaign's all-time totals rows, a few whatever its reach.
func (s *Store) ReachByVariant(ctx context.Context, campaignID uuid.UUID) (map[string]int64, error) {
	rows, err := s.TotalRows(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range rows {
		if r.Reach > 0 {
			out[r.Variant] += r.Reach
		}
	}
	return out, nil
}
