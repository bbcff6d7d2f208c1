-- Each campaign's all-time revenue is kept beside its spend (see the PostgreSQL migration).
ALTER TABLE metrics_campaign_spend ADD COLUMN revenue_e4 INTEGER NOT NULL DEFAULT 0;

--bun:split

UPDATE metrics_campaign_spend SET revenue_e4 = COALESCE(
  (SELECT SUM(d.revenue_e4) FROM metrics_daily d WHERE d.campaign_id = metrics_campaign_spend.campaign_id), 0);

--bun:split

-- SQLite turns an integer sum that overflows into a REAL, silently: these triggers refuse it
-- (SQLITE_CONSTRAINT_TRIGGER), as PostgreSQL refuses a BIGINT sum out of range.
CREATE TRIGGER metrics_daily_overflow_insert BEFORE INSERT ON metrics_daily
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_daily is out of range');
END;

--bun:split

CREATE TRIGGER metrics_daily_overflow_update BEFORE UPDATE ON metrics_daily
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_daily is out of range');
END;

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
