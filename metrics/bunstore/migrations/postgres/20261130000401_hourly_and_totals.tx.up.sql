-- Hourly rollups, written by every flush with the daily ones (the daily rows are their sums).
-- They start empty: the events of earlier hours are not kept anywhere, so only what is counted
-- after this migration has hourly rows.
CREATE TABLE metrics_hourly (
    campaign_id  UUID NOT NULL,
    hour         TIMESTAMPTZ NOT NULL,
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
    PRIMARY KEY (campaign_id, hour, variant, channel)
) WITH (fillfactor = 70); -- room on each page for in-place updates

--bun:split

-- All-time totals per campaign, variant and channel: the all-time reads (GET campaign, metrics
-- without a range) read these few rows instead of every daily row.
CREATE TABLE metrics_totals (
    campaign_id  UUID NOT NULL,
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
    PRIMARY KEY (campaign_id, variant, channel)
) WITH (fillfactor = 70);

--bun:split

-- The totals of what was counted before this migration are the sums of the daily rows.
INSERT INTO metrics_totals (campaign_id, variant, channel, impressions, clicks, conversions,
  bounces, unsubscribes, revenue_e4, cost_e4, updated_at)
SELECT campaign_id, variant, channel, SUM(impressions), SUM(clicks), SUM(conversions),
  SUM(bounces), SUM(unsubscribes), SUM(revenue_e4), SUM(cost_e4), MAX(updated_at)
FROM metrics_daily
GROUP BY campaign_id, variant, channel;
