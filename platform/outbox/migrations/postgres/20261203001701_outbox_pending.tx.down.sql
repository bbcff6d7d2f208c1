DELETE FROM outbox_leases WHERE name IN ('relay', 'outbox-relay');

--bun:split

DROP TRIGGER IF EXISTS outbox_events_enqueue ON outbox_events;

--bun:split

DROP FUNCTION IF EXISTS outbox_events_enqueue();

--bun:split

UPDATE outbox_events e SET published_at = p.published_at
FROM outbox_published p WHERE e.seq BETWEEN p.first_seq AND p.last_seq AND e.published_at IS NULL
AND NOT EXISTS (SELECT 1 FROM outbox_pending q WHERE q.seq = e.seq);

--bun:split

CREATE INDEX IF NOT EXISTS outbox_events_unpublished_idx ON outbox_events (seq) WHERE published_at IS NULL;

--bun:split

DROP TABLE IF EXISTS outbox_published;

--bun:split

DROP TABLE IF EXISTS outbox_pending;
