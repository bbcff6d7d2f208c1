package bunstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun/dialect"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
	"github.com/engine-rules-sp/campaigns/platform/tracing"
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
	ev := toOutbox(rec.Events[0])
	ev.TraceParent = tracing.TraceParent(ctx) // what Append does, which this statement replaces
	q, err := outbox.AppendQuery(s.db, ev)
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

// createOneRetried is createOne, sent again on a connection fault. A statement whose answer
// was lost may have committed all the same (the server can die between its commit and its
// reply): the campaign's id is new, so its row tells. Before each retry after such a loss it
// is looked for; and a retry refused as a duplicate (the lost statement committed while the
// retry waited on its keys) is a success when the row is ours. When the faults outlast the
// retries with the outcome still unknown, the error wraps sqlerr.ErrCommitUnknown.
func (s *Store) createOneRetried(ctx context.Context, c *campaign.Campaign, row *campaignRow, ch campaign.Change) error {
	sent := false // a statement may have reached the server, and its outcome is unknown
	stored := func(ctx context.Context) (bool, error) {
		switch err := s.exists(ctx, c.ID()); {
		case err == nil:
			return true, nil
		case errors.Is(err, campaign.ErrNotFound):
			return false, nil
		default:
			return false, err
		}
	}
	err := database.Retry(ctx, func(ctx context.Context) error {
		if sent {
			if ok, err := stored(ctx); ok || err != nil {
				return err
			}
		}
		err := s.createOne(ctx, c, row, ch)
		switch {
		case sqlerr.IsConnFault(err) && !sqlerr.IsUnsent(err):
			sent = true
		case errors.Is(err, campaign.ErrNameTaken) && sent:
			if ok, serr := stored(ctx); ok || serr != nil {
				return serr
			}
		}
		return err
	})
	if err != nil && sent && sqlerr.IsConnFault(err) {
		return fmt.Errorf("%w: %w", sqlerr.ErrCommitUnknown, err)
	}
	return err
}
