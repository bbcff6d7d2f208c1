-- Per-customer exposures: one row per campaign and customer that an IMPRESSION carrying a
-- customerId reached, written by the aggregation pipeline in the same transaction as the
-- rollups. Frequency caps, reach and the audience read it. variant is the customer's A/B
-- variant (customers are assigned deterministically to one).
CREATE TABLE metrics_exposures (
    campaign_id UUID NOT NULL,
    customer_id TEXT NOT NULL,
    variant     TEXT NOT NULL DEFAULT '',
    impressions BIGINT NOT NULL,
    first_at    TIMESTAMPTZ NOT NULL,
    last_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (campaign_id, customer_id)
) WITH (fillfactor = 80);

--bun:split

-- personalization: the rule an event names ('' for none), a key column; reach: customers
-- whose first counted impression falls in the row.
ALTER TABLE metrics_hourly ADD COLUMN personalization TEXT NOT NULL DEFAULT '',
    ADD COLUMN reach BIGINT NOT NULL DEFAULT 0,
    DROP CONSTRAINT metrics_hourly_pkey,
    ADD PRIMARY KEY (campaign_id, hour, variant, channel, personalization);

--bun:split

-- personalization: the rule an event names ('' for none), a key column; reach: customers
-- whose first counted impression falls in the row.
ALTER TABLE metrics_daily ADD COLUMN personalization TEXT NOT NULL DEFAULT '',
    ADD COLUMN reach BIGINT NOT NULL DEFAULT 0,
    DROP CONSTRAINT metrics_daily_pkey,
    ADD PRIMARY KEY (campaign_id, day, variant, channel, personalization);

--bun:split

-- personalization: the rule an event names ('' for none), a key column; reach: customers
-- whose first counted impression falls in the row.
ALTER TABLE metrics_totals ADD COLUMN personalization TEXT NOT NULL DEFAULT '',
    ADD COLUMN reach BIGINT NOT NULL DEFAULT 0,
    DROP CONSTRAINT metrics_totals_pkey,
    ADD PRIMARY KEY (campaign_id, variant, channel, personalization);
