-- Daily rollups of tracking events. Money is kept in ten-thousandths (amount x 10^4) as a
-- 64-bit integer: exact, and "x = x + excluded.x" needs no decimal type in either dialect.
CREATE TABLE metrics_daily (
    campaign_id  TEXT NOT NULL,
    day          TEXT NOT NULL,
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
    PRIMARY KEY (campaign_id, day, variant, channel)
);

--bun:split

-- Each campaign's total spend, kept with the rollups in the same transaction. The budget
-- automation reads it (which campaigns' spend changed since its last look) instead of an
-- index on metrics_daily: with no index on what a flush changes there, PostgreSQL updates
-- rollup rows in place (HOT).
CREATE TABLE metrics_campaign_spend (
    campaign_id TEXT PRIMARY KEY,
    cost_e4     INTEGER NOT NULL DEFAULT 0,
    updated_at  TIMESTAMP NOT NULL
);

--bun:split

CREATE INDEX metrics_campaign_spend_updated_idx ON metrics_campaign_spend (updated_at);

--bun:split

-- Where each consumer stands in its stream, committed with the counters it produced.
CREATE TABLE metrics_consumer_positions (
    consumer      TEXT PRIMARY KEY,
    stream_seq    INTEGER NOT NULL,
    processed     INTEGER NOT NULL DEFAULT 0,
    dead_lettered INTEGER NOT NULL DEFAULT 0,
    updated_at    TIMESTAMP NOT NULL
);
