package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/audit"
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
		EventSubmittedForApproval, EventApproved, EventRejected, EventApprovalVoided}
}

var transitionEvents = map[lifecycle.Action]string{
	lifecycle.ActionActivate: EventActivated,
	lifecycle.ActionPause:    EventPaused,
	lifecycle.ActionResume:   EventResumed,
	lifecycle.ActionComplete: EventCompleted,
	lifecycle.ActionCancel:   EventCancelled,
}

// loggedEvent is an event a write recorded: its type for the observer, its id to find out
// whether the transaction that wrote it committed.
type loggedEvent struct {
	ID       uuid.UUID
	Type     string
	Campaign ID
}

// newEvent is the event that records ch on c, c being at its new version. The actor and the
// correlation id come from ctx (set by the HTTP layer); ch.Actor overrides the context's.
func newEvent(ctx context.Context, c *Campaign, ch Change) (outbox.Event, error) {
	if ch.Event == "" || ch.Data == nil {
		return outbox.Event{}, errors.New("campaign: a change must name its event and its data")
	}
	body, err := json.Marshal(ch.Data)
	if err != nil {
		return outbox.Event{}, fmt.Errorf("encode %s: %w", ch.Event, err)
	}
	id := ch.EventID
	if id == uuid.Nil {
		id = uuid.Must(uuid.NewV7())
	}
	return outbox.Event{
		ID: id, AggregateID: uuid.UUID(c.id), Type: ch.Event, Version: c.version,
		Actor: eventActor(ctx, ch.Actor), CorrelationID: audit.CorrelationID(ctx), OccurredAt: ch.At,
		Payload: body, DataSchema: DataSchema(ch.Event, ch.Data.schemaVersion()),
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
