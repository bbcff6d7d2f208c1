package app_test

import (
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
// proxies and `curl -I` ask that way). The requests are sent without the OpenAPI check: the
// document describes GET; HEAD is HTTP's.
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
		get := sendOutsideTheDocument(t, s, http.MethodGet, path, append(extra, asUserA...))
		head := sendOutsideTheDocument(t, s, http.MethodHead, path, append(extra, asUserA...))
		walked++
		assert.Equal(t, get.Status, head.Status, "%s: HEAD answers as GET", key)
		assert.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"), key)
		assert.Equal(t, get.Header.Get("Location"), head.Header.Get("Location"), key)
		if n := get.Header.Get("Content-Length"); n != "" {
			assert.Equal(t, n, head.Header.Get("Content-Length"), key)
		}
		assert.Empty(t, head.Body, "%s: HEAD has no body", key)
	}
	assert.Greater(t, walked, 15, "the table's GET routes were walked")

	// The two ways in a newcomer types: the address, and the docs with a slash.
	root := sendOutsideTheDocument(t, s, http.MethodGet, "/", nil)
	assert.Equal(t, http.StatusFound, root.Status)
	assert.Equal(t, "console", root.Header.Get("Location"))
	slash := sendOutsideTheDocument(t, s, http.MethodGet, "/docs/", nil)
	assert.Equal(t, http.StatusMovedPermanently, slash.Status)
	assert.Equal(t, "../docs", slash.Header.Get("Location"))
	page := sendOutsideTheDocument(t, s, http.MethodHead, "/docs", nil)
	assert.Equal(t, http.StatusOK, page.Status)
	assert.True(t, strings.HasPrefix(page.Header.Get("Content-Type"), "text/html"))
}
