-- Each campaign's all-time revenue is kept beside its spend. Money totals are 64-bit integers
-- of ten-thousandths: PostgreSQL refuses a sum beyond the BIGINT range ("bigint out of range"),
-- and with both per-campaign totals held here, any sum of a campaign's rollup rows (all
-- amounts are positive) fits too.
ALTER TABLE metrics_campaign_spend ADD COLUMN revenue_e4 BIGINT NOT NULL DEFAULT 0;

--bun:split

UPDATE metrics_campaign_spend s SET revenue_e4 = d.revenue_e4
FROM (SELECT campaign_id, SUM(revenue_e4) AS revenue_e4 FROM metrics_daily GROUP BY campaign_id) d
WHERE d.campaign_id = s.campaign_id;
