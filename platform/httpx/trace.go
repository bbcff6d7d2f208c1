package httpx

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/platform/tracing"
)

// Trace starts a server span for every request, named by method and route template ("PUT
// /api/v1/campaigns/:id"), as a child of the caller's span when the request carries a W3C
// traceparent; the handlers' work (SQL, NATS, the Rules Engine) is beneath it. It records the
// route, never the path or the query, which may hold personal data. Like Observe, it writes an
// error's problem response itself so that the status it records is the one sent; 5xx marks
// the span as failed.
func Trace(tp trace.TracerProvider, skip func(path string) bool) echo.MiddlewareFunc {
	tracer := tracing.Tracer(tp, "github.com/engine-rules-sp/campaigns/platform/httpx")
	prop := propagation.TraceContext{}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			route := c.Path()
			if skip != nil && skip(route) {
				return next(c)
			}
			name := req.Method
			if route != "" {
				name += " " + route
			}
			ctx := prop.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
			ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("http.route", route)))
			defer span.End()
			c.SetRequest(req.WithContext(ctx))
			if err := next(c); err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			return nil
		}
	}
}
