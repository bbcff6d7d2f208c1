DROP TABLE IF EXISTS metrics_workers;
