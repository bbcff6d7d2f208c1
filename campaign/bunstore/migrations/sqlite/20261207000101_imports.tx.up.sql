-- An all-or-nothing import writes its campaigns in short transactions (chunks) once the whole
-- file has passed its checks; this is its marker while it is unfinished. state is WRITING
-- while the chunks go in (each renews heartbeat_at, and writes nothing unless the state is
-- still WRITING); the last chunk sets DONE in its own transaction. ROLLING_BACK: a failure
-- midway, or a writer that died (heartbeat_at stopped moving), is deleting its campaigns
-- again. The row goes once its campaign_import_items are gone (a DONE import's are forgotten,
-- a rolled-back one's deleted).
CREATE TABLE campaign_imports (
    id           TEXT PRIMARY KEY,
    created_by   TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('WRITING', 'ROLLING_BACK', 'DONE')),
    started_at   TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);

--bun:split

CREATE INDEX campaign_imports_heartbeat_idx ON campaign_imports (heartbeat_at);

--bun:split

-- The campaigns each unfinished import has written, recorded in the transaction that wrote
-- them: what a roll-back deletes.
CREATE TABLE campaign_import_items (
    import_id   TEXT NOT NULL REFERENCES campaign_imports (id) ON DELETE CASCADE,
    campaign_id TEXT NOT NULL,
    PRIMARY KEY (import_id, campaign_id)
);
