-- The status history of every campaign. Rows are never updated or deleted: a deleted campaign
-- keeps its history.
CREATE TABLE campaign_status_transitions (
    id          UUID PRIMARY KEY,
    campaign_id UUID NOT NULL,
    version     BIGINT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    stop_code   TEXT NOT NULL DEFAULT '',
    actor       UUID,
    automatic   BOOLEAN NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL
);

--bun:split

-- One transition per campaign version: a second writer of the same version cannot record.
CREATE UNIQUE INDEX campaign_status_transitions_version_key ON campaign_status_transitions (campaign_id, version);
