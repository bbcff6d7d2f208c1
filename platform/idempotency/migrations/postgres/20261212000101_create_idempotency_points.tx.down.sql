DROP TABLE IF EXISTS idempotency_points;
