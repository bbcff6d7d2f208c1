package httpx

import (
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/platform/audit"
)

// Headers that carry a request's identity.
const (
	HeaderRequestID     = "X-Request-ID"
	HeaderCorrelationID = "X-Correlation-ID"
	HeaderUserID        = "X-User-ID"
)

// maxRequestIDLen bounds a caller-supplied id so that logs and events stay small.
const maxRequestIDLen = 128

// validRequestID accepts printable ASCII without spaces, so that ids are safe in logs and
// headers.
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// RequestIDs takes the caller's X-Request-ID (else X-Correlation-ID) when it is sane, or makes
// one, echoes it in the response and puts it in the request context for logs and events.
func RequestIDs() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			id := strings.TrimSpace(req.Header.Get(HeaderRequestID))
			if !validRequestID(id) {
				id = strings.TrimSpace(req.Header.Get(HeaderCorrelationID))
			}
			if !validRequestID(id) {
				id = uuid.NewString()
			}
			c.Response().Header().Set(HeaderRequestID, id)
			c.SetRequest(req.WithContext(audit.WithCorrelationID(req.Context(), id)))
			return next(c)
		}
	}
}

// HeaderIdentity trusts an X-User-ID header holding a UUID as the caller's identity. It stands
// in for authentication on trusted networks; a header that is not a UUID is ignored.
func HeaderIdentity() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if id, err := uuid.Parse(req.Header.Get(HeaderUserID)); err == nil && id != uuid.Nil {
				c.SetRequest(req.WithContext(audit.WithActor(req.Context(), id)))
			}
			return next(c)
		}
	}
}

// forgetAnswerKey marks, on the echo.Context, an answer the idempotency layer must not keep.
const forgetAnswerKey = "httpx.forgetAnswer"

// ForgetAnswer asks the idempotency layer not to keep this request's answer for replay: it is
// a success as a whole, but part of it failed in a way a retry with the same key may fix (a
// bulk action whose 200 reports a 503 for one campaign).
func ForgetAnswer(c echo.Context) { c.Set(forgetAnswerKey, true) }

// AnswerForgotten reports whether ForgetAnswer was called for this request.
func AnswerForgotten(c echo.Context) bool {
	v, _ := c.Get(forgetAnswerKey).(bool)
	return v
}
