-- The sum of each conversion's revenue squared, per campaign, variant and channel, for the
-- variance of revenue per exposure (GET /campaigns/{id}/experiment). It is exact: ten-thousandths
-- squared, as revenue_sq_hi * 10^18 + revenue_sq_lo (0 <= lo < 10^18), added with a carry.
ALTER TABLE metrics_totals ADD COLUMN revenue_sq_hi BIGINT NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE metrics_totals ADD COLUMN revenue_sq_lo BIGINT NOT NULL DEFAULT 0;

--bun:split

-- Revenue counted before this migration has no squares (its events are not kept): such rows
-- say so, and the experiment leaves their revenue test out.
ALTER TABLE metrics_totals ADD COLUMN revenue_sq_known BOOLEAN NOT NULL DEFAULT TRUE;

--bun:split

UPDATE metrics_totals SET revenue_sq_known = FALSE WHERE revenue_e4 > 0;
