-- The automation finds the campaigns whose totals changed since its last tick.
CREATE INDEX metrics_totals_updated_idx ON metrics_totals (updated_at);
