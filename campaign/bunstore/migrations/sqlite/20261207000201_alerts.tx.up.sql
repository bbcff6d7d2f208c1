-- The state of each campaign's alerts (campaign/alerts.go): whether the alert of that kind
-- is firing, and for which period (a pacing period, a day). An alert fires (and records its
-- event) only when its row turns to firing, or when the period changes: once per crossing,
-- however many automation instances judge it; it is re-armed when the condition clears.
CREATE TABLE campaign_alerts (
    campaign_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    period      TEXT NOT NULL,
    firing      BOOLEAN NOT NULL,
    changed_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, kind)
);
