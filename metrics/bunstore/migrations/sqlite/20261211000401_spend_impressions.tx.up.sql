-- Each campaign's all-time impressions are kept beside its spend (see the PostgreSQL
-- migration), and refused, as the other totals, when a sum overflows.
ALTER TABLE metrics_campaign_spend ADD COLUMN impressions INTEGER NOT NULL DEFAULT 0;

--bun:split

INSERT INTO metrics_campaign_spend (campaign_id, impressions, cost_e4, revenue_e4, updated_at)
SELECT campaign_id, SUM(impressions), SUM(cost_e4), SUM(revenue_e4), MAX(updated_at)
FROM metrics_totals WHERE true GROUP BY campaign_id
ON CONFLICT (campaign_id) DO UPDATE SET impressions = EXCLUDED.impressions;

--bun:split

DROP INDEX metrics_totals_updated_idx;

--bun:split

DROP TRIGGER metrics_campaign_spend_overflow_insert;

--bun:split

DROP TRIGGER metrics_campaign_spend_overflow_update;

--bun:split

CREATE TRIGGER metrics_campaign_spend_overflow_insert BEFORE INSERT ON metrics_campaign_spend
WHEN typeof(NEW.cost_e4) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.impressions) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_campaign_spend is out of range');
END;

--bun:split

CREATE TRIGGER metrics_campaign_spend_overflow_update BEFORE UPDATE ON metrics_campaign_spend
WHEN typeof(NEW.cost_e4) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.impressions) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_campaign_spend is out of range');
END;
