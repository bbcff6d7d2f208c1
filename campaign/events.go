package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/audit"
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
	// The approval steps (approval.go): SubmittedForApprovalV1, ApprovalDecisionV1 (approved
	// and rejected) and ApprovalVoidedV1, which follows the CampaignUpdated of the edit that
	// voided the approval.
	EventSubmittedForApproval = "CampaignSubmittedForApproval"
	EventApproved             = "CampaignApproved"
	EventRejected             = "CampaignRejected"
	EventApprovalVoided       = "CampaignApprovalVoided"
)

// EventTypes lists every campaign event type.
func EventTypes() []string {
	return []string{EventCreated, EventUpdated, EventActivated, EventPaused, EventResumed,
		EventCompleted, EventCancelled, EventDeleted, EventBudgetExceeded,
		EventSubmittedForApproval, EventApproved, EventRejected, EventApprovalVoided,
		EventPacingOffPlan, EventDailyBudgetNearlySpent, EventCTRCollapsed}
}

var transitionEvents = map[lifecycle.Action]string{
	lifecycle.ActionActivate: EventActivated,
	lifecycle.ActionPause:    EventPaused,
	lifecycle.ActionResume:   EventResumed,
	lifecycle.ActionComplete: EventCompleted,
	lifecycle.ActionCancel:   EventCancelled,
}

// Event is one domain event of a campaign as the audit trail keeps it: what a Store appends
// to its event store (the outbox, which publishes it) in the transaction of the change.
type Event struct {
	ID            uuid.UUID
	CampaignID    ID
	Type          string // EventCreated...
	Version       int64  // the campaign's version after the change
	Actor         *uuid.UUID
	CorrelationID string
	OccurredAt    time.Time
	Payload       json.RawMessage
	DataSchema    string     // the payload's schema and version (DataSchema), a URI
	Seq           int64      // the event store's order, set when read back
	PublishedAt   *time.Time // nil until the event has been published, set when read back
}

// Record is what a store writes for one Change, in the transaction of the change: the history
// row of a status change or approval step (nil otherwise), then the events, in order.
type Record struct {
	History *lifecycle.Record
	Events  []Event
}

// Record is what a store writes for ch, c being stored at its new version. The actor and
// the correlation id come from ctx (platform/audit); ch.Actor overrides the context's.
func (ch Change) Record(ctx context.Context, c *Campaign) (Record, error) {
	var out Record
	if ch.Transition != nil {
		rec := *ch.Transition
		rec.CampaignID, rec.Version = uuid.UUID(c.id), c.version
		if rec.Actor == nil && !rec.Automatic {
			rec.Actor = eventActor(ctx, ch.Actor) // a person's change made without naming its actor
		}
		out.History = &rec
	}
	e, err := newEvent(ctx, c, ch.Event, ch.Data, ch.Actor, ch.At, ch.EventID)
	if err != nil {
		return Record{}, err
	}
	out.Events = append(out.Events, e)
	for _, f := range ch.Then {
		e, err := newEvent(ctx, c, f.Event, f.Data, ch.Actor, ch.At, f.EventID)
		if err != nil {
			return Record{}, err
		}
		out.Events = append(out.Events, e)
	}
	return out, nil
}

// loggedEvent is an event a write recorded: its type for the observer, its id to find out
// whether the transaction that wrote it committed.
type loggedEvent struct {
	ID       uuid.UUID
	Type     string
	Campaign ID
}

// newEvent is the event of type typ with data on c, c being at its new version.
func newEvent(ctx context.Context, c *Campaign, typ string, data Payload, actor *UserID, at time.Time, id uuid.UUID) (Event, error) {
	if typ == "" || data == nil {
		return Event{}, errors.New("campaign: a change must name its event and its data")
	}
	body, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s: %w", typ, err)
	}
	if id == uuid.Nil {
		id = uuid.Must(uuid.NewV7())
	}
	return Event{
		ID: id, CampaignID: c.id, Type: typ, Version: c.version,
		Actor: eventActor(ctx, actor), CorrelationID: audit.CorrelationID(ctx), OccurredAt: at,
		Payload: body, DataSchema: DataSchema(typ, data.schemaVersion()),
	}, nil
}

func eventActor(ctx context.Context, actor *UserID) *uuid.UUID {
	if actor != nil {
		a := uuid.UUID(*actor)
		return &a
	}
	if a, ok := audit.Actor(ctx); ok {
		return &a
	}
	return nil
}
