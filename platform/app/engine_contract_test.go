package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// The real engine's boolean-answer promotion rule and its evaluation context.
const promotionDSL = "IF order.amount > 100 THEN discount.percentage = 10"

func TestActivationRequiresATargetingRuleOverHTTP(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		e := enginetest.New(t)
		for name, mutate := range map[string]func(*config.Config){
			"without a Rules Engine": nil,
			"with a Rules Engine":    withEngine(e),
		} {
			t.Run(name, func(t *testing.T) {
				s := apptest.New(t, target, apptest.ServerConfig{Configure: mutate})
				id := create(t, s, servingBody("Untargeted "+name+" "+target.Name, nil))["id"].(string)
				d := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate?dryRun=true", nil, asUserA...), http.StatusOK)
				assert.Equal(t, false, d["allowed"])
				assert.Equal(t, []any{"targetingRules"}, fieldsOfList(d["violations"]), "the dry run lists it like the other guards")

				p := requireProblem(t, action(s, id, "activate", nil), http.StatusUnprocessableEntity)
				assert.Equal(t, "urn:campaigns:problem:transition-blocked", p["type"])
				assert.Equal(t, []string{"targetingRules"}, fieldsOf(p))
				assert.Contains(t, string(mustJSON(t, p)), "at least one targeting rule is required")
				got := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)
				assert.Equal(t, "DRAFT", got["status"], "nothing changed")
				assert.EqualValues(t, 1, got["version"])
			})
		}
		t.Run("allowed by configuration", func(t *testing.T) {
			s := apptest.New(t, target, apptest.ServerConfig{Configure: func(c *config.Config) { c.Activation.AllowUntargeted = true }})
			id := create(t, s, servingBody("Everyone "+target.Name, nil))["id"].(string)
			got := requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
			assert.Equal(t, "ACTIVE", got["status"])
			requireStatus(t, action(s, id, "pause", nil), http.StatusOK)
			got = requireStatus(t, action(s, id, "resume", nil), http.StatusOK)
			assert.Equal(t, "ACTIVE", got["status"])
		})
	})
}

func fieldsOfList(v any) []any {
	out := []any{}
	for _, item := range v.([]any) {
		out = append(out, item.(map[string]any)["field"])
	}
	return out
}

func TestActivationChecksRuleCategories(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		e := enginetest.New(t)
		promo := e.AddRule("ACTIVE", promotionDSL)
		taxes := e.AddRuleIn(enginetest.Taxes, "ACTIVE", "tax = 21%")
		s := apptest.New(t, target, apptest.ServerConfig{Configure: withEngine(e)})

		id := create(t, s, servingBody("Taxed "+target.Name, []uuid.UUID{promo, taxes}))["id"].(string)
		p := requireProblem(t, action(s, id, "activate", nil), http.StatusUnprocessableEntity)
		assert.Equal(t, []string{"targetingRules[1]"}, fieldsOf(p))
		assert.Contains(t, string(mustJSON(t, p)), `has category \"TAXES\", which cannot target`)
		d := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate?dryRun=true", nil, asUserA...), http.StatusOK)
		assert.Equal(t, []any{"targetingRules[1]"}, fieldsOfList(d["violations"]))
		assert.EqualValues(t, 1, s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)["version"])

		// Personalization rules compute things (a tax rate, a discount): any category.
		b := servingBody("Personalised "+target.Name, []uuid.UUID{promo})
		b["settings"].(map[string]any)["personalization"] = map[string]any{"enabled": true, "rules": []string{taxes.String()}}
		id = create(t, s, b)["id"].(string)
		got := requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
		assert.Equal(t, true, got["targetingVerified"])

		// Its eligibility: the promotion's verdict, the tax rule's result.
		v := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/evaluate",
			map[string]any{"customerId": "c-1", "context": map[string]any{"order_amount": 150}}), http.StatusOK)
		assert.Equal(t, true, v["eligible"], "body: %v", v)
		pers := v["personalization"].([]any)
		require.Len(t, pers, 1)
		assert.Equal(t, map[string]any{"tax_rate": 0.21}, pers[0].(map[string]any)["result"])

		// A deployment whose engine answers eligible for more categories says so.
		wide := apptest.New(t, target, apptest.ServerConfig{Configure: func(c *config.Config) {
			withEngine(e)(c)
			c.RulesEngine.TargetingCategories = []string{"PROMOTIONS", "TAXES"}
		}})
		id = create(t, wide, servingBody("Taxed wide "+target.Name, []uuid.UUID{promo, taxes}))["id"].(string)
		requireStatus(t, action(wide, id, "activate", nil), http.StatusOK)

		fams := scrape(t, s)
		assert.GreaterOrEqual(t, counter(t, fams, "campaigns_rules_engine_calls_total",
			map[string]string{"service": "rules-management", "outcome": "ok"}), 4.0)
		assert.GreaterOrEqual(t, counter(t, fams, "campaigns_rules_engine_calls_total",
			map[string]string{"service": "rules-evaluation", "outcome": "ok"}), 2.0)
		assert.GreaterOrEqual(t, counter(t, fams, "campaigns_rules_engine_call_duration_seconds",
			map[string]string{"service": "rules-management"}), 4.0)
		assert.Equal(t, 0.0, counter(t, fams, "campaigns_rules_engine_breaker_state", map[string]string{"service": "rules-evaluation"}))
		assert.GreaterOrEqual(t, counter(t, fams, "campaigns_rules_engine_cache_lookups_total", map[string]string{"result": "hit"}), 1.0, "the evaluation read the rule activation had just cached")
	})
}

// Before: six evaluations of a TAXES rule (answering tax_rate) opened the shared evaluation
// breaker, and every campaign became undetermined.
func TestRulesWithoutVerdictDoNotOpenTheBreaker(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(c *config.Config) {
		withEngine(e)(c)
		c.RulesEngine.BreakerFailures = 5
		c.RulesEngine.CacheTTL = 0 // the rule's new category is read at once
	}})
	promo := e.AddRule("ACTIVE", promotionDSL)
	later := e.AddRule("ACTIVE", promotionDSL)
	requireStatus(t, action(s, create(t, s, servingBody("Promo", []uuid.UUID{promo}))["id"].(string), "activate", nil), http.StatusOK)
	taxedID := create(t, s, servingBody("Recategorised", []uuid.UUID{later}))["id"].(string)
	requireStatus(t, action(s, taxedID, "activate", nil), http.StatusOK)
	e.SetRuleIn(later, enginetest.Taxes, "ACTIVE", "tax = 21%") // its category changed after activation

	req := map[string]any{"customerId": "c-1", "context": map[string]any{"order_amount": 150}}
	for i := range 12 {
		got := requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", req), http.StatusOK)
		require.Len(t, got["campaigns"], 1, "round %d", i)
		assert.Equal(t, "Promo", got["campaigns"].([]any)[0].(map[string]any)["name"])
		assert.Empty(t, got["undetermined"], "round %d: a rule without a verdict is a no, not an outage", i)
	}
	v := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+taxedID+"/evaluate", req), http.StatusOK)
	assert.Equal(t, false, v["eligible"])
	assert.Equal(t, false, v["undetermined"])
	assert.Contains(t, v["reasons"].([]any)[0], "gives no eligible verdict")

	// 4xx refusals are answers too.
	e.FailureStatus.Store(http.StatusBadRequest)
	e.EvalFailures.Store(12)
	for range 12 {
		got := requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", req), http.StatusOK)
		assert.Empty(t, got["undetermined"])
	}
	e.EvalFailures.Store(0)
	got := requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate", req), http.StatusOK)
	require.Len(t, got["campaigns"], 1, "the breaker stayed closed: evaluations go on")
	fams := scrape(t, s)
	assert.Equal(t, 0.0, counter(t, fams, "campaigns_rules_engine_breaker_state", map[string]string{"service": "rules-evaluation"}))
	assert.GreaterOrEqual(t, counter(t, fams, "campaigns_rules_engine_calls_total",
		map[string]string{"service": "rules-evaluation", "outcome": "rejected"}), 1.0)
}

// A wrong base URL answers the router's plain-text 404: 503 and an error log naming the URL,
// never "rule not found" blamed on the campaign.
func TestWrongRulesEngineURLIsAConfigurationError(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		e := enginetest.New(t)
		rule := e.AddRule("ACTIVE", promotionDSL)
		wrong := e.URL + "/rules"
		cfg := apptest.Config(t, target)
		withEngine(e)(cfg)
		cfg.RulesEngine.URL = wrong
		var logs logtest.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a, err := app.NewAPI(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, nil)), app.APIConfig{})
		require.NoError(t, err)
		s := apptest.Start(t, a)

		id := create(t, s, servingBody("Misconfigured "+target.Name, []uuid.UUID{rule}))["id"].(string)
		r := s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate", nil, asUserA...)
		p := requireProblem(t, r, http.StatusServiceUnavailable)
		assert.Equal(t, "urn:campaigns:problem:checks-unavailable", p["type"])
		assert.NotContains(t, string(r.Body), "not found")
		assert.NotContains(t, string(r.Body), e.URL, "the URL is for the logs, not the client")
		got := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)
		assert.Equal(t, "DRAFT", got["status"])
		assert.EqualValues(t, 1, got["version"])

		out := logs.String()
		var line string
		for l := range strings.SplitSeq(out, "\n") {
			if strings.Contains(l, "answers 404 as no Rules Engine does") {
				line = l
			}
		}
		require.NotEmpty(t, line, "logs: %s", out)
		assert.Contains(t, line, `"level":"ERROR"`)
		assert.Contains(t, line, `"url":"`+wrong+`"`)
		assert.Contains(t, line, `"setting":"rules_engine.url"`)
	})
}
