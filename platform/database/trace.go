package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/platform/tracing"
)

// QueryTracer is a Bun query hook that traces each statement run under a traced context as a
// client span: "SELECT campaigns", with db.system.name, db.operation.name and
// db.collection.name. It records no bound value, which may hold personal data: Bun writes
// the values of a query it builds into its text (its QueryEvent's Query and QueryTemplate
// alike, which is why bunotel's db.statement carries them), so such a statement is known by
// its operation and table only; the text (db.query.text) is recorded only for a raw statement
// whose arguments Bun received apart, in its template with the placeholders. Statements run
// outside any span (the relay's polls) start none. Add it with db.AddQueryHook.
type QueryTracer struct {
	tracer trace.Tracer
}

// NewQueryTracer returns the hook over tp (nil: a no-op).
func NewQueryTracer(tp trace.TracerProvider) *QueryTracer {
	return &QueryTracer{tracer: tracing.Tracer(tp, "github.com/engine-rules-sp/campaigns/platform/database")}
}

type querySpanKey struct{}

// BeforeQuery starts the statement's span when ctx is traced.
func (q *QueryTracer) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		if ctx.Value(querySpanKey{}) != nil {
			return context.WithValue(ctx, querySpanKey{}, nil) // not an earlier statement's span
		}
		return ctx
	}
	op := e.Operation()
	var table string
	if e.IQuery != nil {
		table = e.IQuery.GetTableName()
	}
	name := op
	if table != "" {
		name += " " + table
	}
	attrs := []attribute.KeyValue{attribute.String("db.system.name", dbSystem(e.DB)), attribute.String("db.operation.name", op)}
	if table != "" {
		attrs = append(attrs, attribute.String("db.collection.name", table))
	}
	if e.IQuery == nil && len(e.QueryArgs) > 0 {
		attrs = append(attrs, attribute.String("db.query.text", e.QueryTemplate))
	}
	// The span is not made the context's current one: Bun keeps BEGIN's context for the whole
	// transaction, whose statements (and the outbox's traceparent) must hang off the request,
	// not off BEGIN.
	_, span := q.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return context.WithValue(ctx, querySpanKey{}, span)
}

// AfterQuery ends the span BeforeQuery started, if any. A failure is recorded by its type
// only: a driver's message may quote the values it refused.
func (q *QueryTracer) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	span, ok := ctx.Value(querySpanKey{}).(trace.Span)
	if !ok {
		return
	}
	if e.Err != nil && !errors.Is(e.Err, sql.ErrNoRows) {
		span.SetAttributes(attribute.String("error.type", fmt.Sprintf("%T", e.Err)))
		span.SetStatus(codes.Error, "statement failed")
	}
	span.End()
}

func dbSystem(db *bun.DB) string {
	if db == nil {
		return "other_sql"
	}
	switch db.Dialect().Name() {
	case dialect.PG:
		return "postgresql"
	case dialect.SQLite:
		return "sqlite"
	default:
		return "other_sql"
	}
}
