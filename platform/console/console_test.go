package console_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/console"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestConsoleServesTheAppAndItsAssets(t *testing.T) {
	e := httpx.NewEcho(httpx.EchoConfig{Logger: slog.New(slog.DiscardHandler), BodyLimit: 1 << 20, RequestTimeout: 10 * time.Second})
	require.NoError(t, console.Register(e))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	// The app's page for /console and for every path the app routes itself.
	var index string
	for _, path := range []string{"/console", "/console/", "/console/new", "/console/campaigns/01a22748-ec08-7821-89b4-ba497f8ae53c", "/console/?status=ACTIVE"} {
		resp, body := get(t, srv, path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, "text/html; charset=UTF-8", resp.Header.Get("Content-Type"), path)
		assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"), path)
		csp := resp.Header.Get("Content-Security-Policy")
		assert.Contains(t, csp, "script-src 'self'", path)
		assert.Contains(t, csp, "connect-src 'self'", path)
		assert.NotContains(t, csp, "unsafe-inline", path)
		assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), path)
		assert.Contains(t, body, `<main id="main"`, path)
		index = body
	}

	// Every asset the page names is served, with its type, cached for good (the names carry
	// a content hash).
	assets := regexp.MustCompile(`(?:src|href)="(/console/assets/[^"]+)"`).FindAllStringSubmatch(index, -1)
	require.Len(t, assets, 2, "the page loads one script and one style sheet: %s", index)
	types := map[string]string{}
	for _, m := range assets {
		resp, body := get(t, srv, m[1])
		require.Equal(t, http.StatusOK, resp.StatusCode, m[1])
		assert.NotEmpty(t, body, m[1])
		assert.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"), m[1])
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), m[1])
		types[resp.Header.Get("Content-Type")] = m[1]
	}
	assert.Contains(t, types, "text/javascript; charset=utf-8")
	assert.Contains(t, types, "text/css; charset=utf-8")

	// An unknown asset is a 404 problem, not the page; so is a path that tries to climb out.
	for _, path := range []string{"/console/assets/missing.js", "/console/assets/../index.html", "/console/assets/%2e%2e/index.html"} {
		resp, body := get(t, srv, path)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), path)
		assert.NotContains(t, body, "<html", path)
	}
}
