-- The aggregation workers that share this database: a row per live worker, renewed while it
-- runs. The tracking partitions are dealt among them; metrics_leases holds one lease per
-- partition, and metrics_consumer_positions one position per partition.
CREATE TABLE metrics_workers (
    id         TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
