package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

func TestCrossOriginRefusesWritesFromOtherSites(t *testing.T) {
	t.Parallel()
	serve := func(trusted []string) func(method string, header ...string) int {
		mw, err := httpx.CrossOrigin(trusted)
		require.NoError(t, err)
		e := echo.New()
		e.HTTPErrorHandler = httpx.ErrorHandler(discardLogger())
		ok := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			e.Add(m, "/x", ok, mw)
		}
		return func(method string, header ...string) int {
			req := httptest.NewRequest(method, "http://api.local/x", nil)
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			return rec.Code
		}
	}
	crossSite := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
	do := serve(nil)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		assert.Equal(t, http.StatusForbidden, do(m, crossSite...), m)
		assert.Equal(t, http.StatusForbidden, do(m, "Origin", "https://evil.example"), "%s with Origin only", m)
		assert.Equal(t, http.StatusForbidden, do(m, "Sec-Fetch-Site", "same-site"), "%s from a sibling site", m)
		assert.Equal(t, http.StatusNoContent, do(m, "Sec-Fetch-Site", "same-origin"), m)
		assert.Equal(t, http.StatusNoContent, do(m, "Origin", "http://api.local"), "%s with a matching Origin", m)
		assert.Equal(t, http.StatusNoContent, do(m), "%s from a client that is not a browser", m)
	}
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		assert.Equal(t, http.StatusNoContent, do(m, crossSite...), "%s is safe", m)
	}

	trusted := serve([]string{"https://console.example.com"})
	assert.Equal(t, http.StatusNoContent, trusted(http.MethodPost, "Sec-Fetch-Site", "cross-site", "Origin", "https://console.example.com"))
	assert.Equal(t, http.StatusForbidden, trusted(http.MethodPost, crossSite...))

	// "*": a write that carries credentials went through a CORS preflight; one without did not.
	open := serve([]string{"*"})
	assert.Equal(t, http.StatusForbidden, open(http.MethodPost, crossSite...))
	assert.Equal(t, http.StatusNoContent, open(http.MethodPost, append(crossSite, "Authorization", "Bearer t")...))
	assert.Equal(t, http.StatusNoContent, open(http.MethodPost, append(crossSite, "X-API-Key", "k")...))

	_, err := httpx.CrossOrigin([]string{"console.example.com/app"})
	assert.Error(t, err, "an origin with a path")
}

func TestLoopbackHostsRefuseOtherNames(t *testing.T) {
	t.Parallel()
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(discardLogger())
	e.Use(httpx.LoopbackHosts("campaigns.internal"))
	e.GET("/x", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	for host, want := range map[string]int{
		"127.0.0.1:8080": http.StatusNoContent, "localhost:8080": http.StatusNoContent, "[::1]:8080": http.StatusNoContent,
		"localhost": http.StatusNoContent, "127.0.0.2": http.StatusNoContent, "campaigns.internal:8080": http.StatusNoContent,
		"evil.example:8080": http.StatusForbidden, "evil.example": http.StatusForbidden, "10.0.0.1:8080": http.StatusForbidden,
		"localhost.evil.example": http.StatusForbidden, "": http.StatusForbidden,
	} {
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		assert.Equal(t, want, rec.Code, "Host %q", host)
		if want == http.StatusForbidden {
			assert.Equal(t, httpx.ProblemContentType, rec.Header().Get("Content-Type"))
		}
	}
}
