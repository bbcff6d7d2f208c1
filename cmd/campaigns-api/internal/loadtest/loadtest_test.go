package loadtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

const promotionDSL = "IF order.amount > 100 THEN discount.percentage = 10"

// runFor runs a load test against url and checks the bound on its length: the attack lasts
// the duration (it may end one request timeout later), setup and cleanup come on top.
func runFor(t *testing.T, cfg Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := Run(ctx, cfg, &progress)
	require.NoError(t, err, "progress: %s", progress.String())
	require.NotNil(t, rep)
	assert.LessOrEqual(t, rep.Elapsed, (cfg.Duration + cfg.Timeout).Seconds(), "the attack outlived its bound")
	assert.GreaterOrEqual(t, rep.Elapsed, cfg.Duration.Seconds()*0.9, "the attack stopped early")
	return rep
}

// runCampaigns lists the live campaigns whose name starts with the run id.
func runCampaigns(t *testing.T, s *apptest.Server, run string) []map[string]any {
	t.Helper()
	r := s.Do(http.MethodGet, "/api/v1/campaigns?limit=100&q="+url.QueryEscape(run), nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var out []map[string]any
	for _, c := range r.Map(t)["campaigns"].([]any) {
		if m := c.(map[string]any); strings.HasPrefix(m["name"].(string), run+"-") {
			out = append(out, m)
		}
	}
	return out
}

func requireAPIStatus(t *testing.T, s *apptest.Server, method, path string, want int) map[string]any {
	t.Helper()
	r := s.Do(method, path, nil)
	require.Equal(t, want, r.Status, "%s %s: %s", method, path, r.Body)
	return r.Map(t)
}

// The whole run against the real API (production HTTP server, real database, embedded NATS):
// every operation is sent and answered 2xx, the mix holds, the report has its percentiles,
// and cleanup leaves nothing behind.
func TestLoadTestAgainstTheAPI(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		s := apptest.Serve(t, target, apptest.ServerConfig{})
		cfg := Config{URL: s.URL, Duration: 2 * time.Second, Rate: 200, Workers: 16, Timeout: 5 * time.Second,
			Campaigns: 5, Batch: 10, Cleanup: true}
		rep := runFor(t, cfg)
		var text bytes.Buffer
		rep.WriteText(&text)
		t.Log("\n" + text.String())

		assert.True(t, rep.Activated, "notes: %v", rep.Notes)
		for _, op := range rep.Operations {
			assert.Positive(t, op.Requests, "operation %s got no request", op.Op)
			assert.Equal(t, 1.0, op.Success, "operation %s: codes %v, errors %v", op.Op, op.StatusCodes, op.Errors)
			assert.Positive(t, op.Latency.P50, op.Op)
			assert.LessOrEqual(t, op.Latency.P50, op.Latency.P90, op.Op)
			assert.LessOrEqual(t, op.Latency.P90, op.Latency.P99, op.Op)
			assert.LessOrEqual(t, op.Latency.P99, op.Latency.Max, op.Op)
		}
		assert.Zero(t, rep.ServerErrors())
		assert.Zero(t, rep.NoAnswer())
		// 200 req/s for 2 s is 400 requests on an idle machine; a busy one under the race
		// detector answers fewer. Each deck of 200 is the exact mix; the partial deck's
		// deviation shrinks with the count (three standard deviations of a draw of n).
		n := float64(rep.Total.Requests)
		require.GreaterOrEqual(t, n, 20.0, "the run sent almost nothing")
		for class, want := range map[Class]float64{ClassRead: 80, ClassTrack: 15, ClassWrite: 5} {
			tol := max(2, 300*math.Sqrt(want/100*(1-want/100)/n))
			assert.InDelta(t, want, rep.Mix[class], tol, "class %s over %d requests: mix %v", class, rep.Total.Requests, rep.Mix)
		}
		assert.LessOrEqual(t, n, 420.0, "200 req/s for 2 s")
		track := rep.Operations[3]
		require.Equal(t, OpTrack, track.Op)
		assert.Equal(t, int(track.Requests)*cfg.Batch, rep.TrackedEvents, "every event of every batch accepted")
		assert.Equal(t, map[string]int{"202": int(track.Requests)}, track.StatusCodes)

		for _, want := range []string{"p50", "p90", "p99", "max", "get", "list", "metrics", "track", "create",
			"update", "lifecycle", "total", "mix: read", "cleanup: deleted"} {
			assert.Contains(t, text.String(), want)
		}
		var js bytes.Buffer
		require.NoError(t, rep.WriteJSON(&js))
		assert.Contains(t, js.String(), `"p99"`)

		// Cleanup: the fixtures, the created campaigns, all gone.
		require.NotNil(t, rep.Deleted)
		assert.GreaterOrEqual(t, *rep.Deleted, cfg.Campaigns+2*writeFixtures+int(rep.Operations[4].Requests))
		assert.Empty(t, runCampaigns(t, s, rep.Run))
	})
}

// A deployment whose Rules Engine does not know the fixtures' rule refuses activation: the run
// goes on with DRAFT campaigns, says so, and still tracks. Given an ACTIVE rule (-rule) it
// activates them. Without cleanup, the run's campaigns stay.
func TestLoadTestWithARulesEngine(t *testing.T) {
	e := enginetest.New(t)
	s := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(c *config.Config) {
		c.RulesEngine.URL = e.URL
		c.RulesEngine.Timeout = 2 * time.Second
		c.RulesEngine.MaxRetries = 0
	}})
	cfg := Config{URL: s.URL, Duration: 1500 * time.Millisecond, Rate: 100, Workers: 8, Timeout: 5 * time.Second,
		Campaigns: 3, Batch: 5, Cleanup: false}

	refused := runFor(t, cfg)
	assert.False(t, refused.Activated)
	require.NotEmpty(t, refused.Notes)
	assert.Contains(t, refused.Notes[0], "activation was refused")
	assert.Contains(t, refused.Notes[0], "422")
	for _, op := range refused.Operations {
		assert.Positive(t, op.Requests, op.Op)
		assert.Equal(t, 1.0, op.Success, "operation %s: codes %v", op.Op, op.StatusCodes)
	}
	assert.Positive(t, refused.TrackedEvents)
	var text bytes.Buffer
	refused.WriteText(&text)
	assert.Contains(t, text.String(), "DRAFT campaigns for reads and tracking")
	assert.Contains(t, text.String(), "cleanup: off")
	left := runCampaigns(t, s, refused.Run)
	assert.GreaterOrEqual(t, len(left), cfg.Campaigns+2*writeFixtures)
	for _, c := range left {
		assert.Equal(t, "DRAFT", c["status"])
	}

	cfg.RuleID = e.AddRule("ACTIVE", promotionDSL).String()
	cfg.Cleanup = true
	active := runFor(t, cfg)
	assert.True(t, active.Activated, "notes: %v", active.Notes)
	assert.Zero(t, active.ServerErrors())
	assert.Empty(t, runCampaigns(t, s, active.Run))
}

// On a deployment that authenticates with API keys, -api-key is sent on every request (setup,
// attack, cleanup); without it the setup is refused, and the run ends with the reason.
func TestLoadTestWithAnAPIKey(t *testing.T) {
	const key = "load-test-key-0123456789abcdef0123456789"
	sum := sha256.Sum256([]byte(key))
	s := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(c *config.Config) {
		c.Auth.Mode = config.AuthAPIKey
		c.Auth.APIKeys = []config.APIKey{{Name: "loadtest", SHA256: hex.EncodeToString(sum[:]),
			Roles: []string{"editor", "manager", "tracker"}, Owner: "3f1c2b4a-5d6e-4f70-8a91-b2c3d4e5f607"}}
	}})
	rep := runFor(t, Config{URL: s.URL, Duration: time.Second, Rate: 100, Workers: 8, Timeout: 5 * time.Second,
		Campaigns: 2, Batch: 5, APIKey: key, Cleanup: true})
	assert.True(t, rep.Activated)
	assert.Equal(t, 1.0, rep.Total.Success, "codes %v", rep.Total.StatusCodes)
	require.NotNil(t, rep.Deleted)
	assert.Positive(t, *rep.Deleted)

	_, err := Run(context.Background(), Config{URL: s.URL, Duration: time.Second, Campaigns: 1}, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "401")
}

// Cancelling (Ctrl-C) ends the attack at once, and cleanup still runs.
func TestLoadTestStopsWhenCancelled(t *testing.T) {
	s := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	began := time.Now()
	rep, err := Run(ctx, Config{URL: s.URL, Duration: MaxDuration, Rate: 50, Campaigns: 2, Cleanup: true}, io.Discard)
	require.NoError(t, err)
	assert.Less(t, time.Since(began), 30*time.Second)
	assert.Less(t, rep.Elapsed, 10.0)
	assert.Positive(t, rep.Total.Requests)
	require.NotNil(t, rep.Deleted)
	assert.Positive(t, *rep.Deleted)
	assert.Empty(t, runCampaigns(t, s, rep.Run))
}

// Bad flags are refused (exit 2) before any request is sent.
func TestBadFlagsAreRefused(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-url", "ftp://127.0.0.1/"}, "http or https"},
		{[]string{"-url", "file:///etc/passwd"}, "http or https"},
		{[]string{"-url", "127.0.0.1:8080"}, "-url"},
		{[]string{"-url", "http://"}, "no host"},
		{[]string{"-url", "http://user:secret@127.0.0.1:8080"}, "credentials"},
		{[]string{"-url", srv.URL + "/?x=1"}, "query"},
		{[]string{"-url", "http://[::1"}, "not a URL"},
		{[]string{"-url", srv.URL, "-duration", "0s"}, "-duration"},
		{[]string{"-url", srv.URL, "-duration", "11m"}, "-duration"},
		{[]string{"-url", srv.URL, "-duration", "soon"}, "invalid value"},
		{[]string{"-url", srv.URL, "-rate", "-1"}, "-rate"},
		{[]string{"-url", srv.URL, "-rate", "1000001"}, "-rate"},
		{[]string{"-url", srv.URL, "-workers", "0"}, "-workers"},
		{[]string{"-url", srv.URL, "-workers", "5000"}, "-workers"},
		{[]string{"-url", srv.URL, "-batch", "1001"}, "-batch"},
		{[]string{"-url", srv.URL, "-campaigns", "0"}, "-campaigns"},
		{[]string{"-url", srv.URL, "-timeout", "1ms"}, "-timeout"},
		{[]string{"-url", srv.URL, "-token", "t", "-api-key", "k"}, "not both"},
		{[]string{"-url", srv.URL, "-user", "bob"}, "UUID"},
		{[]string{"-url", srv.URL, "-rule", "r1"}, "UUID"},
		{[]string{"-url", srv.URL, "-prefix", "a b"}, "-prefix"},
		{[]string{"-url", srv.URL, "-nope"}, "not defined"},
		{[]string{"-url", srv.URL, "extra"}, "unexpected"},
	}
	noEnv := func(string) (string, bool) { return "", false }
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), c.args, &stdout, &stderr, noEnv)
		assert.Equal(t, 2, code, "args %v: stderr %s", c.args, stderr.String())
		assert.Contains(t, stderr.String(), c.want, "args %v", c.args)
		assert.Empty(t, stdout.String(), "args %v", c.args)
	}
	// Both credentials from the environment are refused the same way.
	var stderr bytes.Buffer
	env := func(k string) (string, bool) {
		return map[string]string{"CAMPAIGNS_LOADTEST_TOKEN": "t", "CAMPAIGNS_LOADTEST_API_KEY": "k"}[k], true
	}
	assert.Equal(t, 2, Main(context.Background(), []string{"-url", srv.URL}, io.Discard, &stderr, env))
	assert.Contains(t, stderr.String(), "not both")
	assert.Zero(t, hits.Load(), "a refused command sent a request")

	assert.Equal(t, 0, Main(context.Background(), []string{"-h"}, io.Discard, io.Discard, noEnv))
}

// A deployment that answers the setup with an error ends the run with exit 1 and the reason.
func TestSetupFailureExits1(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"title":"Unauthorized","status":401,"detail":"missing credentials"}`)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"-url", srv.URL, "-duration", "1s"}, &stdout, &stderr,
		func(string) (string, bool) { return "", false })
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "401 Unauthorized: missing credentials")
	assert.Empty(t, stdout.String())
}

func TestEveryDeckIsTheMix(t *testing.T) {
	p := newPlan(&url.URL{Scheme: "http", Host: "127.0.0.1"}, http.Header{}, "r", 1, 7)
	for range 3 {
		counts := map[Op]int{}
		for range deckSize {
			counts[p.next()]++
		}
		for _, m := range Mix() {
			assert.Equal(t, m.Weight, counts[m.Op], m.Op)
		}
	}
	total := map[Class]int{}
	for _, m := range Mix() {
		total[m.Class] += m.Weight
	}
	assert.Equal(t, map[Class]int{ClassRead: 160, ClassTrack: 30, ClassWrite: 10}, total)
}

func TestClassify(t *testing.T) {
	p := newPlan(&url.URL{Scheme: "http", Host: "h", Path: "/base"}, http.Header{}, "r", 1, 1)
	api := "http://h/base/api/v1/campaigns"
	cases := []struct {
		method, url string
		op          Op
		id          string
	}{
		{http.MethodGet, api + "/abc", OpGet, "abc"},
		{http.MethodGet, api + "?q=r&limit=20", OpList, ""},
		{http.MethodGet, api + "/abc/metrics?from=2026-01-01", OpMetrics, "abc"},
		{http.MethodPost, api + "/abc/track", OpTrack, "abc"},
		{http.MethodPost, api, OpCreate, ""},
		{http.MethodPut, api + "/abc", OpUpdate, "abc"},
		{http.MethodPost, api + "/abc/pause", OpLifecycle, "abc"},
		{http.MethodPost, api + "/abc/activate?dryRun=true", OpLifecycle, "abc"},
		{http.MethodGet, "http://h/other", "", ""},
	}
	for _, c := range cases {
		op, id := p.classify(c.method, c.url)
		assert.Equal(t, c.op, op, c.url)
		assert.Equal(t, c.id, id, c.url)
	}
}

// Whatever -url holds, parsing never panics, and what it accepts is an http or https URL with
// a host and without credentials, query or fragment.
func FuzzParseBaseURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080", "https://h/base/", "ftp://h", "http://u:p@h", "http://h/?q",
		"http://[::1]:80", "http://h//", "//h", "http:h", "HTTP://H", "http://h#f", "http://%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := parseBaseURL(raw)
		if err != nil {
			require.ErrorIs(t, err, ErrUsage)
			return
		}
		assert.Contains(t, []string{"http", "https"}, u.Scheme)
		assert.NotEmpty(t, u.Hostname())
		assert.Nil(t, u.User)
		assert.Empty(t, u.RawQuery)
		assert.Empty(t, u.Fragment)
		assert.False(t, strings.HasSuffix(u.Path, "/"))
	})
}
