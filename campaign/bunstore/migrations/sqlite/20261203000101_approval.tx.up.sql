-- The approval record of each campaign (campaign/approval.go): the stored approval status
-- ('' when nothing was submitted or a submission was voided; REQUIRED and NOT_REQUIRED are
-- derived when reading, from the budget and the configured thresholds), who submitted it and
-- when, who decided and when, and a rejection's reason.
ALTER TABLE campaigns ADD COLUMN approval_status TEXT NOT NULL DEFAULT ''
    CHECK (approval_status IN ('', 'PENDING', 'APPROVED', 'REJECTED'));

--bun:split

ALTER TABLE campaigns ADD COLUMN approval_submitted_by TEXT;

--bun:split

ALTER TABLE campaigns ADD COLUMN approval_submitted_at TIMESTAMP;

--bun:split

ALTER TABLE campaigns ADD COLUMN approval_decided_by TEXT;

--bun:split

ALTER TABLE campaigns ADD COLUMN approval_decided_at TIMESTAMP;

--bun:split

ALTER TABLE campaigns ADD COLUMN approval_reason TEXT NOT NULL DEFAULT '';

--bun:split

-- An approver's queue (approvalStatus=PENDING) is read through this small index.
CREATE INDEX campaigns_live_approval_idx ON campaigns (approval_status, created_at, id)
    WHERE deleted_at IS NULL AND approval_status <> '';
