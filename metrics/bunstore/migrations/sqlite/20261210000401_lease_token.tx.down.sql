ALTER TABLE metrics_leases DROP COLUMN token;
