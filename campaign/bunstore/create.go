package bunstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun/dialect"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// createInOneStatement reports whether Create may write the campaign and its event with one
// statement of its own: on PostgreSQL, outside a host's transaction, for a change that is
// one event and no history row, and not for a keyed request, whose recovery point must
// commit with the campaign (platform/idempotency). One statement is atomic by itself, so it replaces BEGIN,
// two INSERTs and COMMIT (four round trips) with one.
func (s *Store) createInOneStatement(ctx context.Context, ch campaign.Change) bool {
	return s.db.Dialect().Name() == dialect.PG && !s.Joined() && ch.Transition == nil && len(ch.Then) == 0 &&
		!idempotency.Keyed(ctx)
}

// createOne inserts the campaign row and its event in one statement: the campaign's INSERT
// is a data-modifying WITH of the event's, so both land or neither does.
func (s *Store) createOne(ctx context.Context, c *campaign.Campaign, row *campaignRow, ch campaign.Change) error {
	rec, err := ch.Record(ctx, c)
	if err != nil {
		return err
	}
	q, err := outbox.AppendQuery(s.db, toOutbox(rec.Events[0]))
	if err != nil {
		return fmt.Errorf("insert campaign: %w", err)
	}
	_, err = q.With("new_campaign", s.db.NewInsert().Model(row)).Returning("NULL").Exec(ctx)
	if err != nil {
		if sqlerr.IsUniqueViolation(err) {
			return campaign.ErrNameTaken
		}
		return fmt.Errorf("insert campaign: %w", err)
	}
	return nil
}
