package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/tracing"
)

// spans is what an in-memory exporter holds, with a few ways to find things in it.
type spans []tracetest.SpanStub

func (ss spans) named(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range ss {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func (ss spans) childrenOf(parent trace.SpanContext) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range ss {
		if s.Parent.SpanID() == parent.SpanID() && s.Parent.TraceID() == parent.TraceID() {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	set := attribute.NewSet(s.Attributes...)
	v, _ := set.Value(attribute.Key(key))
	return v.Emit()
}

// linkedTo says whether s links to a span of trace tr (to span id sp, when it is valid).
func linkedTo(s tracetest.SpanStub, tr trace.TraceID, sp trace.SpanID) bool {
	for _, l := range s.Links {
		if l.SpanContext.TraceID() == tr && (!sp.IsValid() || l.SpanContext.SpanID() == sp) {
			return true
		}
	}
	return false
}

// One campaign update travels as one trace: the HTTP server span, its SQL statements beneath
// it, and the relay's publication linked to it (through the outbox row's traceparent, also
// published as the NATS header and the CloudEvent's extension). One tracking batch: the /track
// span, its publication beneath it, and the aggregator's flush linked to it, with the flush's
// SQL beneath the flush. Real database, real embedded NATS, real HTTP.
func TestTracesFollowAChangeAndATrackingBatch(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		s := apptest.New(t, target, apptest.ServerConfig{TracerProvider: tp})
		ctx := context.Background()

		c := create(t, s, validBody("Traced "+target.Name))
		id := c["id"].(string)
		body := validBody("Traced " + target.Name + " renamed")
		exp.Reset()
		r := s.Do(http.MethodPut, "/api/v1/campaigns/"+id, body, "If-Match", `"1"`)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		_, err := s.API.Relay.Drain(ctx)
		require.NoError(t, err)

		all := spans(exp.GetSpans())
		put := all.named("PUT /api/v1/campaigns/:id")
		require.Len(t, put, 1)
		server := put[0]
		assert.Equal(t, trace.SpanKindServer, server.SpanKind)
		assert.Equal(t, "200", attr(server, "http.response.status_code"))
		var sql []string
		for _, ch := range all.childrenOf(server.SpanContext) {
			if attr(ch, "db.system.name") != "" {
				sql = append(sql, ch.Name)
			}
		}
		assert.Contains(t, sql, "UPDATE campaigns", "the update's statements are children of the request")
		assert.Contains(t, sql, "INSERT outbox_events")
		var publish *tracetest.SpanStub
		for _, p := range all.named("publish campaigns.events") {
			if linkedTo(p, server.SpanContext.TraceID(), server.SpanContext.SpanID()) {
				publish = &p
			}
		}
		require.NotNil(t, publish, "a relay publish span links to the request's span")
		assert.Equal(t, trace.SpanKindProducer, publish.SpanKind)
		assert.Equal(t, "nats", attr(*publish, "messaging.system"))
		assert.Equal(t, "publish", attr(*publish, "messaging.operation.type"))
		assert.NotEqual(t, server.SpanContext.TraceID(), publish.SpanContext.TraceID(), "the relay's work is a trace of its own, linked")

		// The published message carries the request's context, as a header and in the envelope.
		stream, err := s.API.NATS.JS.Stream(ctx, "CAMPAIGN_EVENTS")
		require.NoError(t, err)
		msg, err := stream.GetLastMsgForSubject(ctx, "campaigns.events.CampaignUpdated")
		require.NoError(t, err)
		sc, ok := tracing.SpanContext(msg.Header.Get("traceparent"))
		require.True(t, ok, "header traceparent %q", msg.Header.Get("traceparent"))
		assert.Equal(t, server.SpanContext.SpanID(), sc.SpanID())
		var ce map[string]any
		require.NoError(t, json.Unmarshal(msg.Data, &ce))
		assert.Equal(t, msg.Header.Get("traceparent"), ce["traceparent"])
		// The envelope with its extension is still the documented one.
		schema := apptest.Document(t).Components.Schemas["CampaignCloudEvent"]
		require.NotNil(t, schema)
		require.NoError(t, schema.Value.VisitJSON(ce))

		// The API's own subscription to the domain events (its /track cache) processes the
		// event in a consumer span linked to the change.
		require.Eventually(t, func() bool {
			for _, p := range spans(exp.GetSpans()).named("process campaigns.events.CampaignUpdated") {
				if p.SpanKind == trace.SpanKindConsumer && linkedTo(p, server.SpanContext.TraceID(), server.SpanContext.SpanID()) {
					return true
				}
			}
			return false
		}, 5*time.Second, 10*time.Millisecond)

		// A tracking batch: /track, then the aggregator's flush.
		requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
		exp.Reset()
		r = track(s, id, map[string]any{"events": []any{
			map[string]any{"type": "IMPRESSION", "variant": "A", "channel": "EMAIL"},
			map[string]any{"type": "CLICK", "variant": "B", "channel": "PUSH"},
		}})
		require.Equal(t, http.StatusAccepted, r.Status, "body: %s", r.Body)
		aggregate(t, s)

		all = spans(exp.GetSpans())
		tr := all.named("POST /api/v1/campaigns/:id/track")
		require.Len(t, tr, 1)
		var pub *tracetest.SpanStub
		for _, ch := range all.childrenOf(tr[0].SpanContext) {
			if ch.Name == "publish campaigns.tracking" {
				pub = &ch
			}
		}
		require.NotNil(t, pub, "/track's publication is a child of its request")
		assert.Equal(t, "2", attr(*pub, "messaging.batch.message_count"))
		var flush *tracetest.SpanStub
		for _, f := range all.named("process campaigns.tracking") {
			if linkedTo(f, tr[0].SpanContext.TraceID(), pub.SpanContext.SpanID()) {
				flush = &f
			}
		}
		require.NotNil(t, flush, "a flush links to the /track batch it counts")
		assert.Equal(t, trace.SpanKindConsumer, flush.SpanKind)
		assert.Equal(t, "process", attr(*flush, "messaging.operation.type"))
		assert.NotEmpty(t, all.childrenOf(flush.SpanContext), "the flush's statements are its children")

		// The probes are not traced.
		exp.Reset()
		require.Equal(t, http.StatusOK, s.Do(http.MethodGet, "/health", nil).Status)
		assert.Empty(t, exp.GetSpans())
	})
}
