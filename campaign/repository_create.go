package campaign

import (
	"context"
	"fmt"

	"github.com/uptrace/bun/dialect"

	"github.com/engine-rules-sp/campaigns/platform/outbox"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// createInOneStatement reports whether Create may write the campaign and its event with one
// statement of its own: on PostgreSQL, outside a host's transaction, for a change that is
// one event and no history row. One statement is atomic by itself, so it replaces BEGIN,
// two INSERTs and COMMIT (four round trips) with one.
func (r *Repository) createInOneStatement(ch Change) bool {
	return r.db.Dialect().Name() == dialect.PG && !r.Joined() && ch.Transition == nil && len(ch.Then) == 0
}

// createOne inserts the campaign row and its event in one statement: the campaign's INSERT
// is a data-modifying WITH of the event's, so both land or neither does.
func (r *Repository) createOne(ctx context.Context, c *Campaign, row *campaignRow, ch Change) error {
	e, err := newEvent(ctx, c, ch)
	if err != nil {
		return err
	}
	q, err := outbox.AppendQuery(r.db, e)
	if err != nil {
		return fmt.Errorf("insert campaign: %w", err)
	}
	_, err = q.With("new_campaign", r.db.NewInsert().Model(row)).Returning("NULL").Exec(ctx)
	if err != nil {
		if sqlerr.IsUniqueViolation(err) {
			return ErrNameTaken
		}
		return fmt.Errorf("insert campaign: %w", err)
	}
	return nil
}
