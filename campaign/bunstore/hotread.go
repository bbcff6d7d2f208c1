package bunstore

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/database"
)

// The hot reads (a campaign by id, a page of the list without filters) are written by hand with
// placeholders and sent through database.PreparedSlice, so that PostgreSQL plans each once per
// connection instead of at every request, and pgx scans the rows straight into campaignRow.
// They apply to a Store over a *bun.DB; over a host's transaction, and for lists with filters,
// Bun builds the statements as elsewhere.

// columnList is the columns of campaignRow (what Bun's own selects read).
func columnList(db bun.IDB) string { return database.Columns[campaignRow](db) }

// preparedDB is the *bun.DB the hot reads go through; false over a transaction.
func (s *Store) preparedDB() (*bun.DB, bool) {
	db, ok := s.db.(*bun.DB)
	return db, ok && s.columns != ""
}

// getPrepared is get for a Store over a *bun.DB.
func (s *Store) getPrepared(ctx context.Context, db *bun.DB, id campaign.ID) (*campaign.Campaign, error) {
	var rows []campaignRow
	err := database.PreparedSlice(ctx, db, &rows,
		"SELECT "+s.columns+" FROM campaigns WHERE id = $1 AND deleted_at IS NULL", uuid.UUID(id))
	if err != nil {
		return nil, fmt.Errorf("get campaign: %w", err)
	}
	if len(rows) == 0 {
		return nil, campaign.ErrNotFound
	}
	return rows[0].toDomain()
}

// unfiltered reports whether f only pages (sort, cursor, limit): the list's hot case. A new
// filter field must be added here; TestUnfilteredKnowsEveryFilter sets each exported field
// in turn and fails on one this misses.
func unfiltered(f campaign.Filter) bool {
	return len(f.Statuses) == 0 && len(f.Types) == 0 && f.Channel == "" && len(f.Serving) == 0 &&
		f.CreatedBy == nil && f.Query == "" && f.StartFrom == nil && f.StartTo == nil &&
		len(f.Approval) == 0
}

// listPrepared is listRows for an unfiltered page over a *bun.DB: the same statement as
// page builds, with placeholders.
func (s *Store) listPrepared(ctx context.Context, db *bun.DB, f campaign.Filter) ([]campaignRow, error) {
	expr := sortExpr[f.Sort]
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	cols := s.columns
	if f.Sort == campaign.SortName {
		cols += ", lower(name) AS name_key"
	}
	q := "SELECT " + cols + " FROM campaigns WHERE deleted_at IS NULL"
	var args []any
	if f.After != nil {
		key, err := f.After.Key(f.Sort, f.Desc)
		if err != nil {
			return nil, err
		}
		q += " AND (" + expr + ", id) " + cmp + " ($1, $2)"
		args = append(args, key, uuid.UUID(f.After.ID))
	}
	q += fmt.Sprintf(" ORDER BY %s %s, id %s LIMIT $%d", expr, dir, dir, len(args)+1)
	args = append(args, f.Limit+1)
	var rows []campaignRow
	if err := database.PreparedSlice(ctx, db, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return rows, nil
}
