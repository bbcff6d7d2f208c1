CREATE INDEX metrics_totals_updated_idx ON metrics_totals (updated_at);

--bun:split

ALTER TABLE metrics_campaign_spend DROP COLUMN impressions;
