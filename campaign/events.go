package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// The domain event types. They are also the last token of the NATS subject
// (campaigns.events.<Type>) and the CloudEvents type.
const (
	EventCreated   = "CampaignCreated"
	EventUpdated   = "CampaignUpdated"
	EventActivated = "CampaignActivated"
	EventPaused    = "CampaignPaused"
	EventResumed   = "CampaignResumed"
	EventCompleted = "CampaignCompleted"
	EventCancelled = "CampaignCancelled"
	EventDeleted   = "CampaignDeleted"
)

// EventTypes lists every campaign event type.
func EventTypes() []string {
	return []string{EventCreated, EventUpdated, EventActivated, EventPaused, EventResumed,
		EventCompleted, EventCancelled, EventDeleted}
}

var transitionEvents = map[lifecycle.Action]string{
	lifecycle.ActionActivate: EventActivated,
	lifecycle.ActionPause:    EventPaused,
	lifecycle.ActionResume:   EventResumed,
	lifecycle.ActionComplete: EventCompleted,
	lifecycle.ActionCancel:   EventCancelled,
}

// CreatedPayload is the data of CampaignCreated: the campaign as created.
type CreatedPayload struct {
	Campaign Response `json:"campaign"`
}

// Change is one changed field of CampaignUpdated.
type Change struct {
	Old json.RawMessage `json:"old"`
	New json.RawMessage `json:"new"`
}

// UpdatedPayload is the data of CampaignUpdated: every field that changed, by JSON path
// ("name", "budget", "settings.channels").
type UpdatedPayload struct {
	Changes map[string]Change `json:"changes"`
}

// TransitionPayload is the data of the status events (CampaignActivated ... CampaignCancelled).
type TransitionPayload struct {
	From      lifecycle.Status   `json:"from"`
	To        lifecycle.Status   `json:"to"`
	Action    lifecycle.Action   `json:"action"`
	Reason    string             `json:"reason"`
	Automatic bool               `json:"automatic"`
	StopCode  lifecycle.StopCode `json:"stopCode"`
}

// DeletedPayload is the data of CampaignDeleted.
type DeletedPayload struct {
	Name   string           `json:"name"`
	Status lifecycle.Status `json:"status"`
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
func (w *txWrite) appendEvent(ctx context.Context, c *Campaign, typ string, actor *UserID, at time.Time, data any) error {
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
func newEvent(ctx context.Context, c *Campaign, typ string, actor *UserID, at time.Time, data any) (outbox.Event, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return outbox.Event{}, fmt.Errorf("encode %s: %w", typ, err)
	}
	return outbox.Event{
		ID: uuid.Must(uuid.NewV7()), AggregateID: uuid.UUID(c.ID), Type: typ, Version: c.Version,
		Actor: eventActor(ctx, actor), CorrelationID: httpx.RequestID(ctx), OccurredAt: at,
		Payload: body,
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

// diff lists the fields of the API representation that differ between before and after.
// Settings are compared member by member, so that a change of channels reads as such.
func diff(before, after Response) map[string]Change {
	out := map[string]Change{}
	add := func(path string, a, b any) {
		if reflect.DeepEqual(a, b) {
			return
		}
		oldJSON, _ := json.Marshal(a)
		newJSON, _ := json.Marshal(b)
		if string(oldJSON) != string(newJSON) {
			out[path] = Change{Old: oldJSON, New: newJSON}
		}
	}
	add("name", before.Name, after.Name)
	add("description", before.Description, after.Description)
	add("type", before.Type, after.Type)
	add("targetingRules", before.TargetingRules, after.TargetingRules)
	add("startDate", before.StartDate, after.StartDate)
	add("endDate", before.EndDate, after.EndDate)
	add("budget", before.Budget, after.Budget)
	bs, as := before.Settings, after.Settings
	add("settings.targetAudience", bs.TargetAudience, as.TargetAudience)
	add("settings.channels", bs.Channels, as.Channels)
	add("settings.frequency", bs.Frequency, as.Frequency)
	add("settings.maxImpressions", bs.MaxImpressions, as.MaxImpressions)
	add("settings.budgetLimit", bs.BudgetLimit, as.BudgetLimit)
	add("settings.abTestSettings", bs.ABTest, as.ABTest)
	add("settings.schedulingRules", bs.SchedulingRules, as.SchedulingRules)
	add("settings.personalization", bs.Personalization, as.Personalization)
	return out
}
