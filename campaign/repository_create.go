package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// createdEventRow is the outbox_events row of a CampaignCreated event, written by the same
// statement as the campaign on PostgreSQL (createInOneStatement). Its columns are those
// outbox.Append writes; TestCreateWritesTheSameEvent checks that both store the same event.
type createdEventRow struct {
	bun.BaseModel `bun:"table:outbox_events"`

	ID            uuid.UUID  `bun:"id"`
	AggregateID   uuid.UUID  `bun:"aggregate_id"`
	Type          string     `bun:"type"`
	Version       int64      `bun:"version"`
	Actor         *uuid.UUID `bun:"actor"`
	CorrelationID string     `bun:"correlation_id"`
	OccurredAt    time.Time  `bun:"occurred_at"`
	Payload       string     `bun:"payload"`
	DataSchema    string     `bun:"data_schema"`
}

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
	ev := createdEventRow{
		ID: e.ID, AggregateID: e.AggregateID, Type: e.Type, Version: e.Version, Actor: e.Actor,
		CorrelationID: e.CorrelationID, OccurredAt: e.OccurredAt.UTC(), Payload: string(e.Payload),
		DataSchema: e.DataSchema,
	}
	_, err = r.db.NewInsert().
		With("new_campaign", r.db.NewInsert().Model(row)).
		Model(&ev).Returning("NULL").Exec(ctx)
	if err != nil {
		if sqlerr.IsUniqueViolation(err) {
			return ErrNameTaken
		}
		return fmt.Errorf("insert campaign: %w", err)
	}
	return nil
}
