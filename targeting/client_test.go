package targeting_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/targeting"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

func newClient(e *enginetest.Engine, mutate func(*targeting.Config)) *targeting.Client {
	cfg := targeting.Config{URL: e.URL, Timeout: 200 * time.Millisecond, MaxRetries: 2,
		BreakerFailures: 3, BreakerOpenFor: 300 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg)
	}
	return targeting.NewClient(cfg)
}

func TestClientRules(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, nil)
	ctx := context.Background()
	active := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	inactive := e.AddRule("INACTIVE", enginetest.PromotionDSL)

	r, err := c.Rule(ctx, active)
	require.NoError(t, err)
	assert.Equal(t, active, r.ID)
	assert.Equal(t, targeting.RuleActive, r.Status)
	assert.Equal(t, enginetest.PromotionDSL, r.DSLContent)
	assert.Equal(t, "PROMOTIONS", r.Category)

	r, err = c.Rule(ctx, inactive)
	require.NoError(t, err)
	assert.Equal(t, targeting.RuleInactive, r.Status)

	_, err = c.Rule(ctx, uuid.New())
	assert.ErrorIs(t, err, targeting.ErrRuleNotFound)

	ev, err := c.Evaluate(ctx, r, json.RawMessage(`{"order_amount": 150}`))
	require.NoError(t, err)
	assert.True(t, ev.Eligible)
	assert.JSONEq(t, `{"eligible": true, "discount_percentage": 10}`, string(ev.Result))
	ev, err = c.Evaluate(ctx, r, json.RawMessage(`{"order_amount": 50}`))
	require.NoError(t, err)
	assert.False(t, ev.Eligible)
}

func TestClientRetriesGETsOnly(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, nil)
	ctx := context.Background()
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)

	e.Failures.Store(2) // two 503s, then success: within the two retries
	r, err := c.Rule(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, id, r.ID)
	assert.EqualValues(t, 1, e.Gets.Load(), "two failed attempts, then the one served")

	e.Failures.Store(1)
	_, err = c.Evaluate(ctx, r, nil)
	assert.ErrorIs(t, err, targeting.ErrUnavailable, "an evaluation (a POST) is never retried")
	assert.EqualValues(t, 0, e.Evaluations.Load())
}

func TestClientTimeout(t *testing.T) {
	e := enginetest.New(t)
	c := newClient(e, func(c *targeting.Config) { c.MaxRetries = 0 })
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	e.Delay.Store(int64(time.Second))
	start := time.Now()
	_, err := c.Rule(context.Background(), id)
	assert.ErrorIs(t, err, targeting.ErrUnavailable)
	assert.Less(t, time.Since(start), 900*time.Millisecond, "the per-call timeout cut it short")
}

func TestClientBreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, func(c *targeting.Config) { c.MaxRetries = 0 })
	ctx := context.Background()
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)

	e.Failures.Store(3)
	opened := time.Now() // at the latest
	for range 3 {
		_, err := c.Rule(ctx, id)
		require.ErrorIs(t, err, targeting.ErrUnavailable)
	}
	require.True(t, c.BreakerOpen(), "three consecutive failures open it")
	gets := e.Gets.Load()
	_, err := c.Rule(ctx, id)
	assert.ErrorIs(t, err, targeting.ErrUnavailable)
	assert.Equal(t, gets, e.Gets.Load(), "an open breaker does not call the engine")

	// A cancelled caller is not a failure of the engine.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Rule(cctx, id)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, targeting.ErrUnavailable)

	// Once open for BreakerOpenFor (gobreaker reads the wall clock), the breaker lets one
	// trial call through; until then every call is refused without reaching the engine.
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		r, err := c.Rule(ctx, id)
		require.NoError(ct, err)
		assert.Equal(ct, id, r.ID)
	}, 5*time.Second, 10*time.Millisecond, "the breaker lets a trial call through")
	assert.GreaterOrEqual(t, time.Since(opened), 300*time.Millisecond, "not before BreakerOpenFor")
	assert.Equal(t, gets+1, e.Gets.Load(), "only the trial reached the engine")
	assert.False(t, c.BreakerOpen(), "a successful trial closes it")
}

func TestClientRejectsMalformedAndOversizedAnswers(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	other := uuid.New()
	tests := map[string]string{
		"not JSON":          `<html>oops</html>`,
		"truncated":         `{"id": "` + id.String() + `", "status": "ACT`,
		"an array":          `[1, 2]`,
		"missing id":        `{"status": "ACTIVE"}`,
		"another rule":      `{"id": "` + other.String() + `", "status": "ACTIVE"}`,
		"unknown status":    `{"id": "` + id.String() + `", "status": "LIVE"}`,
		"missing status":    `{"id": "` + id.String() + `"}`,
		"trailing data":     `{"id": "` + id.String() + `", "status": "ACTIVE"} {}`,
		"oversized (1 MiB)": `{"id": "` + id.String() + `", "status": "ACTIVE", "description": "` + strings.Repeat("x", targeting.MaxResponseBytes) + `"}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			e := enginetest.New(t)
			e.RuleBody.Store(&body)
			// Reading 1 MiB may take a while under -race on a busy machine: the answer is on
			// trial here, not the timeout.
			_, err := newClient(e, func(c *targeting.Config) { c.Timeout = 10 * time.Second }).Rule(context.Background(), id)
			assert.ErrorIs(t, err, targeting.ErrInvalidResponse)
		})
	}
}

func TestClientCachesRules(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, func(c *targeting.Config) { c.CacheTTL = 200 * time.Millisecond })
	ctx := context.Background()
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	for range 5 {
		_, err := c.Rule(ctx, id)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, e.Gets.Load(), "served from the cache")
	cached := time.Now() // at the latest
	_, err := c.RuleFresh(ctx, id)
	require.NoError(t, err)
	assert.EqualValues(t, 2, e.Gets.Load(), "RuleFresh bypasses it")
	// The cache reads the wall clock: ask until the entry has expired and been read again
	// (the expiry itself is tested against a fake clock in cache_test.go).
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		_, err := c.Rule(ctx, id)
		require.NoError(ct, err)
		assert.EqualValues(ct, 3, e.Gets.Load(), "expired entries are read again")
	}, 5*time.Second, 10*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(cached), 200*time.Millisecond, "not before the TTL")
	_, err = c.Rule(ctx, id)
	require.NoError(t, err)
	assert.EqualValues(t, 3, e.Gets.Load(), "and cached again")
}

func TestClientCallerCancellationIsNotAFailure(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, func(c *targeting.Config) { c.MaxRetries = 0; c.Timeout = 2 * time.Second })
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	e.Delay.Store(int64(300 * time.Millisecond))
	for range 5 { // more than BreakerFailures (3)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := c.RuleFresh(ctx, id)
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the caller's own deadline")
		assert.NotErrorIs(t, err, targeting.ErrUnavailable, "the engine was not at fault")
	}
	for range 5 {
		// The caller gives up once its request is on the wire, while the engine holds it.
		ctx, cancel := context.WithCancel(context.Background())
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { cancel() },
		})
		_, err := c.RuleFresh(ctx, id)
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, targeting.ErrUnavailable, "the engine was not at fault")
	}
	assert.False(t, c.BreakerOpen(), "ten abandoned calls do not open the breaker")
	e.Delay.Store(0)
	_, err := c.RuleFresh(context.Background(), id)
	require.NoError(t, err)
}

func TestClientRejectionsAreAnswers(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, nil)
	ctx := context.Background()
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	e.FailureStatus.Store(401)
	e.Failures.Store(10)
	for range 5 {
		_, err := c.RuleFresh(ctx, id)
		require.ErrorContains(t, err, "the Rules Engine rejected the request")
		assert.ErrorContains(t, err, "status 401")
		assert.NotErrorIs(t, err, targeting.ErrUnavailable)
		assert.NotErrorIs(t, err, targeting.ErrInvalidResponse)
	}
	assert.EqualValues(t, 5, 10-e.Failures.Load(), "a 4xx refusal is not retried")
	assert.False(t, c.BreakerOpen(), "an engine that refuses is up")

	e.Failures.Store(0)
	r, err := c.RuleFresh(ctx, id)
	require.NoError(t, err)
	e.FailureStatus.Store(http.StatusTooManyRequests)
	e.Failures.Store(1)
	_, err = c.RuleFresh(ctx, id)
	assert.NoError(t, err, "429 is transient: retried")
	e.FailureStatus.Store(http.StatusBadRequest)
	e.Failures.Store(1)
	_, err = c.Evaluate(ctx, r, nil)
	require.ErrorIs(t, err, targeting.ErrRuleFailed, "an evaluation's 4xx is about that rule")
	assert.ErrorContains(t, err, "status 400")
	assert.NotErrorIs(t, err, targeting.ErrUnavailable)
}

func TestClientRejectsMalformedEvaluations(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"not JSON":             `eligible`,
		"no result":            `{"eligible": true}`,
		"result not an object": `{"result": true}`,
		"trailing data":        `{"result": {"eligible": true}} x`,
		"oversized (1 MiB)":    `{"result": {"eligible": true, "pad": "` + strings.Repeat("x", targeting.MaxResponseBytes) + `"}}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			e := enginetest.New(t)
			e.EvalBody.Store(&body)
			c := newClient(e, func(c *targeting.Config) { c.Timeout = 10 * time.Second })
			r, err := c.Rule(context.Background(), e.AddRule("ACTIVE", enginetest.PromotionDSL))
			require.NoError(t, err)
			_, err = c.Evaluate(context.Background(), r, json.RawMessage(`{"order_amount": 150}`))
			assert.ErrorIs(t, err, targeting.ErrInvalidResponse)
		})
	}
}

// Only an outage (network error, timeout, 5xx) counts toward a breaker: an answer that breaks
// the contract is about what was asked, and must not suspend every other call.
func TestClientMalformedAnswersAreNotOutages(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, func(c *targeting.Config) { c.MaxRetries = 0 })
	body := `{"id": "not-a-uuid", "status": "ACTIVE"}`
	e.RuleBody.Store(&body)
	for range 6 {
		_, err := c.RuleFresh(context.Background(), uuid.New())
		require.ErrorIs(t, err, targeting.ErrInvalidResponse)
		require.NotErrorIs(t, err, targeting.ErrUnavailable)
	}
	assert.False(t, c.BreakerOpen(), "twice BreakerFailures invalid answers leave it closed")
	assert.EqualValues(t, 6, e.Gets.Load(), "every call reached the engine")
}

func TestClientBreakersAreIndependent(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, func(c *targeting.Config) { c.MaxRetries = 0 })
	ctx := context.Background()
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	r, err := c.Rule(ctx, id)
	require.NoError(t, err)
	e.Failures.Store(3)
	for range 3 {
		_, err := c.Evaluate(ctx, r, nil)
		require.ErrorIs(t, err, targeting.ErrUnavailable)
	}
	require.True(t, c.BreakerOpen(), "rules-evaluation's breaker is open")
	_, err = c.RuleFresh(ctx, id)
	assert.NoError(t, err, "rules-management is another service, with its own breaker")
}

func TestClientSendsTokenAndRequestID(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, func(c *targeting.Config) { c.Token = "s3cret" })
	ctx := audit.WithCorrelationID(context.Background(), "req-7")
	_, err := c.RuleFresh(ctx, e.AddRule("ACTIVE", enginetest.PromotionDSL))
	require.NoError(t, err)
	assert.Equal(t, "Bearer s3cret", *e.Authorization.Load())
	assert.Equal(t, "req-7", *e.RequestID.Load())

	_, err = newClient(e, nil).RuleFresh(context.Background(), uuid.New())
	require.ErrorIs(t, err, targeting.ErrRuleNotFound)
	assert.Empty(t, *e.Authorization.Load(), "no token configured, no header")
}

func TestClientFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	elsewhere := enginetest.New(t)
	id := elsewhere.AddRule("ACTIVE", enginetest.PromotionDSL)
	redirect := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/api/v1/rules/"+id.String(), http.StatusFound))
	t.Cleanup(redirect.Close)
	c := targeting.NewClient(targeting.Config{URL: redirect.URL, Token: "s3cret"})
	_, err := c.RuleFresh(context.Background(), id)
	assert.ErrorIs(t, err, targeting.ErrInvalidResponse)
	assert.Zero(t, elsewhere.Gets.Load(), "the token never left for another host")
}

func TestClientSharesConcurrentReads(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, func(c *targeting.Config) { c.CacheTTL = time.Minute; c.Timeout = time.Second })
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	e.Delay.Store(int64(100 * time.Millisecond))
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			r, err := c.Rule(context.Background(), id)
			assert.NoError(t, err)
			assert.Equal(t, id, r.ID)
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, e.Gets.Load(), "50 concurrent misses, one read")

	// A caller that gives up does not fail the others waiting on the same read.
	other := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := c.Rule(ctx, other)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	r, err := c.Rule(context.Background(), other)
	require.NoError(t, err)
	assert.Equal(t, other, r.ID)
	assert.EqualValues(t, 2, e.Gets.Load())
}
