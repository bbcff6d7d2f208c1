-- The relay's queue moves out of outbox_events: an event is pending while its seq is in
-- outbox_pending (a trigger adds it in the transaction that appends the event) and published
-- once the relay has deleted it from there and recorded it in outbox_published. Publishing a
-- batch is then a delete of narrow rows and one insert, instead of rewriting every event row.
-- A seq in the queue always has its event: deleting the event takes it out of the queue, and
-- a seq without one (which the relay could never publish) is refused.
CREATE TABLE outbox_pending (
    seq BIGINT PRIMARY KEY REFERENCES outbox_events (seq) ON DELETE CASCADE
);

--bun:split

-- When the relay published each event: one row per run of consecutive seqs published
-- together (a batch is one run unless rolled-back or late transactions left gaps in it). Runs
-- never overlap: the relay records a seq once, even one put back in the queue and published again.
CREATE TABLE outbox_published (
    first_seq    BIGINT PRIMARY KEY,
    last_seq     BIGINT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL
);

--bun:split

-- Events stored before this migration and not published yet stay in the queue.
INSERT INTO outbox_pending (seq) SELECT seq FROM outbox_events WHERE published_at IS NULL;

--bun:split

CREATE FUNCTION outbox_events_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_pending (seq) VALUES (NEW.seq);
    RETURN NULL;
END
$$;

--bun:split

CREATE TRIGGER outbox_events_enqueue AFTER INSERT ON outbox_events
    FOR EACH ROW EXECUTE FUNCTION outbox_events_enqueue();

--bun:split

-- outbox_events.published_at now only dates the events published before this migration;
-- new rows keep it NULL, so this index would hold every new event.
DROP INDEX outbox_events_unpublished_idx;

--bun:split

-- Relays of the previous version read the queue from outbox_events.published_at, which this
-- version no longer sets: one of them leading would publish every event since the upgrade
-- again. This version's relays take the lease outbox-relay; the previous version's lease is
-- held here for good, so their relays stay followers (and one leading now loses the lease at
-- its next renewal).
INSERT INTO outbox_leases (name, holder, expires_at)
VALUES ('relay', 'retired by migration 20261203001701', '9999-12-31 00:00:00+00:00')
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at;
