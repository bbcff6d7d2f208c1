// Package audit carries who acts and on behalf of which request through a context, so that
// every layer that records a change (history rows, domain events, calls to other services) can
// name them without knowing where they came from: an HTTP request, a host's own code, the
// automation.
package audit

import (
	"context"

	"github.com/google/uuid"
)

type ctxKey int

const (
	actorKey ctxKey = iota
	correlationKey
)

// WithActor returns ctx carrying the user (or system) id of who acts.
func WithActor(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, actorKey, id)
}

// Actor is the id of who acts, carried by ctx, if any.
func Actor(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(actorKey).(uuid.UUID)
	return id, ok
}

// WithCorrelationID returns ctx carrying the id that ties the records of one request (or one
// run of a job) together: the request id of an HTTP request.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey, id)
}

// CorrelationID is the correlation id carried by ctx, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey).(string)
	return id
}
