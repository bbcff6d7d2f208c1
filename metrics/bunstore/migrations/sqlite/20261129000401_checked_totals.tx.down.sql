DROP TRIGGER IF EXISTS metrics_campaign_spend_overflow_update;

--bun:split

DROP TRIGGER IF EXISTS metrics_campaign_spend_overflow_insert;

--bun:split

DROP TRIGGER IF EXISTS metrics_daily_overflow_update;

--bun:split

DROP TRIGGER IF EXISTS metrics_daily_overflow_insert;

--bun:split

ALTER TABLE metrics_campaign_spend DROP COLUMN revenue_e4;
