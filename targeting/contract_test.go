package targeting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/targeting"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// The Rules Engine's contract, as its published services answer it: the same cases run
// against the fake (always, in CI) and against a real engine when
// CAMPAIGNS_TEST_RULES_ENGINE_URL (rules-management) and CAMPAIGNS_TEST_RULES_EVALUATION_URL
// (rules-evaluation) are set. A test that passes against the fake then means something about
// the real engine.
func TestEngineContract(t *testing.T) {
	t.Parallel()
	t.Run("fake", func(t *testing.T) {
		t.Parallel()
		e := enginetest.New(t)
		testEngineContract(t, e.URL, e.URL, func(id uuid.UUID) { e.SetRule(id, "ACTIVE", enginetest.PromotionDSL) })
	})
	t.Run("fake with the published GET defect", func(t *testing.T) {
		t.Parallel()
		e := enginetest.New(t)
		e.EmptyRuleGet.Store(true)
		testEngineContract(t, e.URL, e.URL, nil)
	})
	t.Run("real", func(t *testing.T) {
		t.Parallel()
		mgmt, eval := os.Getenv("CAMPAIGNS_TEST_RULES_ENGINE_URL"), os.Getenv("CAMPAIGNS_TEST_RULES_EVALUATION_URL")
		if mgmt == "" || eval == "" {
			// Not one of CI's services: this skips even with CAMPAIGNS_TEST_REQUIRE_SERVICES=1.
			t.Skip("set CAMPAIGNS_TEST_RULES_ENGINE_URL (rules-management) and CAMPAIGNS_TEST_RULES_EVALUATION_URL " +
				"(rules-evaluation) to run the contract against a real Rules Engine; CI has none, so it runs against the fake only")
		}
		testEngineContract(t, mgmt, eval, nil)
	})
}

// testEngineContract runs the contract's cases. activate, when the engine under test can,
// makes a rule ACTIVE (the real management service has no route for it).
func testEngineContract(t *testing.T, mgmtURL, evalURL string, activate func(uuid.UUID)) {
	ctx := context.Background()
	hc := &http.Client{Timeout: 5 * time.Second}
	c := targeting.NewClient(targeting.Config{URL: mgmtURL, EvaluationURL: evalURL, BreakerFailures: 1000})

	t.Run("create answers 201 with rule_id, the rule DRAFT", func(t *testing.T) {
		status, body := post(t, hc, mgmtURL+"/api/v1/rules", map[string]any{
			"name": "contract " + uuid.NewString(), "description": "campaigns contract test",
			"dsl_content": enginetest.PromotionDSL, "priority": "MEDIUM", "category": "PROMOTIONS",
		})
		require.Equal(t, http.StatusCreated, status, "%s", body)
		var created map[string]any
		require.NoError(t, json.Unmarshal(body, &created))
		assert.NotContains(t, created, "id", "the real engine says rule_id")
		id, err := uuid.Parse(fmt.Sprint(created["rule_id"]))
		require.NoError(t, err, "rule_id is a UUID: %s", body)
		assert.Equal(t, "DRAFT", created["status"])

		status, body = get(t, hc, mgmtURL+"/api/v1/rules/"+id.String())
		require.Equal(t, http.StatusOK, status, "%s", body)
		if string(bytes.TrimSpace(body)) == "{}" {
			// The published rules-management's defect: its GET serializes a struct with
			// unexported fields. Our client refuses such an answer, and activation fails safe.
			t.Logf("GET rule answers {} (the published engine's defect): activation against it answers 503")
			_, err := c.RuleFresh(ctx, id)
			assert.ErrorIs(t, err, targeting.ErrInvalidResponse)
			return
		}
		r, err := c.RuleFresh(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, targeting.RuleDraft, r.Status)
		assert.Equal(t, enginetest.PromotionDSL, r.DSLContent)
		assert.Equal(t, "PROMOTIONS", r.Category)
		if activate != nil {
			activate(id)
			r, err = c.RuleFresh(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, targeting.RuleActive, r.Status)
		}
	})
	t.Run("create refuses a DSL without IF and THEN: 400 error and message", func(t *testing.T) {
		status, body := post(t, hc, mgmtURL+"/api/v1/rules", map[string]any{
			"name": "contract " + uuid.NewString(), "dsl_content": "segment == vip", "priority": "LOW",
		})
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, []string{"error", "message"}, keys(t, body))
	})
	t.Run("an unknown rule: JSON 404", func(t *testing.T) {
		_, err := c.RuleFresh(ctx, uuid.New())
		assert.ErrorIs(t, err, targeting.ErrRuleNotFound)
	})

	promo := &targeting.Rule{ID: uuid.New(), Category: "PROMOTIONS", DSLContent: enginetest.PromotionDSL, Status: targeting.RuleActive}
	evaluations := []struct {
		name     string
		rule     *targeting.Rule
		context  string
		eligible bool
		result   string // the whole result, when given
	}{
		{"above the threshold", promo, `{"order_amount": 150}`, true, `{"eligible": true, "discount_percentage": 10}`},
		{"at or below it", promo, `{"order_amount": 100}`, false, `{"eligible": false}`},
		{"order_amount missing", promo, `{"segment": "vip"}`, false, `{"eligible": false, "reason": "Missing order_amount in context"}`},
		{"order_amount a string", promo, `{"order_amount": "150"}`, false, `{"eligible": false, "reason": "Missing order_amount in context"}`},
		{"the neutral context of activation", promo, `{}`, false, `{"eligible": false, "reason": "Missing order_amount in context"}`},
	}
	for _, tc := range evaluations {
		t.Run("evaluate: "+tc.name, func(t *testing.T) {
			ev, err := c.Evaluate(ctx, tc.rule, json.RawMessage(tc.context))
			require.NoError(t, err)
			assert.True(t, ev.Verdict)
			assert.Equal(t, tc.eligible, ev.Eligible)
			assert.JSONEq(t, tc.result, string(ev.Result))
		})
	}
	t.Run("evaluate TAXES: a result without eligible", func(t *testing.T) {
		ev, err := c.Evaluate(ctx, &targeting.Rule{Category: "TAXES", DSLContent: "IF country == ES THEN tax = 21"}, json.RawMessage(`{}`))
		require.NoError(t, err)
		assert.False(t, ev.Verdict)
		assert.JSONEq(t, `{"tax_rate": 0.21}`, string(ev.Result))
	})

	// DSL the management service accepts (IF and THEN) but the evaluator cannot run, and
	// categories it has no strategy for: 500 with only {"error"}.
	for name, tc := range map[string]struct{ category, dsl, message string }{
		"a PROMOTIONS DSL without order.amount": {"PROMOTIONS", "IF customer.tier == gold THEN discount.percentage = 10", "invalid promotions DSL: missing 'order.amount >'"},
		"the old README's segment == vip":       {"PROMOTIONS", "segment == vip", "invalid promotions DSL: missing 'order.amount >'"},
		"a category without a strategy":         {"LOYALTY", "IF points > 10 THEN tier = gold", "no evaluation strategy found for category: LOYALTY"},
	} {
		t.Run("evaluate fails: "+name, func(t *testing.T) {
			status, body := post(t, hc, evalURL+"/v1/evaluate", map[string]any{
				"rule_category": tc.category, "dsl_content": tc.dsl, "context": map[string]any{"order_amount": 150},
			})
			assert.Equal(t, http.StatusInternalServerError, status)
			assert.Equal(t, []string{"error"}, keys(t, body), "500 bodies carry only error")
			assert.JSONEq(t, fmt.Sprintf(`{"error": %q}`, tc.message), string(body))

			_, err := c.Evaluate(ctx, &targeting.Rule{Category: tc.category, DSLContent: tc.dsl}, json.RawMessage(`{}`))
			var rerr *targeting.RuleError
			require.True(t, errors.As(err, &rerr), "%v", err)
			assert.Equal(t, tc.message, rerr.Message, "the engine's words reach the caller")
		})
	}
	t.Run("evaluate refuses a request without dsl_content: 400 error and message", func(t *testing.T) {
		status, body := post(t, hc, evalURL+"/v1/evaluate", map[string]any{"rule_category": "PROMOTIONS", "context": map[string]any{}})
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, []string{"error", "message"}, keys(t, body))
		_, err := c.Evaluate(ctx, &targeting.Rule{Category: "PROMOTIONS"}, nil)
		assert.ErrorIs(t, err, targeting.ErrRuleFailed)
		assert.NotErrorIs(t, err, targeting.ErrUnavailable)
	})
	assert.False(t, c.BreakerOpen())
}

func post(t *testing.T, hc *http.Client, url string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := hc.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

func get(t *testing.T, hc *http.Client, url string) (int, []byte) {
	t.Helper()
	resp, err := hc.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

// keys are a JSON object's member names, sorted.
func keys(t *testing.T, body []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m), "%s", body)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
