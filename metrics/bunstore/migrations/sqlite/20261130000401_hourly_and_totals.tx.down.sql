-- Dropping a table drops its triggers.
DROP TABLE IF EXISTS metrics_totals;

--bun:split

DROP TABLE IF EXISTS metrics_hourly;
