DROP TRIGGER metrics_campaign_spend_overflow_insert;

--bun:split

DROP TRIGGER metrics_campaign_spend_overflow_update;

--bun:split

ALTER TABLE metrics_campaign_spend DROP COLUMN impressions;

--bun:split

CREATE TRIGGER metrics_campaign_spend_overflow_insert BEFORE INSERT ON metrics_campaign_spend
WHEN typeof(NEW.cost_e4) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_campaign_spend is out of range');
END;

--bun:split

CREATE TRIGGER metrics_campaign_spend_overflow_update BEFORE UPDATE ON metrics_campaign_spend
WHEN typeof(NEW.cost_e4) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_campaign_spend is out of range');
END;

--bun:split

CREATE INDEX metrics_totals_updated_idx ON metrics_totals (updated_at);
