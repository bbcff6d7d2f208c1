package targeting_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
	"github.com/engine-rules-sp/campaigns/targeting"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// The real engine's PROMOTIONS strategy: order_amount above the DSL's threshold.
func TestClientSpeaksThePromotionsContract(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, nil)
	ctx := context.Background()
	r, err := c.Rule(ctx, e.AddRule("ACTIVE", "IF order.amount > 100 THEN discount.percentage = 10"))
	require.NoError(t, err)
	assert.Equal(t, "PROMOTIONS", r.Category)

	ev, err := c.Evaluate(ctx, r, json.RawMessage(`{"order_amount": 150}`))
	require.NoError(t, err)
	assert.True(t, ev.Verdict)
	assert.True(t, ev.Eligible)
	assert.JSONEq(t, `{"eligible": true, "discount_percentage": 10}`, string(ev.Result))

	ev, err = c.Evaluate(ctx, r, json.RawMessage(`{"order_amount": 80}`))
	require.NoError(t, err)
	assert.True(t, ev.Verdict)
	assert.False(t, ev.Eligible)

	ev, err = c.Evaluate(ctx, r, json.RawMessage(`{"segment": "vip"}`))
	require.NoError(t, err)
	assert.False(t, ev.Eligible, "without order_amount the engine says no, with a reason")
	assert.JSONEq(t, `{"eligible": false, "reason": "Missing order_amount in context"}`, string(ev.Result))
}

// A TAXES rule answers {"tax_rate": 0.21}: an answer without a verdict, not an outage. Before,
// six of them opened the evaluation breaker and every campaign became undetermined.
func TestClientAnswersWithoutVerdictAreNotOutages(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, nil) // BreakerFailures 3
	ctx := context.Background()
	taxes, err := c.Rule(ctx, e.AddRuleIn(enginetest.Taxes, "ACTIVE", "tax = 21%"))
	require.NoError(t, err)
	for range 10 {
		ev, err := c.Evaluate(ctx, taxes, json.RawMessage(`{"order_amount": 150}`))
		require.NoError(t, err)
		assert.False(t, ev.Verdict)
		assert.False(t, ev.Eligible)
		assert.JSONEq(t, `{"tax_rate": 0.21}`, string(ev.Result))
	}
	assert.False(t, c.BreakerOpen())

	for name, body := range map[string]string{
		"eligible not a bool": `{"result": {"eligible": "yes"}}`,
		"eligible null":       `{"result": {"eligible": null}}`,
	} {
		e.EvalBody.Store(&body)
		ev, err := c.Evaluate(ctx, taxes, nil)
		require.NoError(t, err, name)
		assert.False(t, ev.Verdict, name)
		assert.False(t, ev.Eligible, name)
	}
	e.EvalBody.Store(nil)

	promo, err := c.Rule(ctx, e.AddRule("ACTIVE", enginetest.PromotionDSL))
	require.NoError(t, err)
	ev, err := c.Evaluate(ctx, promo, json.RawMessage(`{"order_amount": 150}`))
	require.NoError(t, err)
	assert.True(t, ev.Eligible, "other rules are still evaluated")
}

func TestClientEvaluationRefusalsAreNotOutages(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusUnprocessableEntity} {
		e := enginetest.New(t)
		c := newClient(e, nil) // BreakerFailures 3
		ctx := context.Background()
		r, err := c.Rule(ctx, e.AddRule("ACTIVE", enginetest.PromotionDSL))
		require.NoError(t, err)
		e.FailureStatus.Store(int32(status))
		e.Failures.Store(6)
		for range 6 {
			_, err := c.Evaluate(ctx, r, nil)
			require.Error(t, err)
			assert.NotErrorIs(t, err, targeting.ErrUnavailable)
		}
		assert.False(t, c.BreakerOpen(), "six %d answers leave the breaker closed", status)
		_, err = c.Evaluate(ctx, r, json.RawMessage(`{"order_amount": 150}`))
		assert.NoError(t, err)
	}
}

// The outages still count: the breaker is for them.
func TestClientOutagesStillOpenTheBreaker(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	c := newClient(e, nil)
	ctx := context.Background()
	// A category the engine has no strategy for answers 500: that is an engine failure.
	r, err := c.Rule(ctx, e.AddRuleIn("LOYALTY", "ACTIVE", "points > 10"))
	require.NoError(t, err)
	for range 3 {
		_, err := c.Evaluate(ctx, r, nil)
		require.ErrorIs(t, err, targeting.ErrUnavailable)
	}
	assert.True(t, c.BreakerOpen())
}

// A wrong base URL answers the router's plain-text 404: that is a configuration error, logged
// with the URL, never "rule not found" (which activation would report as the campaign's fault
// and eligibility would cache).
func TestClientPlainText404IsMisconfiguration(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	var logs logtest.Buffer
	wrong := e.URL + "/rules-management"
	c := newClient(e, func(c *targeting.Config) {
		c.URL, c.EvaluationURL = wrong, e.URL
		c.CacheTTL = time.Minute
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	ctx := context.Background()
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	for range 6 {
		_, err := c.Rule(ctx, id)
		require.ErrorIs(t, err, targeting.ErrMisconfigured)
		assert.NotErrorIs(t, err, targeting.ErrRuleNotFound)
		assert.NotContains(t, err.Error(), e.URL, "URLs stay out of error texts")
	}
	assert.EqualValues(t, 0, e.Gets.Load(), "the engine's rule route was never reached")
	assert.False(t, c.BreakerOpen(), "a wrong URL is not an outage")
	out := logs.String()
	assert.Contains(t, out, `"level":"ERROR"`)
	assert.Contains(t, out, `"setting":"rules_engine.url"`)
	assert.Contains(t, out, `"url":"`+wrong+`"`)
	assert.Equal(t, 1, strings.Count(out, "answers 404 as no Rules Engine does"), "logged once, not once per call")

	// The engine's own JSON 404 still means the rule does not exist.
	right := newClient(e, nil)
	_, err := right.Rule(ctx, uuid.New())
	assert.ErrorIs(t, err, targeting.ErrRuleNotFound)
	assert.NotErrorIs(t, err, targeting.ErrMisconfigured)
}

func TestClientEvaluation404IsMisconfiguration(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	var logs logtest.Buffer
	c := newClient(e, func(c *targeting.Config) {
		c.EvaluationURL = e.URL + "/api" // POST /api/v1/evaluate: no such route
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	ctx := context.Background()
	r, err := c.Rule(ctx, e.AddRule("ACTIVE", enginetest.PromotionDSL))
	require.NoError(t, err)
	_, err = c.Evaluate(ctx, r, nil)
	require.ErrorIs(t, err, targeting.ErrMisconfigured)
	assert.NotErrorIs(t, err, targeting.ErrRuleNotFound)
	assert.Contains(t, logs.String(), `"setting":"rules_engine.evaluation_url"`)
	assert.Contains(t, logs.String(), `"url":"`+e.URL+`/api"`)
}

// Eligibility: a targeting rule without a verdict or that the engine refuses is a definite
// "no" for its campaign, and the other campaigns are still judged: nothing becomes
// undetermined.
func TestEligibilityWithRulesThatCannotTarget(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	promo := campaign.RuleID(e.AddRule("ACTIVE", "IF order.amount > 100 THEN discount.percentage = 10"))
	taxes := campaign.RuleID(e.AddRuleIn(enginetest.Taxes, "ACTIVE", "tax = 21%"))
	m := &memCampaigns{all: []*campaign.View{serving("promo", promo)}}
	for range 8 { // more than the breaker's threshold
		m.all = append(m.all, serving("taxed", taxes))
	}
	client := targeting.NewClient(targeting.Config{URL: e.URL, BreakerFailures: 2, CacheTTL: time.Minute})
	ev := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Rules: client, Concurrency: 4})
	req := targeting.Request{CustomerID: "c-1", Context: json.RawMessage(`{"order_amount": 150}`)}
	for range 4 {
		got, err := ev.EligibleCampaigns(context.Background(), req)
		require.NoError(t, err)
		require.Len(t, got.Eligible, 1)
		assert.Equal(t, "promo", got.Eligible[0].Name)
		assert.Empty(t, got.Undetermined, "a TAXES rule is a verdict, not an outage")
	}
	assert.False(t, client.BreakerOpen())

	v, err := ev.Campaign(context.Background(), m.all[1].ID(), req)
	require.NoError(t, err)
	assert.False(t, v.Eligible)
	assert.False(t, v.Undetermined)
	require.Len(t, v.Targeting, 1)
	assert.Contains(t, v.Targeting[0].Reason, `gives no eligible verdict (its category "TAXES"`)
	assert.JSONEq(t, `{"tax_rate": 0.21}`, string(v.Targeting[0].Result))

	e.FailureStatus.Store(http.StatusBadRequest)
	e.Failures.Store(1)
	v, err = ev.Campaign(context.Background(), m.all[0].ID(), req)
	require.NoError(t, err)
	assert.False(t, v.Eligible)
	assert.False(t, v.Undetermined, "a refusal will not change on retry")
	assert.Contains(t, v.Reasons[0], "the Rules Engine cannot evaluate it (status 400)")
	assert.Equal(t, targeting.ReasonRuleError, v.Why[0].Code)
}

// recordingMetrics is a targeting.Metrics that remembers what it heard.
type recordingMetrics struct {
	mu       sync.Mutex
	calls    map[string]int // "service outcome"
	timed    int
	states   []string // "service state"
	hits     int
	misses   int
	negative bool // a call timed with a negative duration
}

func (r *recordingMetrics) RulesEngineCall(service, outcome string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[service+" "+outcome]++
	if d > 0 {
		r.timed++
	}
	r.negative = r.negative || d < 0
}

func (r *recordingMetrics) RulesEngineBreaker(service, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, service+" "+state)
}

func (r *recordingMetrics) RulesEngineCache(hit bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if hit {
		r.hits++
	} else {
		r.misses++
	}
}

func TestClientReportsMetrics(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	m := &recordingMetrics{}
	c := newClient(e, func(c *targeting.Config) {
		c.MaxRetries, c.CacheTTL, c.Metrics = 0, time.Minute, m
	})
	ctx := context.Background()
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	r, err := c.Rule(ctx, id) // miss, then a call
	require.NoError(t, err)
	_, err = c.Rule(ctx, id) // hit
	require.NoError(t, err)
	_, err = c.Rule(ctx, uuid.New()) // miss, not found
	require.ErrorIs(t, err, targeting.ErrRuleNotFound)
	_, err = c.Evaluate(ctx, r, nil)
	require.NoError(t, err)
	e.Failures.Store(3)
	for range 3 {
		_, err = c.Evaluate(ctx, r, nil)
		require.ErrorIs(t, err, targeting.ErrUnavailable)
	}
	_, err = c.Evaluate(ctx, r, nil) // refused by the open breaker
	require.ErrorIs(t, err, targeting.ErrUnavailable)

	m.mu.Lock()
	defer m.mu.Unlock()
	assert.Equal(t, map[string]int{
		"rules-management ok":           1,
		"rules-management not_found":    1,
		"rules-evaluation ok":           1,
		"rules-evaluation unavailable":  3,
		"rules-evaluation breaker_open": 1,
	}, m.calls)
	assert.Equal(t, 6, m.timed, "every call that reached the network is timed, the refused one is not")
	assert.False(t, m.negative)
	assert.Equal(t, 1, m.hits)
	assert.Equal(t, 2, m.misses)
	assert.Equal(t, []string{"rules-management closed", "rules-evaluation closed", "rules-evaluation open"}, m.states)
}
