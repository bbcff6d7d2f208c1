package targeting_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/platform/tracing"
	"github.com/engine-rules-sp/campaigns/targeting"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// Each Rules Engine call is a client span under the caller's, with its outcome, and the
// request carries the span's context to the engine; no span records the URL, which may hold
// credentials.
func TestClientCallsAreTraced(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	var mu sync.Mutex
	var got []string
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("traceparent"))
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	c := targeting.NewClient(targeting.Config{URL: down.URL, Timeout: time.Second, TracerProvider: tp})

	ctx, parent := tp.Tracer("test").Start(context.Background(), "caller")
	_, err := c.RuleFresh(ctx, uuid.New())
	require.ErrorIs(t, err, targeting.ErrUnavailable)
	parent.End()

	spans := exp.GetSpans()
	require.Len(t, spans, 2)
	call := spans[0]
	assert.Equal(t, "GET rules-management", call.Name)
	assert.Equal(t, trace.SpanKindClient, call.SpanKind)
	assert.Equal(t, parent.SpanContext().SpanID(), call.Parent.SpanID(), "a child of the caller's span")
	assert.Equal(t, otelcodes.Error, call.Status.Code)
	attrs := attribute.NewSet(call.Attributes...)
	v, _ := attrs.Value("rules_engine.outcome")
	assert.Equal(t, "unavailable", v.AsString())
	v, _ = attrs.Value("http.response.status_code")
	assert.EqualValues(t, http.StatusServiceUnavailable, v.AsInt64())
	for _, kv := range call.Attributes {
		assert.NotContains(t, kv.Value.Emit(), down.URL, "%s records the URL", kv.Key)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	sc, ok := tracing.SpanContext(got[0])
	require.True(t, ok, "the request carried traceparent %q", got[0])
	assert.Equal(t, call.SpanContext.SpanID(), sc.SpanID(), "the engine's spans would be children of the call's")

	// A call that succeeds says so.
	exp.Reset()
	e := enginetest.New(t)
	c = targeting.NewClient(targeting.Config{URL: e.URL, TracerProvider: tp})
	_, err = c.RuleFresh(context.Background(), e.AddRule("ACTIVE", enginetest.PromotionDSL))
	require.NoError(t, err)
	spans = exp.GetSpans()
	require.Len(t, spans, 1)
	attrs = attribute.NewSet(spans[0].Attributes...)
	v, _ = attrs.Value("rules_engine.outcome")
	assert.Equal(t, "ok", v.AsString())
	assert.Equal(t, otelcodes.Unset, spans[0].Status.Code)
}
