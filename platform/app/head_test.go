package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Every GET route of the table answers HEAD as it answers GET, without the body: the same
// status, the same Content-Type and Content-Length where GET gives one (link checkers,
// proxies and `curl -I` ask that way).
func TestEveryGetRouteAnswersHead(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	created := s.Do(http.MethodPost, "/api/v1/campaigns", validBody("Head target"), asUserA...)
	require.Equal(t, http.StatusCreated, created.Status, "body: %s", created.Body)
	id := created.Map(t)["id"].(string)
	reqs := secRequests(func() string { return id }, func(*testing.T) string { return id })

	walked := 0
	for _, route := range app.RoutePolicy(s.API.Config) {
		if route.Method != http.MethodGet {
			continue
		}
		key := route.Method + " " + route.Path
		build, ok := reqs[key]
		require.True(t, ok, "no request for %s in secRequests", key)
		path, _, extra := build(t, s, false)
		get := send(t, s, http.MethodGet, path, append(extra, asUserA...))
		head := send(t, s, http.MethodHead, path, append(extra, asUserA...))
		walked++
		assert.Equal(t, get.StatusCode, head.StatusCode, "%s: HEAD answers as GET", key)
		assert.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"), key)
		assert.Equal(t, get.Header.Get("Location"), head.Header.Get("Location"), key)
		if n := get.Header.Get("Content-Length"); n != "" {
			assert.Equal(t, n, head.Header.Get("Content-Length"), key)
		}
		body, err := io.ReadAll(head.Body)
		require.NoError(t, err)
		assert.Empty(t, body, "%s: HEAD has no body", key)
	}
	assert.Greater(t, walked, 15, "the table's GET routes were walked")

	// The two ways in a newcomer types: the address, and the docs with a slash.
	root := send(t, s, http.MethodGet, "/", nil)
	assert.Equal(t, http.StatusFound, root.StatusCode)
	assert.Equal(t, "console", root.Header.Get("Location"))
	slash := send(t, s, http.MethodGet, "/docs/", nil)
	assert.Equal(t, http.StatusMovedPermanently, slash.StatusCode)
	assert.Equal(t, "../docs", slash.Header.Get("Location"))
	page := send(t, s, http.MethodHead, "/docs", nil)
	assert.Equal(t, http.StatusOK, page.StatusCode)
	assert.True(t, strings.HasPrefix(page.Header.Get("Content-Type"), "text/html"))
}

// send sends a request as built, without following redirects or checking the OpenAPI
// document (which describes GET; HEAD is HTTP's), and returns the response with its body
// still to read.
func send(t *testing.T, s *apptest.Server, method, path string, header []string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}
