-- Each campaign's all-time impressions are kept beside its spend, so that the automation finds
-- the campaigns whose delivery changed (spend or impressions) in metrics_campaign_spend alone.
-- metrics_totals then needs no index on updated_at, and a flush updates its rows in place
-- (HOT) instead of moving that index at every update.
ALTER TABLE metrics_campaign_spend ADD COLUMN impressions BIGINT NOT NULL DEFAULT 0;

--bun:split

INSERT INTO metrics_campaign_spend AS s (campaign_id, impressions, cost_e4, revenue_e4, updated_at)
SELECT campaign_id, SUM(impressions), SUM(cost_e4), SUM(revenue_e4), MAX(updated_at)
FROM metrics_totals GROUP BY campaign_id
ON CONFLICT (campaign_id) DO UPDATE SET impressions = EXCLUDED.impressions;

--bun:split

DROP INDEX metrics_totals_updated_idx;
