-- The rollups gain two columns: personalization (the personalization rule an event names, ''
-- for none: a new key column, so the primary key is rebuilt) and reach (customers whose first
-- counted impression falls in the row). SQLite cannot change a primary key in place: each
-- table is rebuilt, and its overflow triggers with it.
-- Per-customer exposures: one row per campaign and customer that an IMPRESSION carrying a
-- customerId reached, written by the aggregation pipeline in the same transaction as the
-- rollups. Frequency caps, reach and the audience read it. variant is the customer's A/B
-- variant (customers are assigned deterministically to one).
CREATE TABLE metrics_exposures (
    campaign_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    variant     TEXT NOT NULL DEFAULT '',
    impressions INTEGER NOT NULL,
    first_at    TIMESTAMP NOT NULL,
    last_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, customer_id)
);

--bun:split

CREATE TABLE metrics_hourly_next (
    campaign_id  TEXT NOT NULL,
    hour         TIMESTAMP NOT NULL,
    variant      TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL DEFAULT '',
    personalization TEXT NOT NULL DEFAULT '',
    impressions  INTEGER NOT NULL DEFAULT 0,
    clicks       INTEGER NOT NULL DEFAULT 0,
    conversions  INTEGER NOT NULL DEFAULT 0,
    bounces      INTEGER NOT NULL DEFAULT 0,
    unsubscribes INTEGER NOT NULL DEFAULT 0,
    revenue_e4   INTEGER NOT NULL DEFAULT 0,
    cost_e4      INTEGER NOT NULL DEFAULT 0,
    reach        INTEGER NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, hour, variant, channel, personalization)
);

--bun:split

INSERT INTO metrics_hourly_next (campaign_id, hour, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at)
SELECT campaign_id, hour, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at FROM metrics_hourly;

--bun:split

DROP TABLE metrics_hourly;

--bun:split

ALTER TABLE metrics_hourly_next RENAME TO metrics_hourly;

--bun:split

CREATE TRIGGER metrics_hourly_overflow_insert BEFORE INSERT ON metrics_hourly
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer' OR typeof(NEW.reach) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_hourly is out of range');
END;

--bun:split

CREATE TRIGGER metrics_hourly_overflow_update BEFORE UPDATE ON metrics_hourly
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer' OR typeof(NEW.reach) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_hourly is out of range');
END;

--bun:split

CREATE TABLE metrics_daily_next (
    campaign_id  TEXT NOT NULL,
    day          TEXT NOT NULL,
    variant      TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL DEFAULT '',
    personalization TEXT NOT NULL DEFAULT '',
    impressions  INTEGER NOT NULL DEFAULT 0,
    clicks       INTEGER NOT NULL DEFAULT 0,
    conversions  INTEGER NOT NULL DEFAULT 0,
    bounces      INTEGER NOT NULL DEFAULT 0,
    unsubscribes INTEGER NOT NULL DEFAULT 0,
    revenue_e4   INTEGER NOT NULL DEFAULT 0,
    cost_e4      INTEGER NOT NULL DEFAULT 0,
    reach        INTEGER NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, day, variant, channel, personalization)
);

--bun:split

INSERT INTO metrics_daily_next (campaign_id, day, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at)
SELECT campaign_id, day, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at FROM metrics_daily;

--bun:split

DROP TABLE metrics_daily;

--bun:split

ALTER TABLE metrics_daily_next RENAME TO metrics_daily;

--bun:split

CREATE TRIGGER metrics_daily_overflow_insert BEFORE INSERT ON metrics_daily
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer' OR typeof(NEW.reach) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_daily is out of range');
END;

--bun:split

CREATE TRIGGER metrics_daily_overflow_update BEFORE UPDATE ON metrics_daily
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer' OR typeof(NEW.reach) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_daily is out of range');
END;

--bun:split

CREATE TABLE metrics_totals_next (
    campaign_id  TEXT NOT NULL,
    variant      TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL DEFAULT '',
    personalization TEXT NOT NULL DEFAULT '',
    impressions  INTEGER NOT NULL DEFAULT 0,
    clicks       INTEGER NOT NULL DEFAULT 0,
    conversions  INTEGER NOT NULL DEFAULT 0,
    bounces      INTEGER NOT NULL DEFAULT 0,
    unsubscribes INTEGER NOT NULL DEFAULT 0,
    revenue_e4   INTEGER NOT NULL DEFAULT 0,
    cost_e4      INTEGER NOT NULL DEFAULT 0,
    reach        INTEGER NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, variant, channel, personalization)
);

--bun:split

INSERT INTO metrics_totals_next (campaign_id, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at)
SELECT campaign_id, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at FROM metrics_totals;

--bun:split

DROP TABLE metrics_totals;

--bun:split

ALTER TABLE metrics_totals_next RENAME TO metrics_totals;

--bun:split

CREATE TRIGGER metrics_totals_overflow_insert BEFORE INSERT ON metrics_totals
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer' OR typeof(NEW.reach) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_totals is out of range');
END;

--bun:split

CREATE TRIGGER metrics_totals_overflow_update BEFORE UPDATE ON metrics_totals
WHEN typeof(NEW.impressions) <> 'integer' OR typeof(NEW.clicks) <> 'integer' OR typeof(NEW.conversions) <> 'integer' OR typeof(NEW.bounces) <> 'integer' OR typeof(NEW.unsubscribes) <> 'integer' OR typeof(NEW.revenue_e4) <> 'integer' OR typeof(NEW.cost_e4) <> 'integer' OR typeof(NEW.reach) <> 'integer'
BEGIN
    SELECT RAISE(ABORT, 'integer overflow: a total of metrics_totals is out of range');
END;
