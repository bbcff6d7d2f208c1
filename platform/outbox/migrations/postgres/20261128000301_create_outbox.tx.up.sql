-- The event store: every domain event, written in the transaction of the change it records.
-- It doubles as the outbox: the relay publishes rows whose published_at is NULL.
CREATE TABLE outbox_events (
    seq            BIGSERIAL PRIMARY KEY,
    id             UUID NOT NULL UNIQUE,
    aggregate_id   UUID NOT NULL,
    type           TEXT NOT NULL,
    version        BIGINT NOT NULL,
    actor          UUID,
    correlation_id TEXT NOT NULL DEFAULT '',
    occurred_at    TIMESTAMPTZ NOT NULL,
    payload        JSON NOT NULL, -- kept verbatim: cheaper to read back than JSONB
    published_at   TIMESTAMPTZ
);

--bun:split

-- The relay's queue: only unpublished rows, so it stays small however long the history.
CREATE INDEX outbox_events_unpublished_idx ON outbox_events (seq) WHERE published_at IS NULL;

--bun:split

-- The audit trail of one campaign, oldest first.
CREATE INDEX outbox_events_aggregate_idx ON outbox_events (aggregate_id, seq);

--bun:split

-- One relay publishes at a time: it holds this lease and renews it while it works.
CREATE TABLE outbox_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
