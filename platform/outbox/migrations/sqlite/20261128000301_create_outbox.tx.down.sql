DROP TABLE IF EXISTS outbox_leases;

--bun:split

DROP TABLE IF EXISTS outbox_events;
