package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/observability"
)

// tracingSetup is a process's OpenTelemetry tracing: the provider its parts trace with (nil:
// tracing is off, and nothing is traced or linked) and how to flush and stop it.
type tracingSetup struct {
	provider trace.TracerProvider
	stop     func(context.Context) error
}

// newTracing starts the process's tracing when the configuration or the standard OTEL_*
// variables (read through lookup) ask for it: an SDK provider that batches spans to an
// OTLP/HTTP collector. given, a test's provider, replaces it (and is not stopped here).
//
// On: tracing.enabled, or OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// set; off whatever else says when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
// tracing.endpoint, when set, wins over the OTEL_EXPORTER_OTLP_* endpoints, which the
// exporter reads otherwise (with their headers, timeout, compression...). The resource is
// service.name campaigns-api or campaigns-worker and the binary's version, overridden by
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. New traces are sampled at
// tracing.sample_ratio, a traced caller's choice followed (parent-based), unless
// OTEL_TRACES_SAMPLER (and OTEL_TRACES_SAMPLER_ARG) name another sampler.
func newTracing(ctx context.Context, cfg config.Tracing, p Process, given trace.TracerProvider,
	lookup func(string) (string, bool), logger *slog.Logger) (tracingSetup, error) {
	if given != nil {
		return tracingSetup{provider: given}, nil
	}
	if !tracingOn(cfg, lookup) {
		return tracingSetup{}, nil
	}
	var opts []otlptracehttp.Option
	if cfg.Endpoint != "" {
		// A base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is: the traces go to its /v1/traces.
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimRight(cfg.Endpoint, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...) // connects at the first export, not here
	if err != nil {
		return tracingSetup{}, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "campaigns-"+string(p)),
			attribute.String("service.version", observability.ReadBuildInfo().Version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		_ = exp.Shutdown(ctx)
		return tracingSetup{}, &config.Error{Key: "environment variable OTEL_RESOURCE_ATTRIBUTES", Reason: err.Error()}
	}
	sopts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	sampler := "parentbased_traceidratio " + fmt.Sprint(cfg.SampleRatio)
	if v, _ := lookup("OTEL_TRACES_SAMPLER"); v != "" {
		sampler = v // the SDK reads it (and its argument) when given no sampler
	} else {
		sopts = append(sopts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))))
	}
	tp := sdktrace.NewTracerProvider(sopts...)
	logger.Info("tracing on: spans go to the OTLP/HTTP collector", slog.String("endpoint", tracingEndpoint(cfg, lookup)),
		slog.String("sampler", sampler))
	return tracingSetup{provider: tp, stop: tp.Shutdown}, nil
}

// tracingOn says whether the process exports traces.
func tracingOn(cfg config.Tracing, lookup func(string) (string, bool)) bool {
	if v, _ := lookup("OTEL_SDK_DISABLED"); strings.EqualFold(strings.TrimSpace(v), "true") {
		return false
	}
	if v, _ := lookup("OTEL_TRACES_EXPORTER"); strings.TrimSpace(v) == "none" {
		return false
	}
	if cfg.Enabled {
		return true
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		if v, _ := lookup(k); v != "" {
			return true
		}
	}
	return false
}

// tracingEndpoint is where the spans go, for the start-up log (credentials hidden).
func tracingEndpoint(cfg config.Tracing, lookup func(string) (string, bool)) string {
	e := cfg.Endpoint
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if v, _ := lookup(k); e == "" && v != "" {
			e = v
		}
	}
	if e == "" {
		return "http://localhost:4318 (the exporter's default)"
	}
	return redactEndpoint(e)
}

// redactEndpoint keeps the scheme, host and path of an endpoint URL.
func redactEndpoint(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "xxxxx" + s[i:]
		}
		return "xxxxx"
	}
	return s
}

// shutdown stops a provider that the process could not use after all.
func (t tracingSetup) shutdown() {
	if t.stop != nil {
		_ = t.stop(context.Background())
	}
}

// untracedRoute says which routes get no server span: the probes and the scrapes, polled
// every few seconds, would bury the requests that matter.
func untracedRoute(route string) bool {
	switch route {
	case "/health", "/ready", "/metrics":
		return true
	}
	return false
}
