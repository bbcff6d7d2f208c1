-- Hourly rollups, written by every flush with the daily ones (the daily rows are their sums).
-- They start empty: the events of earlier hours are not kept anywhere, so only what is counted
-- after this migration has hourly rows.
CREATE TABLE metrics_hourly (
    campaign_id  TEXT NOT NULL,
    hour         TIMESTAMP NOT NULL,
    variant      TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL DEFAULT '',
    impressions  INTEGER NOT NULL DEFAULT 0,
    clicks       INTEGER NOT NULL DEFAULT 0,
    conversions  INTEGER NOT NULL DEFAULT 0,
    bounces      INTEGER NOT NULL DEFAULT 0,
    unsubscribes INTEGER NOT NULL DEFAULT 0,
    revenue_e4   INTEGER NOT NULL DEFAULT 0,
    cost_e4      INTEGER NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, hour, variant, channel)
);

--bun:split

-- All-time totals per campaign, variant and channel: the all-time reads (GET campaign, metrics
-- without a range) read these few rows instead of every daily row.
CREATE TABLE metrics_totals (
    campaign_id  TEXT NOT NULL,
    variant      TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL DEFAULT '',
    impressions  INTEGER NOT NULL DEFAULT 0,
    clicks       INTEGER NOT NULL DEFAULT 0,
    conversions  INTEGER NOT NULL DEFAULT 0,
    bounces      INTEGER NOT NULL DEFAULT 0,
    unsubscribes INTEGER NOT NULL DEFAULT 0,
    revenue_e4   INTEGER NOT NULL DEFAULT 0,
    cost_e4      INTEGER NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, variant, channel)
);

--bun:split

-- SQLite turns an integer sum that overflows into a REAL, silently: these triggers refuse it,
-- as on metrics_daily (20261129000401_checked_totals).
CREATE TRIGGER metrics_hourly_overflow_insert BEFORE INSERT ON metrics_hourly
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_hourly is out of range');
END;

--bun:split

CREATE TRIGGER metrics_hourly_overflow_update BEFORE UPDATE ON metrics_hourly
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_hourly is out of range');
END;

--bun:split

CREATE TRIGGER metrics_totals_overflow_insert BEFORE INSERT ON metrics_totals
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_totals is out of range');
END;

--bun:split

CREATE TRIGGER metrics_totals_overflow_update BEFORE UPDATE ON metrics_totals
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_totals is out of range');
END;

--bun:split

-- The totals of what was counted before this migration are the sums of the daily rows
-- (SQLite's SUM fails with "integer overflow" rather than return a REAL).
INSERT INTO metrics_totals (campaign_id, variant, channel, impressions, clicks, conversions,
  bounces, unsubscribes, revenue_e4, cost_e4, updated_at)
SELECT campaign_id, variant, channel, SUM(impressions), SUM(clicks), SUM(conversions),
  SUM(bounces), SUM(unsubscribes), SUM(revenue_e4), SUM(cost_e4), MAX(updated_at)
FROM metrics_daily
GROUP BY campaign_id, variant, channel;
