-- Daily rollups of tracking events. Money is kept in ten-thousandths (amount x 10^4) as a
-- 64-bit integer: exact, and "x = x + excluded.x" needs no decimal type in either dialect.
CREATE TABLE metrics_daily (
    campaign_id  UUID NOT NULL,
    day          DATE NOT NULL,
    variant      TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL DEFAULT '',
    impressions  BIGINT NOT NULL DEFAULT 0,
    clicks       BIGINT NOT NULL DEFAULT 0,
    conversions  BIGINT NOT NULL DEFAULT 0,
    bounces      BIGINT NOT NULL DEFAULT 0,
    unsubscribes BIGINT NOT NULL DEFAULT 0,
    revenue_e4   BIGINT NOT NULL DEFAULT 0,
    cost_e4      BIGINT NOT NULL DEFAULT 0,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (campaign_id, day, variant, channel)
) WITH (fillfactor = 70); -- room on each page for in-place updates

--bun:split

-- Each campaign's total spend, kept with the rollups in the same transaction. The budget
-- automation reads it (which campaigns' spend changed since its last look) instead of an
-- index on metrics_daily: with no index on what a flush changes there, PostgreSQL updates
-- rollup rows in place (HOT).
CREATE TABLE metrics_campaign_spend (
    campaign_id UUID PRIMARY KEY,
    cost_e4     BIGINT NOT NULL DEFAULT 0,
    updated_at  TIMESTAMPTZ NOT NULL
);

--bun:split

CREATE INDEX metrics_campaign_spend_updated_idx ON metrics_campaign_spend (updated_at);

--bun:split

-- Where each consumer stands in its stream, committed with the counters it produced.
CREATE TABLE metrics_consumer_positions (
    consumer      TEXT PRIMARY KEY,
    stream_seq    BIGINT NOT NULL,
    processed     BIGINT NOT NULL DEFAULT 0,
    dead_lettered BIGINT NOT NULL DEFAULT 0,
    updated_at    TIMESTAMPTZ NOT NULL
);
