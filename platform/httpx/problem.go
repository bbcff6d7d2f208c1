// Package httpx is the HTTP plumbing every capability shares: RFC 9457 problem responses,
// strict JSON decoding, ETag preconditions, request ids, the Echo instance and the server.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// ProblemContentType is the media type of every error response.
const ProblemContentType = "application/problem+json"

// ProblemTypePrefix starts every problem type URI this service defines.
const ProblemTypePrefix = "urn:campaigns:problem:"

// FieldError is one invalid field of a request, the {field, message} members of a problem's
// errors. Field is a JSON path such as "settings.channels[1]", a query parameter or a header.
// The capabilities' validation errors use it too (campaign.FieldError is this type).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem detail. It is also an error, so handlers return it.
type Problem struct {
	Type      string
	Title     string
	Status    int
	Detail    string
	Instance  string
	RequestID string
	Errors    []FieldError
	// Extra holds problem-specific members (for instance currentStatus).
	Extra map[string]any
	// Headers are set on the response (for instance Retry-After).
	Headers map[string]string
}

// NewProblem returns a problem of the given type slug ("validation"), status and detail.
func NewProblem(status int, slug, title, detail string) *Problem {
	return &Problem{Type: ProblemTypePrefix + slug, Title: title, Status: status, Detail: detail}
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// MarshalJSON writes the standard members, then the extension members.
func (p *Problem) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, 8+len(p.Extra))
	maps.Copy(m, p.Extra)
	m["type"], m["title"], m["status"] = p.Type, p.Title, p.Status
	if p.Detail != "" {
		m["detail"] = p.Detail
	}
	if p.Instance != "" {
		m["instance"] = p.Instance
	}
	if p.RequestID != "" {
		m["requestId"] = p.RequestID
	}
	if len(p.Errors) > 0 {
		m["errors"] = p.Errors
	}
	return json.Marshal(m)
}

// Common problems.

// BadRequest is a request the server cannot read.
func BadRequest(detail string, errs ...FieldError) *Problem {
	p := NewProblem(http.StatusBadRequest, "bad-request", "Bad request", detail)
	p.Errors = errs
	return p
}

// Invalid is a well-formed request that breaks validation rules.
func Invalid(errs []FieldError) *Problem {
	p := NewProblem(http.StatusUnprocessableEntity, "validation", "Validation failed",
		"the request breaks one or more validation rules; see errors")
	p.Errors = errs
	return p
}

// NotFound is an unknown resource.
func NotFound(detail string) *Problem {
	return NewProblem(http.StatusNotFound, "not-found", "Not found", detail)
}

// Conflict is a request that clashes with the resource's current state.
func Conflict(slug, detail string) *Problem {
	return NewProblem(http.StatusConflict, slug, "Conflict", detail)
}

// DatabaseRetryAfter is the Retry-After, in seconds, of the problems that answer a database
// fault: long enough for the pool to reconnect, or for a restarting server to come back.
const DatabaseRetryAfter = "1"

// DatabaseUnavailable is the answer to a connection fault that outlasted the retries
// (sqlerr.IsConnFault): the connection to the database failed before anything committed.
func DatabaseUnavailable() *Problem {
	p := NewProblem(http.StatusServiceUnavailable, "database-unavailable", "Service unavailable",
		"the database connection failed and the request was not completed; retry after Retry-After seconds")
	p.Headers = map[string]string{"Retry-After": DatabaseRetryAfter}
	return p
}

// OutcomeUnknown is the answer to a write whose COMMIT met a connection fault
// (sqlerr.ErrCommitUnknown): it may or may not have been stored, so the client reads it
// before it writes again.
func OutcomeUnknown() *Problem {
	p := NewProblem(http.StatusServiceUnavailable, "outcome-unknown", "Service unavailable",
		"the database connection failed while the change was committed: it may or may not have been stored; read the resource before retrying")
	p.Headers = map[string]string{"Retry-After": DatabaseRetryAfter}
	return p
}

// DatabaseProblem is the answer to err when it is a database fault that outlasted the retries:
// OutcomeUnknown for a COMMIT of unknown outcome, DatabaseUnavailable for a connection fault
// (a restart, a failover, a killed connection: not a bug, and a retry later can succeed). Any
// other error: nil.
func DatabaseProblem(err error) *Problem {
	switch {
	case errors.Is(err, sqlerr.ErrCommitUnknown):
		return OutcomeUnknown()
	case sqlerr.IsConnFault(err):
		return DatabaseUnavailable()
	}
	return nil
}

// fromError maps any error to the problem to send. Unknown errors become an opaque 500: their
// text may hold SQL or internals, so it is logged, never sent.
func fromError(err error) (p *Problem, internal bool) {
	if errors.As(err, &p) {
		return p, false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// The request ran out of time or the client left: not a bug, but worth a retry.
		return statusProblem(http.StatusServiceUnavailable), false
	}
	if p := DatabaseProblem(err); p != nil {
		return p, false
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return statusProblem(he.Code), he.Code >= 500
	}
	return statusProblem(http.StatusInternalServerError), true
}

func statusProblem(status int) *Problem {
	p := &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status}
	switch status {
	case http.StatusRequestEntityTooLarge:
		p.Detail = "the request body is larger than the limit"
	case http.StatusNotFound:
		p.Detail = "no such resource"
	case http.StatusMethodNotAllowed:
		p.Detail = "the resource does not support this method"
	case http.StatusServiceUnavailable:
		p.Detail = "the service could not answer in time; retry later"
	case http.StatusInternalServerError:
		p.Detail = "an unexpected error occurred; quote the requestId when reporting it"
	}
	if p.Title == "" {
		p.Title = "Error"
	}
	return p
}

// WriteError sends err as a problem response, logging unexpected errors with the request id.
func WriteError(c echo.Context, err error, logger *slog.Logger) {
	if c.Response().Committed {
		return
	}
	p, internal := fromError(err)
	switch {
	case internal:
		logger.ErrorContext(c.Request().Context(), "request failed",
			slog.String("method", c.Request().Method), slog.String("path", c.Path()),
			slog.Any("error", err))
	case p.Type == ProblemTypePrefix+"database-unavailable" || p.Type == ProblemTypePrefix+"outcome-unknown":
		logger.WarnContext(c.Request().Context(), "request failed on a database fault",
			slog.String("method", c.Request().Method), slog.String("path", c.Path()),
			slog.String("problem", p.Type), slog.Any("error", err))
	}
	out := *p
	out.RequestID = audit.CorrelationID(c.Request().Context())
	if out.Instance == "" {
		out.Instance = c.Request().URL.Path
	}
	h := c.Response().Header()
	for k, v := range p.Headers {
		h.Set(k, v)
	}
	h.Set(echo.HeaderContentType, ProblemContentType)
	c.Response().WriteHeader(out.Status)
	if c.Request().Method == http.MethodHead {
		return
	}
	b, _ := out.MarshalJSON()
	_, _ = c.Response().Write(b)
}

// ErrorHandler is the Echo error handler: every error becomes a problem response.
func ErrorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) { WriteError(c, err, logger) }
}

// Problems writes errors returned by the routes of one group as problem responses, so that a
// capability mounted on a host's Echo answers the same as on ours.
func Problems(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := next(c); err != nil {
				WriteError(c, err, logger)
			}
			return nil
		}
	}
}
