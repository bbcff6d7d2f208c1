package tracing_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/engine-rules-sp/campaigns/platform/tracing"
)

// A span's context survives the trip through a traceparent string, and what is not a trace
// context becomes no link rather than an error.
func TestTraceParentRoundTripAndLinks(t *testing.T) {
	assert.Empty(t, tracing.TraceParent(context.Background()))
	tp := sdktrace.NewTracerProvider()
	ctx, span := tracing.Tracer(tp, "test").Start(context.Background(), "producer")
	defer span.End()
	parent := tracing.TraceParent(ctx)
	require.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`, parent)

	sc, ok := tracing.SpanContext(parent)
	require.True(t, ok)
	assert.Equal(t, span.SpanContext().TraceID(), sc.TraceID())
	assert.Equal(t, span.SpanContext().SpanID(), sc.SpanID())
	assert.True(t, sc.IsRemote())

	links := tracing.Links(slices.Values([]string{"", "garbage", parent, parent, "00-zz-zz-01"}))
	require.Len(t, links, 1, "the empty, the malformed and the repeated are skipped")
	assert.Equal(t, span.SpanContext().SpanID(), links[0].SpanContext.SpanID())

	// A nil provider traces nothing, and says so with an invalid context.
	ctx, span = tracing.Tracer(nil, "test").Start(context.Background(), "off")
	defer span.End()
	assert.Empty(t, tracing.TraceParent(ctx))
}

// A traceparent arrives from other processes (HTTP requests, NATS headers): whatever it holds,
// parsing never panics, and what it accepts is a valid context that prints back as itself.
func FuzzSpanContext(f *testing.F) {
	f.Add("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	f.Add("00-00000000000000000000000000000000-b7ad6b7169203331-01")
	f.Add("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	f.Add("")
	f.Add("00-zz-zz-01")
	f.Fuzz(func(t *testing.T, s string) {
		sc, ok := tracing.SpanContext(s)
		if !ok {
			return
		}
		require.True(t, sc.IsValid())
		links := tracing.Links(slices.Values([]string{s}))
		require.Len(t, links, 1)
		assert.Equal(t, sc.SpanID(), links[0].SpanContext.SpanID())
	})
}
