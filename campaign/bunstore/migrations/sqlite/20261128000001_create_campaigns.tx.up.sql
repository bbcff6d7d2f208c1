-- Times are stored as UTC text in one fixed layout, so text order is time order.
CREATE TABLE campaigns (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('DRAFT', 'ACTIVE', 'PAUSED', 'COMPLETED', 'CANCELLED')),
    type            TEXT NOT NULL,
    targeting_rules TEXT NOT NULL DEFAULT '[]',
    start_date      TIMESTAMP NOT NULL,
    end_date        TIMESTAMP,
    budget_amount   TEXT NOT NULL,
    budget_currency TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    settings        TEXT NOT NULL,
    stop_code       TEXT NOT NULL DEFAULT '',
    version         INTEGER NOT NULL,
    deleted_at      TIMESTAMP
);

--bun:split

CREATE UNIQUE INDEX campaigns_live_name_key ON campaigns (lower(name)) WHERE deleted_at IS NULL;

--bun:split

CREATE INDEX campaigns_live_created_idx ON campaigns (created_at, id) WHERE deleted_at IS NULL;

--bun:split

CREATE INDEX campaigns_live_name_idx ON campaigns (lower(name), id) WHERE deleted_at IS NULL;

--bun:split

CREATE INDEX campaigns_live_start_idx ON campaigns (start_date, id) WHERE deleted_at IS NULL;

--bun:split

CREATE INDEX campaigns_live_status_idx ON campaigns (status, created_at, id) WHERE deleted_at IS NULL;

--bun:split

CREATE INDEX campaigns_live_created_by_idx ON campaigns (created_by, created_at, id) WHERE deleted_at IS NULL;

--bun:split

-- The automation finds campaigns past their end date through this small index, not a scan.
CREATE INDEX campaigns_due_end_idx ON campaigns (end_date)
    WHERE status IN ('ACTIVE', 'PAUSED') AND deleted_at IS NULL AND end_date IS NOT NULL;
