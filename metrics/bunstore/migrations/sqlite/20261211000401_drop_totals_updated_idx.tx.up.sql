-- The automation finds the campaigns whose totals changed through metrics_campaign_spend's
-- updated_at index (a flush writes a campaign's spend row with its totals, at the same time).
-- Without this index, a flush updates the totals rows in place instead of moving the index at
-- every update (HOT on PostgreSQL).
DROP INDEX metrics_totals_updated_idx;
