-- Each partition's lease carries a fencing token, its generation: it grows by one each time
-- another worker takes the partition, and a flush only commits while the lease still names the
-- worker and its token (platform/lease). A lease held at the upgrade starts at 0.
ALTER TABLE metrics_leases ADD COLUMN token BIGINT NOT NULL DEFAULT 0;
