ALTER TABLE metrics_campaign_spend DROP COLUMN revenue_e4;
