package bunstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/metrics"
)

// CampaignTotals returns the all-time totals of the campaigns among ids that have any, in one
// query over the totals rows (a few per campaign: one per variant, channel and
// personalization rule), summed here so that an overflow is an error rather than a wrap.
func (s *Store) CampaignTotals(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]campaign.Totals, error) {
	out := make(map[uuid.UUID]campaign.Totals, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		CampaignID uuid.UUID `bun:"campaign_id"`
		counters
	}
	err := s.db.NewSelect().Table("metrics_totals").Column("campaign_id").Column(counterNames()...).
		Where("campaign_id IN (?)", bun.In(ids)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("metrics: campaign totals: %w", err)
	}
	sums := make(map[uuid.UUID]metrics.Totals, len(ids))
	for _, r := range rows {
		t, err := sums[r.CampaignID].Add(r.totals())
		if err != nil {
			return nil, fmt.Errorf("metrics: totals of %s: %w", r.CampaignID, err)
		}
		sums[r.CampaignID] = t
	}
	for id, t := range sums {
		out[id] = campaign.Totals{
			Impressions: t.Impressions, Clicks: t.Clicks, Conversions: t.Conversions, Bounces: t.Bounces,
			Unsubscribes: t.Unsubscribes, Reach: t.Reach, Revenue: metrics.FromE4(t.RevenueE4), Cost: metrics.FromE4(t.CostE4),
		}
	}
	return out, nil
}
