package bunstore

import (
	"context"
	"fmt"

	"github.com/engine-rules-sp/campaigns/campaign"
)

// NamesLike lists up to campaign.MaxCopyNames names of live campaigns that start with prefix,
// compared as the unique index compares names (lower() over the C collation, ASCII only). The
// prefix is folded here, in Go: lower() of a parameter would use the database's default
// collation and fold non-ASCII letters the column's lower() keeps.
func (s *Store) NamesLike(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	err := s.db.NewSelect().Table("campaigns").Column("name").
		Where(`lower(name) LIKE ? ESCAPE '\'`, escapeLike(campaign.FoldName(prefix))+"%").
		Where("deleted_at IS NULL").
		OrderExpr("name").
		Limit(campaign.MaxCopyNames).
		Scan(ctx, &names)
	if err != nil {
		return nil, fmt.Errorf("campaign names: %w", err)
	}
	return names, nil
}
