package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// With the default limits, a storefront evaluating once per page view is not throttled like an
// editor: 300 evaluations in a row from one caller all pass (they got 429s at 50/s before),
// while the editing routes keep their limit. The clock is frozen: no token comes back.
func TestServingRoutesHaveTheirOwnRateLimit(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Now())
	s := apptest.New(t, dbtest.SQLiteTarget(t), func(cfg *config.Config) {
		cfg.RateLimit.Enabled = true // with the default limits
		require.Equal(t, 50.0, cfg.RateLimit.RequestsPerSecond)
		require.Equal(t, 100, cfg.RateLimit.Burst)
	}, app.WithClock(clk.Now))
	id := create(t, s, validBody("Rate classes"))["id"].(string)
	req := map[string]any{"customerId": "c-1", "context": map[string]any{"order_amount": 150}}
	for i := range 300 {
		r := s.Do(http.MethodPost, "/api/v1/targeting/evaluate", req, asUserA...)
		require.Equal(t, http.StatusOK, r.Status, "evaluation %d: %s", i, r.Body)
	}
	limited := 0
	for range 150 {
		switch r := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil, asUserA...); r.Status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("GET: %d %s", r.Status, r.Body)
		}
	}
	assert.Equal(t, 150-99, limited, "the editing class: a burst of 100, one spent creating the campaign")
	r := s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/evaluate", req, asUserA...)
	assert.Equal(t, http.StatusOK, r.Status, "a spent editing budget does not touch the serving one")
}

// Each class has its own bucket per caller; track is in the serving class.
func TestRateLimitClassesAreSeparate(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Now())
	s := apptest.New(t, dbtest.SQLiteTarget(t), func(cfg *config.Config) {
		cfg.RateLimit.Enabled = true
		cfg.RateLimit.RequestsPerSecond, cfg.RateLimit.Burst = 1, 2
		cfg.RateLimit.Serving = config.RateClass{RequestsPerSecond: 1, Burst: 5}
	}, app.WithClock(clk.Now))
	evaluate := func() *apptest.Response {
		return s.Do(http.MethodPost, "/api/v1/targeting/evaluate", map[string]any{"customerId": "c-1"}, asUserA...)
	}
	track := func() *apptest.Response {
		return s.Do(http.MethodPost, "/api/v1/campaigns/00000000-0000-4000-8000-000000000001/track",
			map[string]any{"type": "IMPRESSION"}, asUserA...)
	}
	for range 3 {
		require.Equal(t, http.StatusOK, evaluate().Status)
	}
	for range 2 {
		require.Equal(t, http.StatusNotFound, track().Status, "served (no such campaign), not limited")
	}
	p := requireProblem(t, track(), http.StatusTooManyRequests)
	assert.Equal(t, "urn:campaigns:problem:rate-limited", p["type"])
	requireProblem(t, evaluate(), http.StatusTooManyRequests)
	for range 2 {
		require.Equal(t, http.StatusOK, s.Do(http.MethodGet, "/api/v1/campaigns", nil, asUserA...).Status,
			"the default class has its own bucket")
	}
	requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns", nil, asUserA...), http.StatusTooManyRequests)
	assert.Equal(t, http.StatusOK, s.Do(http.MethodPost, "/api/v1/targeting/evaluate",
		map[string]any{"customerId": "c-1"}, "X-User-ID", userB).Status, "another caller has its own serving bucket")
	clk.advance(time.Second)
	assert.Equal(t, http.StatusOK, evaluate().Status, "a token a second comes back")
}

// The route table marks exactly the serving and tracking routes.
func TestServingClassRoutes(t *testing.T) {
	t.Parallel()
	var serving []string
	for _, r := range app.RoutePolicy(apptest.Config(t, dbtest.SQLiteTarget(t))) {
		if r.Class == auth.ClassServing {
			serving = append(serving, r.Method+" "+r.Path)
		}
	}
	assert.ElementsMatch(t, []string{
		"POST /api/v1/campaigns/:id/track",
		"POST /api/v1/targeting/evaluate",
		"POST /api/v1/campaigns/:id/evaluate",
	}, serving)
}
