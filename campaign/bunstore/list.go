package bunstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// sortExpr is the SQL of each sort key; each has a partial index ending in id.
var sortExpr = map[campaign.SortField]string{
	campaign.SortCreatedAt: "created_at",
	campaign.SortName:      "lower(name)",
	campaign.SortStartDate: "start_date",
}

// List returns one keyset page of live campaigns matching f, its approval filter judged
// under thresholds t. Pages are keyset pages: as fast deep in the table as at its start. A
// servingStatus that schedules or delivery decide keeps its candidates (see campaign.Store).
func (s *Store) List(ctx context.Context, f campaign.Filter, t campaign.ApprovalThresholds) (campaign.Page, error) {
	f, err := f.WithDefaults()
	if err != nil {
		return campaign.Page{}, err
	}
	rows, err := s.listRows(ctx, f, t)
	if err != nil {
		return campaign.Page{}, err
	}
	return pageOf(rows, f)
}

// listRows reads one keyset page of rows matching f in SQL, one row more than the page.
func (s *Store) listRows(ctx context.Context, f campaign.Filter, t campaign.ApprovalThresholds) ([]campaignRow, error) {
	if db, ok := s.preparedDB(); ok && unfiltered(f) {
		return s.listPrepared(ctx, db, f)
	}
	var rows []campaignRow
	q := s.db.NewSelect().Model(&rows).Where("deleted_at IS NULL")
	q = s.where(q, f, t)
	q, err := page(q, f)
	if err != nil {
		return nil, err
	}
	if err := s.read(ctx, func(ctx context.Context) error { return q.Scan(ctx) }); err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return rows, nil
}

// Live returns every live ACTIVE campaign (on channel, when given), in creation order.
func (s *Store) Live(ctx context.Context, channel campaign.Channel) ([]*campaign.Campaign, error) {
	var rows []campaignRow
	q := s.db.NewSelect().Model(&rows).Where("deleted_at IS NULL").Where("status = ?", string(lifecycle.StatusActive))
	if channel != "" {
		q = s.onChannel(q, channel)
	}
	if err := q.OrderExpr("created_at ASC, id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list live campaigns: %w", err)
	}
	out := make([]*campaign.Campaign, len(rows))
	for i := range rows {
		c, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// where adds f's filters to q.
func (s *Store) where(q *bun.SelectQuery, f campaign.Filter, t campaign.ApprovalThresholds) *bun.SelectQuery {
	if len(f.Statuses) > 0 {
		q = q.Where("status IN (?)", bun.In(f.Statuses))
	}
	if len(f.Types) > 0 {
		q = q.Where("type IN (?)", bun.In(f.Types))
	}
	if f.Channel != "" {
		q = s.onChannel(q, f.Channel)
	}
	if len(f.Serving) > 0 {
		q = servingIn(q, f.Serving, f.Now)
	}
	if f.CreatedBy != nil {
		q = q.Where("created_by = ?", uuid.UUID(*f.CreatedBy))
	}
	if f.Query != "" {
		q = q.Where(`lower(name) LIKE lower(?) ESCAPE '\'`, "%"+escapeLike(f.Query)+"%")
	}
	if f.StartFrom != nil {
		q = q.Where("start_date >= ?", f.StartFrom.UTC())
	}
	if f.StartTo != nil {
		q = q.Where("start_date < ?", f.StartTo.UTC())
	}
	if len(f.Approval) > 0 {
		q = s.approvalIn(q, f.Approval, t)
	}
	return q
}

// onChannel keeps the campaigns whose settings list ch, in each dialect's JSON.
func (s *Store) onChannel(q *bun.SelectQuery, ch campaign.Channel) *bun.SelectQuery {
	if s.db.Dialect().Name() == dialect.PG {
		return q.Where("settings -> 'channels' @> ?::jsonb", `["`+string(ch)+`"]`)
	}
	return q.Where("EXISTS (SELECT 1 FROM json_each(settings, '$.channels') WHERE value = ?)", string(ch))
}

// servingIn keeps the campaigns whose serving status at now is one of serving.
func servingIn(q *bun.SelectQuery, serving []lifecycle.ServingStatus, now time.Time) *bun.SelectQuery {
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		for _, s := range serving {
			q = q.WhereOr(servingSQL[s], servingArgs(s, now)...)
		}
		return q
	})
}

// page orders q by f's sort key then id, starts it after f's cursor and reads one row more
// than the page, which tells whether another page follows.
func page(q *bun.SelectQuery, f campaign.Filter) (*bun.SelectQuery, error) {
	expr := sortExpr[f.Sort]
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	if f.Sort == campaign.SortName {
		q = q.ColumnExpr("?TableAlias.*").ColumnExpr("lower(name) AS name_key")
	}
	if f.After != nil {
		key, err := f.After.Key(f.Sort, f.Desc)
		if err != nil {
			return nil, err
		}
		q = q.Where("("+expr+", id) "+cmp+" (?, ?)", key, uuid.UUID(f.After.ID))
	}
	return q.OrderExpr(expr + " " + dir).OrderExpr("id " + dir).Limit(int64(f.Limit + 1)), nil
}

// pageOf turns the rows read by page into the page: the campaigns, their cursors, and
// whether more follow (page reads one row more than the page).
func pageOf(rows []campaignRow, f campaign.Filter) (campaign.Page, error) {
	n := min(len(rows), f.Limit)
	out := campaign.Page{Campaigns: make([]*campaign.Campaign, n), Cursors: make([]campaign.Cursor, n), More: len(rows) > f.Limit}
	for i := range n {
		c, err := rows[i].toDomain()
		if err != nil {
			return campaign.Page{}, err
		}
		out.Campaigns[i] = c
		out.Cursors[i] = campaign.CursorAfter(c, rows[i].NameKey, f.Sort, f.Desc)
	}
	return out, nil
}

// withinDates is an ACTIVE campaign that lifecycle.Serving says is SERVING: the candidates of
// the statuses a schedule or the delivered totals decide (ServingStatus.Refined).
const withinDates = "(status = 'ACTIVE' AND start_date <= ? AND (end_date IS NULL OR end_date > ?))"

// servingSQL is each serving status as a predicate; it mirrors lifecycle.Serving. For the
// refined statuses it keeps the candidates, which the Service then judges one by one.
var servingSQL = map[lifecycle.ServingStatus]string{
	lifecycle.ServingNone:            "status = 'DRAFT'",
	lifecycle.ServingPending:         "(status = 'ACTIVE' AND start_date > ?)",
	lifecycle.ServingServing:         withinDates,
	lifecycle.ServingOutOfSchedule:   withinDates,
	lifecycle.ServingCapReached:      "((status = 'PAUSED' AND stop_code = 'CAP_REACHED') OR " + withinDates + ")",
	lifecycle.ServingPaused:          "(status = 'PAUSED' AND stop_code NOT IN ('BUDGET_EXHAUSTED', 'BUDGET_LIMIT', 'CAP_REACHED'))",
	lifecycle.ServingBudgetExhausted: "((status = 'PAUSED' AND stop_code IN ('BUDGET_EXHAUSTED', 'BUDGET_LIMIT')) OR (status = 'COMPLETED' AND stop_code = 'BUDGET_EXHAUSTED') OR " + withinDates + ")",
	lifecycle.ServingEnded:           "((status = 'ACTIVE' AND start_date <= ? AND end_date <= ?) OR (status = 'COMPLETED' AND stop_code <> 'BUDGET_EXHAUSTED'))",
	lifecycle.ServingCancelled:       "status = 'CANCELLED'",
}

func servingArgs(s lifecycle.ServingStatus, now time.Time) []any {
	now = now.UTC()
	switch s {
	case lifecycle.ServingPending:
		return []any{now}
	case lifecycle.ServingServing, lifecycle.ServingEnded, lifecycle.ServingOutOfSchedule,
		lifecycle.ServingCapReached, lifecycle.ServingBudgetExhausted:
		return []any{now, now}
	default:
		return nil
	}
}

// escapeLike makes s match literally inside a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
