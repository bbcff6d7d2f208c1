package campaign

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/database"
)

// The hot reads (a campaign by id, a page of the list without filters) are written by hand with
// placeholders and sent through database.Prepared, so that PostgreSQL plans each once per
// connection instead of at every request. They apply to a Repository over a *bun.DB; over a
// host's transaction, and for lists with filters, Bun builds the statements as elsewhere.

// columnList is the columns of campaignRow (what Bun's own selects read).
func columnList(db bun.IDB) string { return database.Columns[campaignRow](db) }

// preparedDB is the *bun.DB the hot reads go through; false over a transaction.
func (r *Repository) preparedDB() (*bun.DB, bool) {
	db, ok := r.db.(*bun.DB)
	return db, ok && r.columns != ""
}

// getPrepared is get for a Repository over a *bun.DB.
func (r *Repository) getPrepared(ctx context.Context, db *bun.DB, id ID) (*Campaign, error) {
	var rows []campaignRow
	err := database.Prepared(ctx, db, &rows,
		"SELECT "+r.columns+" FROM campaigns WHERE id = $1 AND deleted_at IS NULL", uuid.UUID(id))
	if err != nil {
		return nil, fmt.Errorf("get campaign: %w", err)
	}
	if len(rows) == 0 {
		return nil, ErrNotFound
	}
	return rows[0].toDomain()
}

// unfiltered reports whether f only pages (sort, cursor, limit): the list's hot case. A new
// filter field must be added here; TestUnfilteredKnowsEveryFilter sets each exported field
// in turn and fails on one this misses.
func (f Filter) unfiltered() bool {
	return len(f.Statuses) == 0 && len(f.Types) == 0 && f.Channel == "" && len(f.Serving) == 0 &&
		f.CreatedBy == nil && f.Query == "" && f.StartFrom == nil && f.StartTo == nil &&
		len(f.Approval) == 0
}

// listPrepared is listRows for an unfiltered page over a *bun.DB: the same statement as
// page builds, with placeholders.
func (r *Repository) listPrepared(ctx context.Context, db *bun.DB, f Filter) ([]campaignRow, error) {
	expr := sortExpr[f.Sort]
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	cols := r.columns
	if f.Sort == SortName {
		cols += ", lower(name) AS name_key"
	}
	q := "SELECT " + cols + " FROM campaigns WHERE deleted_at IS NULL"
	var args []any
	if f.After != nil {
		key, err := f.After.key(f.Sort, f.Desc)
		if err != nil {
			return nil, err
		}
		q += " AND (" + expr + ", id) " + cmp + " ($1, $2)"
		args = append(args, key, uuid.UUID(f.After.ID))
	}
	q += fmt.Sprintf(" ORDER BY %s %s, id %s LIMIT $%d", expr, dir, dir, len(args)+1)
	args = append(args, f.Limit+1)
	var rows []campaignRow
	if err := database.Prepared(ctx, db, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return rows, nil
}

// GetWith returns the live campaign id as Get does, but takes what it delivered from read,
// which runs once the campaign is read: GET /campaigns/:id reads the campaign's metrics
// totals anyway, and they give its delivery too (one read instead of two). read's answer
// counts only while the campaign serves by its status and dates, as in Get.
func (s *Service) GetWith(ctx context.Context, id ID, read func(ctx context.Context, c *Campaign) (lifecycle.Delivered, error)) (*Campaign, error) {
	c, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	c.zones = s.zones
	s.attach(c)
	d, err := read(ctx, c)
	if err != nil {
		return nil, err
	}
	if s.cfg.Delivery != nil && lifecycle.Serving(c.status, c.stopCode, c.startDate, c.endDate, s.clock()) == lifecycle.ServingServing {
		c.delivered = d
	}
	return c, nil
}
