package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/config"
)

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// Tracing is off unless the settings or the standard variables turn it on, and the standard
// switches turn it off whatever else says.
func TestTracingOn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		enabled bool
		env     map[string]string
		want    bool
	}{
		{"default", false, nil, false},
		{"tracing.enabled", true, nil, true},
		{"an OTLP endpoint", false, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{"an OTLP traces endpoint", false, map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true},
		{"the SDK disabled", true, map[string]string{"OTEL_SDK_DISABLED": "true"}, false},
		{"no traces exporter", true, map[string]string{"OTEL_TRACES_EXPORTER": "none"}, false},
	} {
		assert.Equal(t, tc.want, tracingOn(config.Tracing{Enabled: tc.enabled}, lookupIn(tc.env)), tc.name)
	}
}

// With tracing on, spans reach the collector over OTLP/HTTP when the provider stops (the
// binaries stop it on shutdown); with it off, there is no provider at all.
func TestTracingExportsToTheCollector(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	var contentType atomic.Value
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			_, _ = io.Copy(io.Discard, r.Body)
			contentType.Store(r.Header.Get("Content-Type"))
			posts.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(collector.Close)
	logger := slog.New(slog.DiscardHandler)
	ctx := context.Background()

	off, err := newTracing(ctx, config.Tracing{SampleRatio: 1}, ProcessAPI, nil, lookupIn(nil), logger)
	require.NoError(t, err)
	assert.Nil(t, off.provider)

	tr, err := newTracing(ctx, config.Tracing{Enabled: true, Endpoint: collector.URL, SampleRatio: 1}, ProcessWorker, nil, lookupIn(nil), logger)
	require.NoError(t, err)
	require.NotNil(t, tr.provider)
	_, span := tr.provider.Tracer("test").Start(ctx, "work")
	span.End()
	require.NoError(t, tr.stop(ctx))
	assert.EqualValues(t, 1, posts.Load())
	assert.True(t, strings.HasPrefix(contentType.Load().(string), "application/x-protobuf"))

	// Sampling nothing exports nothing.
	posts.Store(0)
	tr, err = newTracing(ctx, config.Tracing{Enabled: true, Endpoint: collector.URL, SampleRatio: 0}, ProcessWorker, nil, lookupIn(nil), logger)
	require.NoError(t, err)
	_, span = tr.provider.Tracer("test").Start(ctx, "work")
	span.End()
	require.NoError(t, tr.stop(ctx))
	assert.Zero(t, posts.Load())
}
