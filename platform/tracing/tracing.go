// Package tracing holds what the service's packages share to trace their work with the
// OpenTelemetry API: a tracer from an optional TracerProvider (none: no-op), the W3C trace
// context as it travels in outbox rows and NATS headers (traceparent), the links by which an
// asynchronous consumer's span points at its producers, and the messaging attributes of the
// OpenTelemetry semantic conventions. It links only the OpenTelemetry API: the SDK and the
// exporters are the binaries' business (platform/app).
package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Header is the W3C trace context header, on HTTP requests and NATS messages alike.
const Header = "traceparent"

// MaxLinks bounds the links of one span: a batch of thousands of messages links to its first
// producers only (the rest are counted in messaging.batch.message_count).
const MaxLinks = 128

// Semantic-convention attribute keys of messaging spans.
const (
	MessagingSystem      = attribute.Key("messaging.system")
	MessagingDestination = attribute.Key("messaging.destination.name")
	MessagingOperation   = attribute.Key("messaging.operation.type")
	MessagingBatchCount  = attribute.Key("messaging.batch.message_count")
	MessagingMessageID   = attribute.Key("messaging.message.id")
)

// NATS is messaging.system's value for the service's messages.
var NATS = MessagingSystem.String("nats")

// Tracer is tp's tracer for the named package; a nil tp gives a no-op tracer.
func Tracer(tp trace.TracerProvider, name string) trace.Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer(name)
}

// TraceParent is ctx's span context as a traceparent value, "" when ctx has none (nothing is
// traced, or it is not sampled and carries no valid context).
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c[Header]
}

// SpanContext parses a traceparent value; ok is false for "" or a malformed value (which a
// consumer ignores: a message's trace context is a hint, never a reason to refuse it).
func SpanContext(traceparent string) (sc trace.SpanContext, ok bool) {
	if traceparent == "" {
		return sc, false
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{Header: traceparent})
	sc = trace.SpanContextFromContext(ctx)
	return sc, sc.IsValid()
}

// Links turns traceparent values into span links, skipping empty, malformed and repeated
// ones, at most MaxLinks.
func Links(traceparents func(yield func(string) bool)) []trace.Link {
	var links []trace.Link
	seen := map[trace.SpanID]bool{}
	for tp := range traceparents {
		sc, ok := SpanContext(tp)
		if !ok || seen[sc.SpanID()] {
			continue
		}
		seen[sc.SpanID()] = true
		links = append(links, trace.Link{SpanContext: sc})
		if len(links) == MaxLinks {
			break
		}
	}
	return links
}
