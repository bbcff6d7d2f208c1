DELETE FROM outbox_leases WHERE name IN ('relay', 'outbox-relay');

--bun:split

DROP TRIGGER IF EXISTS outbox_events_enqueue;

--bun:split

UPDATE outbox_events SET published_at = (SELECT p.published_at FROM outbox_published p
    WHERE outbox_events.seq BETWEEN p.first_seq AND p.last_seq)
WHERE published_at IS NULL AND seq NOT IN (SELECT seq FROM outbox_pending);

--bun:split

CREATE INDEX IF NOT EXISTS outbox_events_unpublished_idx ON outbox_events (seq) WHERE published_at IS NULL;

--bun:split

DROP TABLE IF EXISTS outbox_published;

--bun:split

DROP TABLE IF EXISTS outbox_pending;
