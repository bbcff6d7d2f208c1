-- name uses the C collation so that sorting by name is byte order, as in SQLite.
CREATE TABLE campaigns (
    id              UUID PRIMARY KEY,
    name            TEXT COLLATE "C" NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    type            TEXT NOT NULL,
    targeting_rules JSONB NOT NULL DEFAULT '[]',
    start_date      TIMESTAMPTZ NOT NULL,
    end_date        TIMESTAMPTZ,
    budget_amount   NUMERIC(19, 4) NOT NULL,
    budget_currency CHAR(3) NOT NULL,
    created_by      UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    settings        JSONB NOT NULL,
    stop_code       TEXT NOT NULL DEFAULT '',
    version         BIGINT NOT NULL,
    deleted_at      TIMESTAMPTZ,
    CONSTRAINT campaigns_status_check CHECK (status IN ('DRAFT', 'ACTIVE', 'PAUSED', 'COMPLETED', 'CANCELLED')),
    CONSTRAINT campaigns_budget_check CHECK (budget_amount > 0),
    CONSTRAINT campaigns_dates_check CHECK (end_date IS NULL OR end_date > start_date)
);

--bun:split

-- Names are unique among live campaigns only: a deleted campaign frees its name.
CREATE UNIQUE INDEX campaigns_live_name_key ON campaigns (lower(name)) WHERE deleted_at IS NULL;

--bun:split

-- One index per sort key, each ending in id so that keyset pages are a single index range.
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

CREATE INDEX campaigns_live_channels_idx ON campaigns USING GIN ((settings -> 'channels')) WHERE deleted_at IS NULL;

--bun:split

-- The automation finds campaigns past their end date through this small index, not a scan.
CREATE INDEX campaigns_due_end_idx ON campaigns (end_date)
    WHERE status IN ('ACTIVE', 'PAUSED') AND deleted_at IS NULL AND end_date IS NOT NULL;
