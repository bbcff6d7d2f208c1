package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

func withEngine(e *enginetest.Engine) func(*config.Config) {
	return func(c *config.Config) {
		c.RulesEngine.URL = e.URL
		c.RulesEngine.Timeout = 500 * time.Millisecond
		c.RulesEngine.MaxRetries = 0
		c.RulesEngine.BreakerFailures = 1000 // these tests are about answers, not the breaker
	}
}

// servingBody is a campaign that serves as soon as it is activated, at any time of the week.
func servingBody(name string, rules []uuid.UUID, channels ...string) map[string]any {
	b := validBody(name)
	b["settings"].(map[string]any)["schedulingRules"] = []any{}
	b["startDate"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.String()
	}
	b["targetingRules"] = ids
	if len(channels) > 0 {
		b["settings"].(map[string]any)["channels"] = channels
	}
	return b
}

func TestActivationChecksAgainstTheRulesEngine(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		e := enginetest.New(t)
		s := apptest.New(t, target, apptest.ServerConfig{Configure: withEngine(e)})
		active := e.AddRule("ACTIVE", promotionDSL)
		inactive := e.AddRule("INACTIVE", promotionDSL)
		draft := e.AddRule("DRAFT", promotionDSL)
		missing := uuid.New() // rules may be authored after the campaign: creation accepts it

		t.Run("every rule ACTIVE: 200 and verified", func(t *testing.T) {
			id := create(t, s, servingBody("Targeting OK "+target.Name, []uuid.UUID{active}))["id"].(string)
			got := requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
			assert.Equal(t, true, got["targetingVerified"])
			assert.Equal(t, "SERVING", got["servingStatus"])

			// The rules of an ACTIVE campaign cannot change; of a PAUSED one they can.
			b := servingBody("Targeting OK "+target.Name, []uuid.UUID{active, inactive})
			p := requireProblem(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+id, b, "If-Match", `"2"`), http.StatusConflict)
			assert.Equal(t, "urn:campaigns:problem:targeting-locked", p["type"])
			requireStatus(t, action(s, id, "pause", nil), http.StatusOK)
			got = requireStatus(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+id, b, "If-Match", `"3"`), http.StatusOK)
			assert.Equal(t, false, got["targetingVerified"], "new rules are not verified until the next resume")
			p = requireProblem(t, action(s, id, "resume", nil), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"targetingRules[1]"}, fieldsOf(p))
		})
		t.Run("missing and inactive rules: 422 naming each", func(t *testing.T) {
			b := servingBody("Targeting Bad "+target.Name, []uuid.UUID{active, missing, inactive})
			b["settings"].(map[string]any)["personalization"] = map[string]any{"enabled": true, "rules": []string{draft.String()}}
			id := create(t, s, b)["id"].(string)
			p := requireProblem(t, action(s, id, "activate", nil), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"targetingRules[1]", "targetingRules[2]", "settings.personalization.rules[0]"}, fieldsOf(p))
			assert.Contains(t, string(mustJSON(t, p)), "not found")
			assert.Contains(t, string(mustJSON(t, p)), "is INACTIVE, not ACTIVE")
			assert.Contains(t, string(mustJSON(t, p)), "is DRAFT, not ACTIVE")

			d := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate?dryRun=true", nil), http.StatusOK)
			assert.Equal(t, false, d["allowed"], "a dry run shows the same verdict")
			assert.Len(t, d["violations"], 3)
		})
		t.Run("engine unreachable: 503 with Retry-After, nothing changed", func(t *testing.T) {
			id := create(t, s, servingBody("Targeting Down "+target.Name, []uuid.UUID{active}))["id"].(string)
			e.Failures.Store(1000)
			defer e.Failures.Store(0)
			r := action(s, id, "activate", nil)
			p := requireProblem(t, r, http.StatusServiceUnavailable)
			assert.Equal(t, "urn:campaigns:problem:checks-unavailable", p["type"])
			assert.NotEmpty(t, r.Header.Get("Retry-After"))
			got := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)
			assert.Equal(t, "DRAFT", got["status"])
			assert.EqualValues(t, 1, got["version"])
		})
	})
}

// TestEligibility runs on both databases: the channel filter is dialect-specific SQL.
func TestEligibility(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, testEligibility)
}

func testEligibility(t *testing.T, target dbtest.Target) {
	t.Parallel()
	e := enginetest.New(t)
	s := apptest.New(t, target, apptest.ServerConfig{Configure: withEngine(e)})
	vip := e.AddRule("ACTIVE", promotionDSL)
	fresh := e.AddRule("ACTIVE", enginetest.BigOrderDSL)
	promo := e.AddRule("ACTIVE", promotionDSL)

	mk := func(name string, rules []uuid.UUID, channels ...string) string {
		b := servingBody(name, rules, channels...)
		b["settings"].(map[string]any)["personalization"] = map[string]any{"enabled": true, "rules": []string{promo.String()}}
		id := create(t, s, b)["id"].(string)
		requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
		return id
	}
	forVIP := mk("Eligible VIP", []uuid.UUID{vip}, "EMAIL")
	forNew := mk("Eligible New", []uuid.UUID{fresh}, "EMAIL")
	onSMS := mk("Eligible SMS", []uuid.UUID{vip}, "SMS")
	create(t, s, servingBody("Eligible Draft", []uuid.UUID{vip})) // never activated

	req := map[string]any{"customerId": "c-42", "context": map[string]any{"order_amount": 150}, "channel": "EMAIL"}
	got := requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", req), http.StatusOK)
	list := got["campaigns"].([]any)
	require.Len(t, list, 1)
	c := list[0].(map[string]any)
	assert.Equal(t, forVIP, c["campaignId"])
	assert.Contains(t, []any{"A", "B"}, c["variant"], "the A/B variant is assigned")
	pers := c["personalization"].([]any)
	require.Len(t, pers, 1)
	assert.Equal(t, true, pers[0].(map[string]any)["eligible"])
	assert.EqualValues(t, 10, pers[0].(map[string]any)["result"].(map[string]any)["discount_percentage"])

	// The same customer gets the same variant every time.
	again := requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", req), http.StatusOK)
	assert.Equal(t, c["variant"], again["campaigns"].([]any)[0].(map[string]any)["variant"])

	// Without a channel, the SMS campaign qualifies too.
	delete(req, "channel")
	got = requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", req), http.StatusOK)
	assert.Len(t, got["campaigns"], 2)

	// One campaign, explained.
	v := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+forNew+"/evaluate", req), http.StatusOK)
	assert.Equal(t, false, v["eligible"])
	assert.Contains(t, v["reasons"].([]any)[0], fresh.String())
	v = requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+onSMS+"/evaluate",
		map[string]any{"customerId": "c-42", "context": map[string]any{"order_amount": 150}, "channel": "EMAIL"}), http.StatusOK)
	assert.Equal(t, false, v["eligible"])
	assert.Contains(t, v["reasons"].([]any)[0], "does not run on EMAIL")

	// Fail closed: a rule the engine cannot evaluate makes nobody eligible.
	e.Failures.Store(1000)
	got = requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", req), http.StatusOK)
	assert.Empty(t, got["campaigns"])
	e.Failures.Store(0)

	// Bad input.
	p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", map[string]any{"customerId": "", "context": []int{1}, "channel": "FAX"}), http.StatusUnprocessableEntity)
	assert.ElementsMatch(t, []string{"customerId", "context", "channel"}, fieldsOf(p))
	requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns/not-an-id/evaluate", req), http.StatusNotFound)
	p = requireProblem(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", map[string]any{"customerId": "c-\u0000"}), http.StatusUnprocessableEntity)
	assert.Equal(t, []string{"customerId"}, fieldsOf(p), "a customer id is one line of text")
	// Names match exactly, except inside the free-form context.
	p = requireProblem(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", map[string]any{"CustomerId": "c-42"}), http.StatusBadRequest)
	assert.Equal(t, []string{"CustomerId"}, fieldsOf(p))
	requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", map[string]any{"customerId": "c-42", "context": map[string]any{"Order_Amount": 150}}), http.StatusOK)
	requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+forVIP+"/evaluate", `null`), http.StatusBadRequest)
}

func TestActivationWithTheRulesEngineDown(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there any more: connections are refused
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(c *config.Config) {
		c.RulesEngine.URL, c.RulesEngine.Timeout = down.URL, 200*time.Millisecond
		c.RulesEngine.MaxRetries, c.RulesEngine.BreakerFailures = 1, 2
	}})
	id := create(t, s, servingBody("Engine Down", []uuid.UUID{uuid.New()}))["id"].(string)
	for _, path := range []string{"activate", "activate?dryRun=true", "activate"} { // the last one meets an open breaker
		r := action(s, id, path, nil)
		p := requireProblem(t, r, http.StatusServiceUnavailable)
		assert.Equal(t, "urn:campaigns:problem:checks-unavailable", p["type"])
		assert.Equal(t, "30", r.Header.Get("Retry-After"))
	}
	got := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)
	assert.Equal(t, "DRAFT", got["status"])
	assert.EqualValues(t, 1, got["version"])
	tr := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions", nil), http.StatusOK)
	assert.Empty(t, tr["transitions"])
}

func TestWithoutRulesEngineChecksAreOff(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	id := create(t, s, servingBody("No Engine", []uuid.UUID{uuid.New()}))["id"].(string)
	got := requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
	assert.Equal(t, "ACTIVE", got["status"], "nothing to check against")
	assert.Equal(t, false, got["targetingVerified"])
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// Activation (and its dry run) evaluates each targeting rule once with a neutral context: a
// rule the management service accepted but the evaluator cannot run blocks activation with a
// 422 naming it and quoting the engine. The engine failing at that moment stays a 503.
func TestActivationTriesEachTargetingRule(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		e := enginetest.New(t)
		s := apptest.New(t, target, apptest.ServerConfig{Configure: withEngine(e)})
		good := e.AddRule("ACTIVE", promotionDSL)
		broken := e.AddRule("ACTIVE", "IF customer.tier == gold THEN discount.percentage = 10")

		id := create(t, s, servingBody("Trial Broken "+target.Name, []uuid.UUID{good, broken}))["id"].(string)
		d := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate?dryRun=true", nil, asUserA...), http.StatusOK)
		assert.Equal(t, false, d["allowed"])
		assert.Equal(t, []any{"targetingRules[1]"}, fieldsOfList(d["violations"]))
		p := requireProblem(t, action(s, id, "activate", nil), http.StatusUnprocessableEntity)
		assert.Equal(t, "urn:campaigns:problem:transition-blocked", p["type"])
		assert.Equal(t, []string{"targetingRules[1]"}, fieldsOf(p))
		msg := p["errors"].([]any)[0].(map[string]any)["message"]
		assert.Contains(t, msg, broken.String())
		assert.Contains(t, msg, "cannot be evaluated by the Rules Engine")
		assert.Contains(t, msg, `invalid promotions DSL: missing 'order.amount >'`, "the engine's words")
		got := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)
		assert.Equal(t, "DRAFT", got["status"])

		// The trial uses a neutral context: a runnable rule answers "no" for it, and passes.
		ok := create(t, s, servingBody("Trial OK "+target.Name, []uuid.UUID{good}))["id"].(string)
		requireStatus(t, action(s, ok, "activate", nil), http.StatusOK)

		// The evaluator down during the trial: fail safe, 503 with Retry-After.
		down := create(t, s, servingBody("Trial Down "+target.Name, []uuid.UUID{good}))["id"].(string)
		e.EvalFailures.Store(1000)
		defer e.EvalFailures.Store(0)
		r := action(s, down, "activate", nil)
		p = requireProblem(t, r, http.StatusServiceUnavailable)
		assert.Equal(t, "urn:campaigns:problem:checks-unavailable", p["type"])
		assert.NotEmpty(t, r.Header.Get("Retry-After"))
	})
}

// The engine's reason for a "no" reaches ?explain=true, and a context without the field the
// rule needs (or with a string for a number) is UNDETERMINED, not RULE_NOT_MET.
func TestEligibilityExplainsTheEnginesReasons(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: withEngine(e)})
	rule := e.AddRule("ACTIVE", promotionDSL)
	id := create(t, s, servingBody("Explained", []uuid.UUID{rule}))["id"].(string)
	requireStatus(t, action(s, id, "activate", nil), http.StatusOK)

	for name, tc := range map[string]struct {
		context      map[string]any
		undetermined bool
		code, detail string
	}{
		"missing":    {map[string]any{"segment": "vip"}, true, "UNDETERMINED", "the context lacks order_amount"},
		"a string":   {map[string]any{"order_amount": "150"}, true, "UNDETERMINED", "the context's order_amount is not of the type the rule needs"},
		"below":      {map[string]any{"order_amount": 50}, false, "RULE_NOT_MET", "does not hold for this customer"},
		"no context": {nil, true, "UNDETERMINED", "the context lacks order_amount"},
	} {
		t.Run(name, func(t *testing.T) {
			req := map[string]any{"customerId": "c-1"}
			if tc.context != nil {
				req["context"] = tc.context
			}
			v := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/evaluate?explain=true", req), http.StatusOK)
			assert.Equal(t, false, v["eligible"])
			assert.Equal(t, tc.undetermined, v["undetermined"])
			why := v["why"].([]any)
			require.Len(t, why, 1)
			assert.Equal(t, tc.code, why[0].(map[string]any)["code"])
			assert.Equal(t, rule.String(), why[0].(map[string]any)["ruleId"])
			assert.Contains(t, why[0].(map[string]any)["detail"], tc.detail)
			if tc.undetermined {
				assert.Contains(t, why[0].(map[string]any)["detail"], "Missing order_amount in context", "the engine's reason, passed through")
			}
			all := requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate?explain=true", req), http.StatusOK)
			assert.Empty(t, all["campaigns"])
			if tc.undetermined {
				assert.Len(t, all["undetermined"], 1)
			} else {
				assert.Empty(t, all["undetermined"])
			}
		})
	}
}

// A rule that turns unrunnable after activation (its DSL edited in the engine) is quarantined
// alone over HTTP: the healthy campaign is served every time, the broken one explains
// RULE_ERROR with the engine's words, and /metrics shows the quarantine and a closed breaker.
func TestFaultBrokenRuleAfterActivationIsQuarantined(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(c *config.Config) {
		withEngine(e)(c)
		c.RulesEngine.CacheTTL = 0 // the edited DSL is read at once
	}})
	healthy, later := e.AddRule("ACTIVE", promotionDSL), e.AddRule("ACTIVE", promotionDSL)
	requireStatus(t, action(s, create(t, s, servingBody("Healthy", []uuid.UUID{healthy}))["id"].(string), "activate", nil), http.StatusOK)
	brokenID := create(t, s, servingBody("Broken later", []uuid.UUID{later}))["id"].(string)
	requireStatus(t, action(s, brokenID, "activate", nil), http.StatusOK)
	e.SetRule(later, "ACTIVE", "IF customer.tier == gold THEN discount.percentage = 10")

	req := map[string]any{"customerId": "c-1", "context": map[string]any{"order_amount": 150}}
	for i := range 20 {
		got := requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", req), http.StatusOK)
		require.Len(t, got["campaigns"], 1, "round %d", i)
		assert.Equal(t, "Healthy", got["campaigns"].([]any)[0].(map[string]any)["name"])
		assert.Empty(t, got["undetermined"], "round %d", i)
	}
	v := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+brokenID+"/evaluate?explain=true", req), http.StatusOK)
	why := v["why"].([]any)
	require.Len(t, why, 1)
	assert.Equal(t, "RULE_ERROR", why[0].(map[string]any)["code"])
	assert.Contains(t, why[0].(map[string]any)["detail"], "invalid promotions DSL: missing 'order.amount >'")

	fams := scrape(t, s)
	assert.Equal(t, 1.0, counter(t, fams, "campaigns_rules_engine_rule_quarantined", map[string]string{"rule": later.String()}))
	assert.GreaterOrEqual(t, counter(t, fams, "campaigns_rules_engine_rule_errors_total", map[string]string{"rule": later.String()}), 20.0)
	assert.Equal(t, 0.0, counter(t, fams, "campaigns_rules_engine_breaker_state", map[string]string{"service": "rules-evaluation"}))
}
