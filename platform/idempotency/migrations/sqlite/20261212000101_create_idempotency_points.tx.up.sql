-- Recovery points: written by a keyed request's write, in the write's own transaction, with
-- the answer to give when the request is retried. One per (caller, key, step): a second run
-- of the same step cannot commit (the primary key refuses it, and its writes roll back).
CREATE TABLE idempotency_points (
    caller     TEXT NOT NULL,
    key        TEXT NOT NULL,
    step       TEXT NOT NULL,
    status     INTEGER NOT NULL,
    headers    TEXT NOT NULL DEFAULT '{}',
    body       TEXT NOT NULL DEFAULT '',
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (caller, key, step)
);

--bun:split

CREATE INDEX idempotency_points_expires_idx ON idempotency_points (expires_at);
