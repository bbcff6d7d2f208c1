-- Responses to POST requests that carried an Idempotency-Key, kept for 24 hours.
CREATE TABLE idempotency_keys (
    caller      TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL,
    status      INTEGER NOT NULL DEFAULT 0,
    headers     TEXT NOT NULL DEFAULT '{}',
    body        TEXT NOT NULL DEFAULT '',
    locked_at   TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (caller, key)
);

--bun:split

CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
