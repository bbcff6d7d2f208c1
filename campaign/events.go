package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// The domain event types. They are also the last token of the NATS subject
// (campaigns.events.<Type>) and the CloudEvents type. Their data: CreatedV1, UpdatedV1,
// TransitionV1 (the five status events) and DeletedV1.
const (
	EventCreated   = "CampaignCreated"
	EventUpdated   = "CampaignUpdated"
	EventActivated = "CampaignActivated"
	EventPaused    = "CampaignPaused"
	EventResumed   = "CampaignResumed"
	EventCompleted = "CampaignCompleted"
	EventCancelled = "CampaignCancelled"
	EventDeleted   = "CampaignDeleted"
	// EventBudgetExceeded: the automation stopped the campaign because its spend crossed 100%
	// of its budget; it follows that CampaignCompleted, in the same transaction.
	EventBudgetExceeded = "CampaignBudgetExceeded"
)

// EventTypes lists every campaign event type.
func EventTypes() []string {
	return []string{EventCreated, EventUpdated, EventActivated, EventPaused, EventResumed,
		EventCompleted, EventCancelled, EventDeleted, EventBudgetExceeded}
}

var transitionEvents = map[lifecycle.Action]string{
	lifecycle.ActionActivate: EventActivated,
	lifecycle.ActionPause:    EventPaused,
	lifecycle.ActionResume:   EventResumed,
	lifecycle.ActionComplete: EventCompleted,
	lifecycle.ActionCancel:   EventCancelled,
}

// loggedEvent is an event a write appended: its type for the observer, its id to find out
// whether the transaction that wrote it committed.
type loggedEvent struct {
	ID   uuid.UUID
	Type string
}

// txWrite is one change being written: its transaction, a repository bound to it and the
// events appended so far, which the writer announces once the transaction has committed (a
// failed write is dropped with its events).
type txWrite struct {
	tx     bun.Tx
	repo   *Repository
	events []loggedEvent
}

// appendEvent writes one event of c in the transaction and keeps it for the announcement.
func (w *txWrite) appendEvent(ctx context.Context, c *Campaign, typ string, actor *UserID, at time.Time, data payload) error {
	e, err := newEvent(ctx, c, typ, actor, at, data)
	if err != nil {
		return err
	}
	if err := outbox.Append(ctx, w.tx, e); err != nil {
		return err
	}
	w.events = append(w.events, loggedEvent{ID: e.ID, Type: typ})
	return nil
}

// newEvent is the event typ of c at version c.Version. The actor and the correlation id come
// from ctx (set by the HTTP layer); actor overrides the context's when given.
func newEvent(ctx context.Context, c *Campaign, typ string, actor *UserID, at time.Time, data payload) (outbox.Event, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return outbox.Event{}, fmt.Errorf("encode %s: %w", typ, err)
	}
	return outbox.Event{
		ID: uuid.Must(uuid.NewV7()), AggregateID: uuid.UUID(c.ID), Type: typ, Version: c.Version,
		Actor: eventActor(ctx, actor), CorrelationID: httpx.RequestID(ctx), OccurredAt: at,
		Payload: body, DataSchema: DataSchema(typ, data.schemaVersion()),
	}, nil
}

func eventActor(ctx context.Context, actor *UserID) *uuid.UUID {
	if actor != nil {
		a := uuid.UUID(*actor)
		return &a
	}
	if a, ok := httpx.Actor(ctx); ok {
		return &a
	}
	return nil
}
