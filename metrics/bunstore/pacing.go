package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/metrics"
)

// The Store gives the campaign service what campaigns spent today.
var _ campaign.PeriodTotals = (*Store)(nil)

// SpentSince returns what each campaign of since spent from its instant on, from the hourly
// rollups: the hour that holds the instant counts whole. Campaigns that share an hour are
// read together, so the queries number the distinct hours (the distinct pacing zones), not
// the campaigns.
func (s *Store) SpentSince(ctx context.Context, since map[uuid.UUID]time.Time) (map[uuid.UUID]decimal.Decimal, error) {
	byHour := map[time.Time][]uuid.UUID{}
	for id, t := range since {
		h := metrics.HourOf(t)
		byHour[h] = append(byHour[h], id)
	}
	out := make(map[uuid.UUID]decimal.Decimal, len(since))
	for hour, ids := range byHour {
		var rows []deliveredRow
		err := s.read(ctx, func(ctx context.Context) error {
			rows = rows[:0]
			return s.db.NewSelect().Table("metrics_hourly").
				ColumnExpr("campaign_id, SUM(impressions) AS impressions, SUM(cost_e4) AS cost_e4, MAX(updated_at) AS updated_at").
				Where("campaign_id IN (?)", bun.In(ids)).Where("hour >= ?", hour).
				GroupExpr("campaign_id").Scan(ctx, &rows)
		})
		if err != nil {
			return nil, fmt.Errorf("metrics: spent since: %w", err)
		}
		for _, r := range rows {
			out[r.CampaignID] = metrics.FromE4(r.CostE4)
		}
	}
	return out, nil
}

// ctrRow is one campaign's impressions and clicks in an hour and in the hours before it.
type ctrRow struct {
	CampaignID          uuid.UUID `bun:"campaign_id"`
	HourImpressions     int64     `bun:"hour_impressions"`
	HourClicks          int64     `bun:"hour_clicks"`
	TrailingImpressions int64     `bun:"trailing_impressions"`
	TrailingClicks      int64     `bun:"trailing_clicks"`
}

// CTRWindows returns, for every campaign with impressions in the hour that starts at hour,
// that hour's impressions and clicks and those of the trailing hours from trailingFrom up to
// hour (excluded), in one query.
func (s *Store) CTRWindows(ctx context.Context, hour, trailingFrom time.Time) ([]campaign.CTRWindow, error) {
	hour, trailingFrom = metrics.HourOf(hour), metrics.HourOf(trailingFrom)
	var rows []ctrRow
	err := s.read(ctx, func(ctx context.Context) error {
		rows = rows[:0]
		return s.db.NewSelect().Table("metrics_hourly").
			ColumnExpr("campaign_id").
			ColumnExpr("SUM(CASE WHEN hour = ? THEN impressions ELSE 0 END) AS hour_impressions", hour).
			ColumnExpr("SUM(CASE WHEN hour = ? THEN clicks ELSE 0 END) AS hour_clicks", hour).
			ColumnExpr("SUM(CASE WHEN hour < ? THEN impressions ELSE 0 END) AS trailing_impressions", hour).
			ColumnExpr("SUM(CASE WHEN hour < ? THEN clicks ELSE 0 END) AS trailing_clicks", hour).
			Where("hour >= ?", trailingFrom).Where("hour <= ?", hour).
			Where("campaign_id IN (?)", s.db.NewSelect().Table("metrics_hourly").Column("campaign_id").Where("hour = ?", hour)).
			GroupExpr("campaign_id").Scan(ctx, &rows)
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: ctr windows: %w", err)
	}
	out := make([]campaign.CTRWindow, len(rows))
	for i, r := range rows {
		out[i] = campaign.CTRWindow{CampaignID: r.CampaignID, Hour: hour,
			HourImpressions: r.HourImpressions, HourClicks: r.HourClicks,
			TrailingImpressions: r.TrailingImpressions, TrailingClicks: r.TrailingClicks}
	}
	return out, nil
}
