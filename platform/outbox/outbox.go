// Package outbox is the event store and transactional outbox. Capabilities append a domain
// event in the same transaction as the change it records; the Relay publishes unpublished
// events to NATS JetStream as CloudEvents and marks them published.
//
// An event is pending while its seq is in outbox_pending (a trigger adds it when the event is
// appended); the relay deletes the seqs it published from there and records them, with the
// time, in outbox_published.
package outbox

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/migrate"
	"github.com/engine-rules-sp/campaigns/platform/tracing"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations is the outbox schema, one folder per dialect.
func Migrations() migrate.Set {
	return migrate.Embedded("outbox", migrationFiles)
}

// Event is one domain event.
type Event struct {
	ID            uuid.UUID
	AggregateID   uuid.UUID
	Type          string // CampaignCreated, CampaignPaused...
	Version       int64  // the aggregate's version after the change
	Actor         *uuid.UUID
	CorrelationID string
	OccurredAt    time.Time
	Payload       json.RawMessage
	DataSchema    string // the payload's schema and version, a URI (CloudEvents dataschema); optional
	// TraceParent is the W3C trace context of the change (Append takes the context's when
	// empty); the relay publishes it as the traceparent header and CloudEvents extension.
	TraceParent string
	Seq         int64      // store order, set when read back
	PublishedAt *time.Time // nil until the relay has published it
}

type eventRow struct {
	bun.BaseModel `bun:"table:outbox_events"`

	Seq           int64      `bun:"seq,pk,autoincrement"`
	ID            uuid.UUID  `bun:"id"`
	AggregateID   uuid.UUID  `bun:"aggregate_id"`
	Type          string     `bun:"type"`
	Version       int64      `bun:"version"`
	Actor         *uuid.UUID `bun:"actor"`
	CorrelationID string     `bun:"correlation_id"`
	OccurredAt    time.Time  `bun:"occurred_at"`
	Payload       string     `bun:"payload"`
	DataSchema    string     `bun:"data_schema"`
	TraceParent   string     `bun:"traceparent"`
	PublishedAt   *time.Time `bun:"published_at"`
}

func (r *eventRow) event() Event {
	e := Event{
		ID: r.ID, AggregateID: r.AggregateID, Type: r.Type, Version: r.Version, Actor: r.Actor,
		CorrelationID: r.CorrelationID, OccurredAt: r.OccurredAt.UTC(), Payload: json.RawMessage(r.Payload),
		DataSchema: r.DataSchema, TraceParent: r.TraceParent, Seq: r.Seq,
	}
	if r.PublishedAt != nil {
		t := r.PublishedAt.UTC()
		e.PublishedAt = &t
	}
	return e
}

// Append stores e through tx: call it inside the transaction of the change, so that the event
// exists exactly when the change does.
func Append(ctx context.Context, tx bun.IDB, e Event) error {
	if e.TraceParent == "" {
		e.TraceParent = tracing.TraceParent(ctx)
	}
	q, err := AppendQuery(tx, e)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("outbox: append %s: %w", e.Type, err)
	}
	return nil
}

// AppendQuery is the INSERT that Append runs, for a caller that writes the event in a
// statement of its own making (the campaign's INSERT as a WITH of the event's: one round trip
// on PostgreSQL).
func AppendQuery(db bun.IDB, e Event) (*bun.InsertQuery, error) {
	if e.ID == uuid.Nil {
		e.ID = uuid.Must(uuid.NewV7())
	}
	if !json.Valid(e.Payload) {
		return nil, fmt.Errorf("outbox: %s payload is not JSON", e.Type)
	}
	row := &eventRow{
		ID: e.ID, AggregateID: e.AggregateID, Type: e.Type, Version: e.Version, Actor: e.Actor,
		CorrelationID: e.CorrelationID, OccurredAt: e.OccurredAt.UTC(), Payload: string(e.Payload),
		DataSchema: e.DataSchema, TraceParent: e.TraceParent,
	}
	return db.NewInsert().Model(row), nil
}

// Query selects one aggregate's events.
type Query struct {
	AggregateID uuid.UUID
	Types       []string
	AfterSeq    int64
	Limit       int
}

// eventColumns are the columns of an eventRow read through the alias e, with its publication
// time: from the run of outbox_published that holds its seq (runs do not overlap, since the
// relay records a seq once even when it publishes it again, so the one that starts last at or
// before it is the only candidate), or from published_at for the events published before
// outbox_published existed.
const eventColumns = "e.seq, e.id, e.aggregate_id, e.type, e.version, e.actor, e.correlation_id, " +
	"e.occurred_at, e.payload, e.data_schema, e.traceparent, COALESCE(e.published_at, (SELECT CASE WHEN p.last_seq >= e.seq " +
	"THEN p.published_at END FROM outbox_published AS p WHERE p.first_seq <= e.seq " +
	"ORDER BY p.first_seq DESC LIMIT 1)) AS published_at"

// List returns an aggregate's events, oldest first.
func List(ctx context.Context, db bun.IDB, q Query) ([]Event, error) {
	var rows []eventRow
	sel := db.NewSelect().Model(&rows).ModelTableExpr("outbox_events AS e").ColumnExpr(eventColumns).
		Where("e.aggregate_id = ?", q.AggregateID).Where("e.seq > ?", q.AfterSeq)
	if len(q.Types) > 0 {
		sel = sel.Where("e.type IN (?)", bun.In(q.Types))
	}
	if err := sel.OrderExpr("e.seq ASC").Limit(int64(q.Limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("outbox: list events: %w", err)
	}
	out := make([]Event, len(rows))
	for i := range rows {
		out[i] = rows[i].event()
	}
	return out, nil
}

// Stored reports which of the events ids are in the store. Asked outside the transaction that
// appended them, after it ended, it tells whether that transaction committed.
func Stored(ctx context.Context, db bun.IDB, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	out := make(map[uuid.UUID]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var found []uuid.UUID
	if err := db.NewSelect().Model((*eventRow)(nil)).Column("id").Where("id IN (?)", bun.In(ids)).
		Scan(ctx, &found); err != nil {
		return nil, fmt.Errorf("outbox: look up events: %w", err)
	}
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

// Backlog counts the events not yet published.
func Backlog(ctx context.Context, db bun.IDB) (int64, error) {
	n, err := db.NewSelect().TableExpr("outbox_pending").Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbox: backlog: %w", err)
	}
	return n, nil
}

// OldestAge is how long the oldest event not yet published has waited since it occurred (0
// when none waits), as of now.
func OldestAge(ctx context.Context, db bun.IDB, now time.Time) (time.Duration, error) {
	var at []time.Time
	err := db.NewSelect().TableExpr("outbox_events").Column("occurred_at").
		Where("seq = (SELECT MIN(seq) FROM outbox_pending)").Scan(ctx, &at)
	if err != nil {
		return 0, fmt.Errorf("outbox: oldest pending event: %w", err)
	}
	if len(at) == 0 {
		return 0, nil
	}
	return max(now.Sub(at[0]), 0), nil
}
