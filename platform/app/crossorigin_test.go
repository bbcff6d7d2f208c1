package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Every state-changing route of the table, in the default mode (auth none on loopback, the
// Quick start), refuses a write that a browser sent from a page on another site, whether the
// browser says so with Sec-Fetch-Site or only with Origin, and writes nothing.
func TestFaultCrossSiteWritesAreRefusedOnEveryRoute(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	created := s.Do(http.MethodPost, "/api/v1/campaigns", validBody("Cross-site target"), asUserA...)
	require.Equal(t, http.StatusCreated, created.Status, "body: %s", created.Body)
	sharedID := created.Map(t)["id"].(string)
	reqs := secRequests(func() string { return sharedID }, func(*testing.T) string { return sharedID })
	ctx := context.Background()
	before, err := s.API.Campaigns.Get(ctx, campaign.ID(uuid.MustParse(sharedID)))
	require.NoError(t, err)

	browsers := map[string][]string{
		"Sec-Fetch-Site cross-site":   {"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
		"Sec-Fetch-Site same-site":    {"Sec-Fetch-Site", "same-site", "Origin", "http://other.localhost"},
		"Origin only (older browser)": {"Origin", "https://evil.example"},
	}
	unsafe := 0
	for _, route := range app.RoutePolicy(s.API.Config) {
		if route.Method == http.MethodGet || route.Method == http.MethodHead {
			continue
		}
		unsafe++
		key := route.Method + " " + route.Path
		build, ok := reqs[key]
		require.True(t, ok, "no request for %s in secRequests", key)
		for name, headers := range browsers {
			path, body, extra := build(t, s, false)
			r := s.Do(route.Method, path, body, append(append(extra, asUserA...), headers...)...)
			p := requireProblem(t, r, http.StatusForbidden)
			assert.True(t, strings.HasSuffix(p["type"].(string), "cross-origin"), "%s, %s: %v", key, name, p)
		}
	}
	assert.Greater(t, unsafe, 20, "the table's state-changing routes were walked")

	after, err := s.API.Campaigns.Get(ctx, campaign.ID(uuid.MustParse(sharedID)))
	require.NoError(t, err)
	assert.Equal(t, before.Version(), after.Version(), "a refused request changed the campaign")
	list := s.Do(http.MethodGet, "/api/v1/campaigns", nil)
	assert.Len(t, list.Map(t)["campaigns"], 1, "a refused request created a campaign")

	// The console's own requests (same origin) and clients that are not browsers still write.
	same := s.Do(http.MethodPost, "/api/v1/campaigns", validBody("From the console"),
		append(asUserA, "Sec-Fetch-Site", "same-origin", "Origin", s.URL)...)
	assert.Equal(t, http.StatusCreated, same.Status, "body: %s", same.Body)
	plain := s.Do(http.MethodPost, "/api/v1/campaigns/"+sharedID+"/pause?dryRun=true", map[string]any{"reason": "curl"}, asUserA...)
	assert.Equal(t, http.StatusOK, plain.Status, "body: %s", plain.Body)
}

// A configured CORS origin may write from its pages; a page elsewhere still may not.
func TestCrossSiteWritesFromATrustedOrigin(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(cfg *config.Config) {
		cfg.CORS.AllowedOrigins = []string{"https://console.example.com"}
	}})
	trusted := s.Do(http.MethodPost, "/api/v1/campaigns", validBody("From a trusted origin"),
		append(asUserA, "Sec-Fetch-Site", "cross-site", "Origin", "https://console.example.com")...)
	assert.Equal(t, http.StatusCreated, trusted.Status, "body: %s", trusted.Body)
	requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", validBody("From elsewhere"),
		append(asUserA, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")...), http.StatusForbidden)
}

// On loopback the API answers to loopback names only: a page whose name was re-pointed at
// 127.0.0.1 (DNS rebinding) is same-origin to itself, so its Host is what gives it away.
func TestFaultForeignHostOnLoopbackIsRefused(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	require.Equal(t, "127.0.0.1", s.API.Config.HTTP.Host, "the default listens on loopback")
	port := s.URL[strings.LastIndex(s.URL, ":"):]
	send := func(method, host, path, body string) *apptest.Response {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-User-ID", userA)
		return doRaw(t, s, req)
	}
	for _, host := range []string{"evil.example" + port, "evil.example", "campaigns.attacker.test" + port} {
		for _, path := range []string{"/api/v1/campaigns", "/console", "/health"} {
			r := send(http.MethodGet, host, path, "")
			requireProblem(t, r, http.StatusForbidden)
		}
		r := send(http.MethodPost, host, "/api/v1/campaigns", string(mustJSON(t, validBody("Rebound"))))
		requireProblem(t, r, http.StatusForbidden)
	}
	for _, host := range []string{"127.0.0.1" + port, "localhost" + port, "[::1]" + port, "LOCALHOST" + port} {
		r := send(http.MethodGet, host, "/api/v1/campaigns", "")
		assert.Equal(t, http.StatusOK, r.Status, "Host %s: %s", host, r.Body)
	}
	assert.Len(t, s.Do(http.MethodGet, "/api/v1/campaigns", nil).Map(t)["campaigns"], 0, "a refused request created a campaign")
}

// doRaw sends req as built (its Host included), without the OpenAPI check.
func doRaw(t *testing.T, s *apptest.Server, req *http.Request) *apptest.Response {
	t.Helper()
	resp, err := s.Client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}
