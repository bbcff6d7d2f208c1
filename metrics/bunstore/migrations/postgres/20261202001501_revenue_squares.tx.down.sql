ALTER TABLE metrics_totals DROP COLUMN revenue_sq_known;

--bun:split

ALTER TABLE metrics_totals DROP COLUMN revenue_sq_lo;

--bun:split

ALTER TABLE metrics_totals DROP COLUMN revenue_sq_hi;
