DROP TABLE IF EXISTS metrics_leases;
