-- The relay's lease carries a fencing token, its generation: it grows by one each time another
-- relay takes the lease, and the relay's mark of a published batch only lands while the lease
-- still names the relay and its token (platform/lease). A lease held at the upgrade starts at 0.
ALTER TABLE outbox_leases ADD COLUMN token BIGINT NOT NULL DEFAULT 0;
