package bunstore

import (
	"context"
	"fmt"
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

// addExposures adds a batch's exposures in the caller's transaction and returns those that
// reached a customer new to the campaign. One upsert: a row that is not there yet is inserted,
// a stored one takes the batch's impressions and widens its first and last times (its
// variant, the customer's first, stays); it returns which rows it inserted. A row another
// transaction is inserting is waited for, then updated, so a customer is new exactly once,
// whatever the number of workers or retries, and reach is exact.
func addExposures(ctx context.Context, tx bun.Tx, exposures []metrics.Exposure) ([]metrics.Exposure, error) {
	if len(exposures) == 0 {
		return nil, nil
	}
	rows := make([]exposureRow, len(exposures))
	for i, e := range exposures {
		rows[i] = exposureRow{CampaignID: e.Key.CampaignID, CustomerID: e.CustomerID, Variant: e.Key.Variant,
			Impressions: e.Impressions, FirstAt: e.First.UTC(), LastAt: e.Last.UTC()}
	}
	var inserted []customerKey
	var err error
	if tx.Dialect().Name() == dialect.PG {
		inserted, err = upsertExposuresPG(ctx, tx, rows)
	} else {
		inserted, err = upsertExposuresSQLite(ctx, tx, rows)
	}
	if err != nil {
		return nil, fmt.Errorf("metrics: upsert exposures: %w", err)
	}
	isNew := make(map[customerKey]bool, len(inserted))
	for _, k := range inserted {
		isNew[k] = true
	}
	reached := make([]metrics.Exposure, 0, len(inserted))
	for i, r := range rows {
		if isNew[customerKey{r.CampaignID, r.CustomerID}] {
			reached = append(reached, exposures[i])
		}
	}
	return reached, nil
}

// exposureArrays are the columns of exposure rows, one PostgreSQL array each.
func exposureArrays(rows []exposureRow) []any {
	n := len(rows)
	ids, customers, variants := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	counts, firsts, lasts := make([]int64, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n)
	for _, r := range rows {
		ids, customers, variants = append(ids, r.CampaignID.String()), append(customers, r.CustomerID), append(variants, r.Variant)
		counts, firsts, lasts = append(counts, r.Impressions), append(firsts, r.FirstAt), append(lasts, r.LastAt)
	}
	return []any{pgdialect.Array(ids), pgdialect.Array(customers), pgdialect.Array(variants),
		pgdialect.Array(counts), pgdialect.Array(firsts), pgdialect.Array(lasts)}
}

// upsertExposuresPG is one unnest upsert. A row the statement inserted has no xmax (no
// transaction has locked or updated it yet); a row it updated carries this transaction's.
func upsertExposuresPG(ctx context.Context, tx bun.Tx, rows []exposureRow) ([]customerKey, error) {
	var back []struct {
		CampaignID uuid.UUID `bun:"campaign_id"`
		CustomerID string    `bun:"customer_id"`
		Inserted   bool      `bun:"inserted"`
	}
	err := tx.NewRaw("INSERT INTO metrics_exposures AS m (campaign_id, customer_id, variant, impressions, first_at, last_at)\n"+
		"SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::bigint[], ?::timestamptz[], ?::timestamptz[])\n"+
		"ON CONFLICT (campaign_id, customer_id) DO UPDATE SET impressions = m.impressions + EXCLUDED.impressions,\n"+
		"first_at = LEAST(m.first_at, EXCLUDED.first_at), last_at = GREATEST(m.last_at, EXCLUDED.last_at)\n"+
		"RETURNING campaign_id, customer_id, xmax = 0 AS inserted", exposureArrays(rows)...).Scan(ctx, &back)
	if err != nil {
		return nil, err
	}
	out := make([]customerKey, 0, len(back))
	for _, r := range back {
		if r.Inserted {
			out = append(out, customerKey{CampaignID: r.CampaignID, CustomerID: r.CustomerID})
		}
	}
	return out, nil
}

// upsertExposuresSQLite is one multi-row upsert. SQLite has no xmax: a row returns as many
// impressions as the batch brought exactly when it was not there before (a stored row holds
// at least one impression), and the transaction holds SQLite's only write lock meanwhile.
func upsertExposuresSQLite(ctx context.Context, tx bun.Tx, rows []exposureRow) ([]customerKey, error) {
	var back []exposureRow
	err := tx.NewInsert().Model(&rows).On("CONFLICT (campaign_id, customer_id) DO UPDATE").
		Set("impressions = ?TableAlias.impressions + EXCLUDED.impressions").
		Set("first_at = MIN(?TableAlias.first_at, EXCLUDED.first_at)").
		Set("last_at = MAX(?TableAlias.last_at, EXCLUDED.last_at)").
		Returning("campaign_id, customer_id, impressions").Scan(ctx, &back)
	if err != nil {
		return nil, err
	}
	sent := make(map[customerKey]int64, len(rows))
	for _, r := range rows {
		sent[customerKey{CampaignID: r.CampaignID, CustomerID: r.CustomerID}] = r.Impressions
	}
	out := make([]customerKey, 0, len(back))
	for _, r := range back {
		k := customerKey{CampaignID: r.CampaignID, CustomerID: r.CustomerID}
		if r.Impressions == sent[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// withReach returns rollups plus one reach at the Key of each newly reached customer. It
// copies rollups: a flush that is retried starts from the same sums.
func withReach(rollups map[metrics.Key]metrics.Totals, reached []metrics.Exposure) map[metrics.Key]metrics.Totals {
	if len(reached) == 0 {
		return rollups
	}
	out := make(map[metrics.Key]metrics.Totals, len(rollups)+1)
	for k, t := range rollups {
		out[k] = t
	}
	for _, e := range reached {
		t := out[e.Key]
		t.Reach++ // at most the rollup's impressions: it cannot overflow where they do not
		out[e.Key] = t
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
