CREATE INDEX metrics_totals_updated_idx ON metrics_totals (updated_at);
