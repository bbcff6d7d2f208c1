DROP TABLE IF EXISTS metrics_consumer_positions;

--bun:split

DROP TABLE IF EXISTS metrics_campaign_spend;

--bun:split

DROP TABLE IF EXISTS metrics_daily;
