package targeting_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
	"github.com/engine-rules-sp/campaigns/targeting"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// brokenDSL passes the management service's validator (it has IF and THEN) but not the
// evaluator: the real engine answers 500 {"error": "invalid promotions DSL: ..."} for it.
const brokenDSL = "IF customer.tier == gold THEN discount.percentage = 10"

// ruleMetrics records the per-rule measurements.
type ruleMetrics struct {
	mu          sync.Mutex
	errors      map[string]int
	quarantined map[string]bool
}

func (m *ruleMetrics) RuleError(rule string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errors[rule]++
}

func (m *ruleMetrics) RuleQuarantined(rule string, q bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.quarantined[rule] = q
}

// One rule the engine cannot run, among healthy ones, over 1,000 evaluations: every healthy
// campaign is served every time, the evaluation breaker stays closed, and the broken rule is
// quarantined on its own, named in the log with the campaigns that use it, RULE_ERROR with
// the engine's words in ?explain=true. Before, six evaluations of such a rule opened the
// breaker and every campaign became undetermined for 30 s.
func TestFaultOneBrokenRuleDoesNotSuspendTheRest(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	broken := campaign.RuleID(e.AddRule("ACTIVE", brokenDSL))
	m := &memCampaigns{}
	const healthy = 10
	for i := range healthy {
		m.all = append(m.all, serving(fmt.Sprintf("healthy %d", i), campaign.RuleID(e.AddRule("ACTIVE", enginetest.PromotionDSL))))
	}
	bad := serving("on the broken rule", broken)
	alsoBad := serving("also on it", broken)
	m.all = append(m.all, bad, alsoBad)
	var logs logtest.Buffer
	rm := &ruleMetrics{errors: map[string]int{}, quarantined: map[string]bool{}}
	client := targeting.NewClient(targeting.Config{URL: e.URL, CacheTTL: time.Minute}) // breaker: 5 failures, 30 s
	ev := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Rules: client, Concurrency: 4,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: rm})

	req := targeting.Request{CustomerID: "c-1", Context: json.RawMessage(`{"order_amount": 150}`)}
	const evaluations, workers = 1000, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	served := map[int]int{} // healthy campaigns served per evaluation -> count
	undetermined := 0
	for w := range workers {
		wg.Go(func() {
			for i := w; i < evaluations; i += workers {
				r := req
				r.Explain = i%10 == 0
				got, err := ev.EligibleCampaigns(context.Background(), r)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				served[len(got.Eligible)]++
				undetermined += len(got.Undetermined)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, map[int]int{healthy: evaluations}, served, "every healthy campaign, every time")
	assert.Zero(t, undetermined, "a broken rule is not an outage")
	assert.False(t, client.BreakerOpen(), "the evaluation breaker stayed closed")

	// The broken rule reached the engine a few times, then was quarantined: the healthy rules
	// account for all the other evaluations.
	brokenCalls := e.Evaluations.Load() - healthy*evaluations
	// Its first failure does not count (no other rule had evaluated since), and evaluations
	// already under way when it trips still reach the engine: at most a worker's worth more.
	assert.LessOrEqual(t, brokenCalls, int64(1+3+2*workers), "quarantined after 3 failures in a row")
	t.Logf("the broken rule reached the engine %d times in %d evaluations", brokenCalls, evaluations)

	v, err := ev.Campaign(context.Background(), bad.ID(), targeting.Request{CustomerID: "c-1", Context: req.Context, Explain: true})
	require.NoError(t, err)
	assert.False(t, v.Eligible)
	assert.False(t, v.Undetermined, "a rule the engine cannot run is a definite no until it is fixed")
	require.Len(t, v.Why, 1)
	assert.Equal(t, targeting.ReasonRuleError, v.Why[0].Code)
	assert.Equal(t, broken.String(), *v.Why[0].RuleID)
	assert.Contains(t, v.Why[0].Detail, "quarantined")
	assert.Contains(t, v.Why[0].Detail, "invalid promotions DSL: missing 'order.amount >'", "the engine's words")

	rm.mu.Lock()
	assert.True(t, rm.quarantined[broken.String()])
	assert.GreaterOrEqual(t, rm.errors[broken.String()], evaluations, "every evaluation of it is counted")
	assert.Len(t, rm.errors, 1, "only the broken rule has a series")
	rm.mu.Unlock()

	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "it is quarantined"), "logged once, when quarantined: %s", out)
	assert.Contains(t, out, `"rule":"`+broken.String()+`"`)
	assert.Contains(t, out, bad.ID().String())
	assert.Contains(t, out, alsoBad.ID().String())
	assert.Contains(t, out, `"engine_error":"invalid promotions DSL: missing 'order.amount >'"`)

	// Real outages still open the breaker.
	e.FailureStatus.Store(http.StatusServiceUnavailable)
	e.EvalFailures.Store(1000)
	for range 3 {
		_, err := ev.EligibleCampaigns(context.Background(), req)
		require.NoError(t, err)
	}
	assert.True(t, client.BreakerOpen(), "a 503 on every rule is an outage")
}

// The quarantine lifts: once its time is up, one trial evaluation of the rule decides, and a
// fixed rule is served again.
func TestFaultQuarantinedRuleIsRetriedAndReleased(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	id := e.AddRule("ACTIVE", brokenDSL)
	ok := serving("healthy", campaign.RuleID(e.AddRule("ACTIVE", enginetest.PromotionDSL)))
	fixed := serving("fixed later", campaign.RuleID(id))
	m := &memCampaigns{all: []*campaign.View{ok, fixed}}
	rm := &ruleMetrics{errors: map[string]int{}, quarantined: map[string]bool{}}
	client := targeting.NewClient(targeting.Config{URL: e.URL}) // no cache: the fixed DSL is read at once
	ev := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Rules: client, QuarantineAfter: 2,
		QuarantineFor: 200 * time.Millisecond, Metrics: rm})
	req := targeting.Request{CustomerID: "c-1", Context: json.RawMessage(`{"order_amount": 150}`)}
	for range 5 {
		got, err := ev.EligibleCampaigns(context.Background(), req)
		require.NoError(t, err)
		require.Len(t, got.Eligible, 1)
	}
	rm.mu.Lock()
	assert.True(t, rm.quarantined[id.String()])
	rm.mu.Unlock()

	e.SetRule(id, "ACTIVE", enginetest.AnyOrderDSL)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got, err := ev.EligibleCampaigns(context.Background(), req)
		require.NoError(c, err)
		assert.Len(c, got.Eligible, 2)
	}, 3*time.Second, 50*time.Millisecond)
	rm.mu.Lock()
	assert.False(t, rm.quarantined[id.String()], "released")
	rm.mu.Unlock()
}

// A 4xx or a 500 for every rule at once singles none out: no rule is quarantined, and the
// rules evaluate again as soon as the engine does.
func TestFaultEveryRuleFailingQuarantinesNone(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	m := &memCampaigns{}
	for i := range 3 {
		m.all = append(m.all, serving(fmt.Sprintf("c%d", i), campaign.RuleID(e.AddRule("ACTIVE", enginetest.PromotionDSL))))
	}
	rm := &ruleMetrics{errors: map[string]int{}, quarantined: map[string]bool{}}
	client := targeting.NewClient(targeting.Config{URL: e.URL, BreakerFailures: 1000})
	ev := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Rules: client, QuarantineAfter: 2, Metrics: rm})
	req := targeting.Request{CustomerID: "c-1", Context: json.RawMessage(`{"order_amount": 150}`)}
	got, err := ev.EligibleCampaigns(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, got.Eligible, 3)

	e.FailureStatus.Store(http.StatusBadRequest)
	e.EvalFailures.Store(30)
	for range 10 {
		got, err := ev.EligibleCampaigns(context.Background(), req)
		require.NoError(t, err)
		assert.Empty(t, got.Eligible)
	}
	got, err = ev.EligibleCampaigns(context.Background(), req)
	require.NoError(t, err)
	assert.Len(t, got.Eligible, 3, "no rule was quarantined")
	rm.mu.Lock()
	assert.Empty(t, rm.quarantined)
	rm.mu.Unlock()
}
