package httpx_test

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// TestFaultDatabaseProblems: a database fault that outlasted the retries is a 503 problem with
// Retry-After, never a 500; a COMMIT of unknown outcome says so; other errors stay 500.
func TestFaultDatabaseProblems(t *testing.T) {
	t.Parallel()
	killed := &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		typ    string
	}{
		{"terminated connection", fmt.Errorf("get campaign: %w", killed), http.StatusServiceUnavailable, "urn:campaigns:problem:database-unavailable"},
		{"bad connection", fmt.Errorf("insert: %w", driver.ErrBadConn), http.StatusServiceUnavailable, "urn:campaigns:problem:database-unavailable"},
		{"EOF", fmt.Errorf("list: %w", io.ErrUnexpectedEOF), http.StatusServiceUnavailable, "urn:campaigns:problem:database-unavailable"},
		{"COMMIT of unknown outcome", fmt.Errorf("%w: %w", sqlerr.ErrCommitUnknown, killed), http.StatusServiceUnavailable, "urn:campaigns:problem:outcome-unknown"},
		{"anything else", errors.New("boom"), http.StatusInternalServerError, "about:blank"},
		{"a statement the server refused", &pgconn.PgError{Severity: "ERROR", Code: "42601"}, http.StatusInternalServerError, "about:blank"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := echo.New()
			rec := httptest.NewRecorder()
			c := e.NewContext(httptest.NewRequest(http.MethodPost, "/api/v1/campaigns", nil), rec)
			httpx.WriteError(c, tc.err, slog.New(slog.NewTextHandler(io.Discard, nil)))
			require.Equal(t, tc.status, rec.Code)
			var p map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			assert.Equal(t, tc.typ, p["type"])
			assert.NotContains(t, rec.Body.String(), "SQLSTATE", "no internals in the answer")
			if tc.status == http.StatusServiceUnavailable {
				assert.Equal(t, httpx.DatabaseRetryAfter, rec.Header().Get("Retry-After"))
			} else {
				assert.Nil(t, httpx.DatabaseProblem(tc.err))
			}
		})
	}
}
