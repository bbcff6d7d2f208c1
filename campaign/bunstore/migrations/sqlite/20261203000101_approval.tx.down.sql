DROP INDEX IF EXISTS campaigns_live_approval_idx;

--bun:split

ALTER TABLE campaigns DROP COLUMN approval_reason;

--bun:split

ALTER TABLE campaigns DROP COLUMN approval_decided_at;

--bun:split

ALTER TABLE campaigns DROP COLUMN approval_decided_by;

--bun:split

ALTER TABLE campaigns DROP COLUMN approval_submitted_at;

--bun:split

ALTER TABLE campaigns DROP COLUMN approval_submitted_by;

--bun:split

ALTER TABLE campaigns DROP COLUMN approval_status;
