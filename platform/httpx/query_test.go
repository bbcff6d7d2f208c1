package httpx_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

func TestQueryRefusesWhatTheRouteDoesNotDeclare(t *testing.T) {
	t.Parallel()
	e := httpx.NewEcho(httpx.EchoConfig{Logger: discardLogger(), BodyLimit: 1024, RequestTimeout: 5 * time.Second})
	ok := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	e.GET("/list", ok, httpx.Query(httpx.Many("status"), httpx.One("limit")))
	e.GET("/none", ok, httpx.Query())
	tests := []struct {
		target string
		status int
		fields []string
	}{
		{"/list", 200, nil},
		{"/list?limit=5&status=A&status=B", 200, nil},
		{"/list?status=A,B", 200, nil},
		{"/list?limit=", 200, nil}, // an empty value is the handler's to judge
		{"/list?foo=1", 400, []string{"foo"}},
		{"/list?Limit=5", 400, []string{"Limit"}}, // names match exactly
		{"/list?limit=1&limit=2", 400, []string{"limit"}},
		{"/list?limit=1&limit=1", 400, []string{"limit"}},
		{"/list?limit=1&limit=2&foo=1&bar", 400, []string{"bar", "foo", "limit"}},
		{"/list?=1", 400, []string{""}},
		{"/list?%00=1", 400, []string{"\x00"}},
		{"/list?limit=%zz", 400, nil},        // malformed: url.Values would drop the pair
		{"/list?limit=1;status=A", 400, nil}, // semicolons are not separators
		{"/none", 200, nil},
		{"/none?dryRun=true", 400, []string{"dryRun"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.target, nil))
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			if tt.status == 200 {
				return
			}
			assert.Equal(t, httpx.ProblemContentType, rec.Header().Get(echo.HeaderContentType))
			var p problemBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			assert.Equal(t, 400, p.Status)
			assert.Equal(t, httpx.ProblemTypePrefix+"bad-request", p.Type)
			var fields []string
			for _, fe := range p.Errors {
				fields = append(fields, fe.Field)
				assert.NotEmpty(t, fe.Message)
			}
			assert.Equal(t, tt.fields, fields)
		})
	}
}
