package httpx

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// SetETag sets the strong ETag of a versioned resource: "<version>".
func SetETag(c echo.Context, version int64) {
	c.Response().Header().Set("ETag", ETag(version))
}

// ETag is the strong ETag of a version, as SetETag writes it.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// IfMatch reads the If-Match precondition. It returns ok=false when the header is absent or
// "*" (any version). A value that is not one of our strong ETags can never match: 412.
func IfMatch(c echo.Context) (version int64, ok bool, err error) {
	raw := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if raw == "" || raw == "*" {
		return 0, false, nil
	}
	// If-Match compares strongly (RFC 9110 13.1.1): a weak tag never matches.
	tag := raw
	if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
		if v, perr := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); perr == nil && v > 0 {
			return v, true, nil
		}
	}
	return 0, false, PreconditionFailed("If-Match does not name a current version of this resource")
}

// IfMatchAny reports whether If-Match is "*": the caller accepts whatever version is current.
func IfMatchAny(c echo.Context) bool {
	return strings.TrimSpace(c.Request().Header.Get("If-Match")) == "*"
}

// PreconditionFailed is a stale or unmatchable If-Match.
func PreconditionFailed(detail string) *Problem {
	return NewProblem(http.StatusPreconditionFailed, "precondition-failed", "Precondition failed", detail)
}

// PreconditionRequired asks the client to say which version it is changing.
func PreconditionRequired(detail string) *Problem {
	return NewProblem(http.StatusPreconditionRequired, "precondition-required", "Precondition required", detail)
}
