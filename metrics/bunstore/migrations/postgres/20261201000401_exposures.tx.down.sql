-- Fold the personalization groups back into one row per key.
WITH f AS (
    DELETE FROM metrics_hourly WHERE personalization <> '' RETURNING *
), g AS (
    SELECT campaign_id, hour, variant, channel, SUM(impressions) AS impressions, SUM(clicks) AS clicks, SUM(conversions) AS conversions, SUM(bounces) AS bounces, SUM(unsubscribes) AS unsubscribes, SUM(revenue_e4) AS revenue_e4, SUM(cost_e4) AS cost_e4, MAX(updated_at) AS updated_at
    FROM f GROUP BY campaign_id, hour, variant, channel
)
INSERT INTO metrics_hourly AS m (campaign_id, hour, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at)
SELECT campaign_id, hour, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at FROM g
ON CONFLICT (campaign_id, hour, variant, channel, personalization) DO UPDATE SET impressions = m.impressions + EXCLUDED.impressions, clicks = m.clicks + EXCLUDED.clicks, conversions = m.conversions + EXCLUDED.conversions, bounces = m.bounces + EXCLUDED.bounces, unsubscribes = m.unsubscribes + EXCLUDED.unsubscribes, revenue_e4 = m.revenue_e4 + EXCLUDED.revenue_e4, cost_e4 = m.cost_e4 + EXCLUDED.cost_e4,
    updated_at = GREATEST(m.updated_at, EXCLUDED.updated_at);

--bun:split

ALTER TABLE metrics_hourly DROP CONSTRAINT metrics_hourly_pkey, DROP COLUMN reach, DROP COLUMN personalization,
    ADD PRIMARY KEY (campaign_id, hour, variant, channel);

--bun:split

-- Fold the personalization groups back into one row per key.
WITH f AS (
    DELETE FROM metrics_daily WHERE personalization <> '' RETURNING *
), g AS (
    SELECT campaign_id, day, variant, channel, SUM(impressions) AS impressions, SUM(clicks) AS clicks, SUM(conversions) AS conversions, SUM(bounces) AS bounces, SUM(unsubscribes) AS unsubscribes, SUM(revenue_e4) AS revenue_e4, SUM(cost_e4) AS cost_e4, MAX(updated_at) AS updated_at
    FROM f GROUP BY campaign_id, day, variant, channel
)
INSERT INTO metrics_daily AS m (campaign_id, day, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at)
SELECT campaign_id, day, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at FROM g
ON CONFLICT (campaign_id, day, variant, channel, personalization) DO UPDATE SET impressions = m.impressions + EXCLUDED.impressions, clicks = m.clicks + EXCLUDED.clicks, conversions = m.conversions + EXCLUDED.conversions, bounces = m.bounces + EXCLUDED.bounces, unsubscribes = m.unsubscribes + EXCLUDED.unsubscribes, revenue_e4 = m.revenue_e4 + EXCLUDED.revenue_e4, cost_e4 = m.cost_e4 + EXCLUDED.cost_e4,
    updated_at = GREATEST(m.updated_at, EXCLUDED.updated_at);

--bun:split

ALTER TABLE metrics_daily DROP CONSTRAINT metrics_daily_pkey, DROP COLUMN reach, DROP COLUMN personalization,
    ADD PRIMARY KEY (campaign_id, day, variant, channel);

--bun:split

-- Fold the personalization groups back into one row per key.
WITH f AS (
    DELETE FROM metrics_totals WHERE personalization <> '' RETURNING *
), g AS (
    SELECT campaign_id, variant, channel, SUM(impressions) AS impressions, SUM(clicks) AS clicks, SUM(conversions) AS conversions, SUM(bounces) AS bounces, SUM(unsubscribes) AS unsubscribes, SUM(revenue_e4) AS revenue_e4, SUM(cost_e4) AS cost_e4, MAX(updated_at) AS updated_at
    FROM f GROUP BY campaign_id, variant, channel
)
INSERT INTO metrics_totals AS m (campaign_id, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at)
SELECT campaign_id, variant, channel, impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at FROM g
ON CONFLICT (campaign_id, variant, channel, personalization) DO UPDATE SET impressions = m.impressions + EXCLUDED.impressions, clicks = m.clicks + EXCLUDED.clicks, conversions = m.conversions + EXCLUDED.conversions, bounces = m.bounces + EXCLUDED.bounces, unsubscribes = m.unsubscribes + EXCLUDED.unsubscribes, revenue_e4 = m.revenue_e4 + EXCLUDED.revenue_e4, cost_e4 = m.cost_e4 + EXCLUDED.cost_e4,
    updated_at = GREATEST(m.updated_at, EXCLUDED.updated_at);

--bun:split

ALTER TABLE metrics_totals DROP CONSTRAINT metrics_totals_pkey, DROP COLUMN reach, DROP COLUMN personalization,
    ADD PRIMARY KEY (campaign_id, variant, channel);

--bun:split

DROP TABLE IF EXISTS metrics_exposures;
