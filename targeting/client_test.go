package targeting_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/targeting"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

func newClient(e *enginetest.Engine, mutate func(*targeting.Config)) *targeting.Client {
	cfg := targeting.Config{URL: e.URL, Timeout: 200 * time.Millisecond, MaxRetries: 2,
		BreakerFailures: 3, BreakerOpenFor: 300 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg)
	}
	return targeting.NewClient(cfg, nil)
}

func TestClientRules(t *testing.T) {
	e := enginetest.New(t)
	c := newClient(e, nil)
	ctx := context.Background()
	active := e.AddRule("ACTIVE", "segment == vip")
	inactive := e.AddRule("INACTIVE", "segment == vip")

	r, err := c.Rule(ctx, active)
	require.NoError(t, err)
	assert.Equal(t, active, r.ID)
	assert.Equal(t, targeting.RuleActive, r.Status)
	assert.Equal(t, "segment == vip", r.DSLContent)
	assert.Equal(t, "targeting", r.Category)

	r, err = c.Rule(ctx, inactive)
	require.NoError(t, err)
	assert.Equal(t, targeting.RuleInactive, r.Status)

	_, err = c.Rule(ctx, uuid.New())
	assert.ErrorIs(t, err, targeting.ErrRuleNotFound)

	ev, err := c.Evaluate(ctx, r, json.RawMessage(`{"segment": "vip"}`))
	require.NoError(t, err)
	assert.True(t, ev.Eligible)
	assert.JSONEq(t, `{"eligible": true, "matched": "segment == vip", "discount": 10}`, string(ev.Result))
	ev, err = c.Evaluate(ctx, r, json.RawMessage(`{"segment": "new"}`))
	require.NoError(t, err)
	assert.False(t, ev.Eligible)
}

func TestClientRetriesGETsOnly(t *testing.T) {
	e := enginetest.New(t)
	c := newClient(e, nil)
	ctx := context.Background()
	id := e.AddRule("ACTIVE", "segment == vip")

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
	id := e.AddRule("ACTIVE", "segment == vip")
	e.Delay.Store(int64(time.Second))
	start := time.Now()
	_, err := c.Rule(context.Background(), id)
	assert.ErrorIs(t, err, targeting.ErrUnavailable)
	assert.Less(t, time.Since(start), 900*time.Millisecond, "the per-call timeout cut it short")
}

func TestClientBreakerOpensAndRecovers(t *testing.T) {
	e := enginetest.New(t)
	c := newClient(e, func(c *targeting.Config) { c.MaxRetries = 0 })
	ctx := context.Background()
	id := e.AddRule("ACTIVE", "segment == vip")

	e.Failures.Store(3)
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
	assert.Error(t, err)

	time.Sleep(350 * time.Millisecond) // the breaker lets one trial call through
	r, err := c.Rule(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, id, r.ID)
	assert.False(t, c.BreakerOpen(), "a successful trial closes it")
}

func TestClientRejectsMalformedAndOversizedAnswers(t *testing.T) {
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
			_, err := newClient(e, nil).Rule(context.Background(), id)
			require.Error(t, err)
			assert.True(t, errors.Is(err, targeting.ErrInvalidResponse), "got %v", err)
		})
	}
}

func TestClientCachesRules(t *testing.T) {
	e := enginetest.New(t)
	c := newClient(e, func(c *targeting.Config) { c.CacheTTL = 200 * time.Millisecond })
	ctx := context.Background()
	id := e.AddRule("ACTIVE", "segment == vip")
	for range 5 {
		_, err := c.Rule(ctx, id)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, e.Gets.Load(), "served from the cache")
	_, err := c.RuleFresh(ctx, id)
	require.NoError(t, err)
	assert.EqualValues(t, 2, e.Gets.Load(), "RuleFresh bypasses it")
	time.Sleep(250 * time.Millisecond)
	_, err = c.Rule(ctx, id)
	require.NoError(t, err)
	assert.EqualValues(t, 3, e.Gets.Load(), "expired entries are read again")
}
