package campaign

import (
	"context"
	"fmt"
)

// maxCopyNames bounds the names read to pick a copy's name; past it, the unique index still
// refuses a taken name and Duplicate picks again.
const maxCopyNames = 1000

// namesStartingWith lists the names of live campaigns that start with prefix, compared as the
// unique index compares names (lower() over the C collation, ASCII only). The prefix is folded
// here, in Go: lower() of a parameter would use the database's default collation and fold
// non-ASCII letters the column's lower() keeps.
func (r *Repository) namesStartingWith(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := r.db.NewSelect().Table("campaigns").Column("name").
		Where(`lower(name) LIKE ? ESCAPE '\'`, escapeLike(foldName(prefix))+"%").
		Where("deleted_at IS NULL").
		OrderExpr("name").
		Limit(maxCopyNames).
		Scan(ctx, &names)
	if err != nil {
		return nil, fmt.Errorf("campaign names: %w", err)
	}
	return names, nil
}

var _ copyNamer = (*Repository)(nil)
