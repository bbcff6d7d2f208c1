-- One aggregation worker consumes at a time: it holds this lease and renews it while it works;
-- the others stand by and take over when it stops.
CREATE TABLE metrics_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
