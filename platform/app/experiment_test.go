package app_test

import (
	"math"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/metrics/experiment"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// threeArms is validBody with three variants, B the control, judged on conversion rate once
// each variant has 5 exposures.
func threeArms(name string) map[string]any {
	b := validBody(name)
	b["settings"].(map[string]any)["abTestSettings"] = map[string]any{"enabled": true,
		"successMetric": "conversionRate", "minSampleSize": 5,
		"variants": []map[string]any{
			{"key": "A", "name": "Plain", "weight": 30},
			{"key": "B", "name": "Control", "weight": 40, "control": true, "description": "The current banner"},
			{"key": "C", "name": "Bold", "weight": 30}}}
	return b
}

func events(variant string, impressions, clicks int, revenues ...string) []any {
	var out []any
	for range impressions {
		out = append(out, map[string]any{"type": "IMPRESSION", "variant": variant, "channel": "EMAIL"})
	}
	for range clicks {
		out = append(out, map[string]any{"type": "CLICK", "variant": variant, "channel": "EMAIL"})
	}
	for _, r := range revenues {
		out = append(out, map[string]any{"type": "CONVERSION", "variant": variant, "revenue": money(r)})
	}
	return out
}

func TestExperiment(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{})
		id := create(t, s, threeArms("Experiment "+target.Name))["id"].(string)
		requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
		batch := append(append(events("A", 10, 4, "20", "30"), events("B", 12, 6, "10")...), events("C", 8, 2)...)
		batch = append(batch, map[string]any{"type": "IMPRESSION"}) // no variant: left out
		requireStatus(t, track(s, id, map[string]any{"events": batch}), http.StatusAccepted)
		aggregate(t, s)

		got := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment", nil), http.StatusOK)
		assert.Equal(t, "impressions", got["exposureUnit"])
		assert.Equal(t, "conversionRate", got["metric"], "the campaign's success metric")
		assert.Equal(t, "B", got["control"])
		assert.Equal(t, "holm-bonferroni", got["multipleComparisons"])
		assert.EqualValues(t, 5, got["minSampleSize"])
		assert.Equal(t, "EUR", got["currency"])
		assert.Equal(t, false, got["srm"])
		assert.Contains(t, got["warnings"], "1 impressions name no variant of the test (or none at all) and are left out")
		vs := got["variants"].([]any)
		require.Len(t, vs, 3)
		a, b, c := vs[0].(map[string]any), vs[1].(map[string]any), vs[2].(map[string]any)
		assert.EqualValues(t, 10, a["exposures"])
		assert.EqualValues(t, 4, a["clicks"])
		assert.EqualValues(t, 2, a["conversions"])
		assert.EqualValues(t, 50, a["revenue"])
		assert.Equal(t, "The current banner", b["description"])
		assert.Equal(t, true, b["control"])
		assert.Nil(t, b["vsControl"], "the control is not compared with itself")
		assert.EqualValues(t, 0.4, a["ctr"].(map[string]any)["value"])
		assert.EqualValues(t, 0, c["conversionRate"].(map[string]any)["value"], "C: clicks, no conversion")
		// Revenue per exposure of A from the stored sum of squares: 2 conversions (20, 30) over
		// 10 impressions: mean 5, s² = (20² + 30² - 10·5²)/9 = 116.667, and the 95% Student t
		// half-width t(0.975; 9)·s/√10 with t(0.975; 9) = 2.262157 (every t table).
		rpe := a["revenuePerExposure"].(map[string]any)
		assert.InDelta(t, 5, rpe["value"], 1e-9)
		assert.InDelta(t, 5-2.262157*math.Sqrt(116.6666667/10), rpe["low"], 1e-5)
		cmp := a["vsControl"].(map[string]any)["revenuePerExposure"].(map[string]any)
		assert.NotNil(t, cmp["pValue"], "Welch's test runs on the stored squares")
		assert.Equal(t, "sequential", got["mode"], "the live verdict is the sequential one")
		assert.Equal(t, []any{"ctr", "revenuePerExposure"}, got["secondaryMetrics"])
		assert.Equal(t, "msprt", a["vsControl"].(map[string]any)["conversionRate"].(map[string]any)["test"])
		assert.Equal(t, "NOT_ENOUGH_DATA", got["verdict"], "a handful of events: every cell expects fewer than 5")

		// The plan: the control's conversion rate (1 of 6 clicks) and a +10% lift at power 0.8.
		wantN, err := experiment.SampleSize(1.0/6, 0.1, 0.05, 0.8)
		require.NoError(t, err)
		plan := got["plan"].(map[string]any)
		assert.EqualValues(t, wantN, plan["perVariant"])
		assert.EqualValues(t, 2, plan["soFar"], "C's 2 clicks")
		assert.Nil(t, plan["daysAtCurrentTraffic"], "the campaign starts tomorrow")
		bigger := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment?mde=0.5&power=0.9", nil), http.StatusOK)
		assert.Less(t, bigger["plan"].(map[string]any)["perVariant"].(float64), float64(wantN), "a larger effect needs fewer")
		requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment?power=1", nil), http.StatusBadRequest)

		fixed := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment?mode=fixedHorizon", nil), http.StatusOK)
		assert.Equal(t, "fixedHorizon", fixed["mode"])
		assert.Equal(t, false, fixed["plannedSampleReached"], "C has 2 clicks, the conversion rate's denominator, of the 5 planned")
		assert.Equal(t, "fisher-exact", fixed["variants"].([]any)[0].(map[string]any)["vsControl"].(map[string]any)["conversionRate"].(map[string]any)["test"])
		assert.Equal(t, "NOT_ENOUGH_DATA", fixed["verdict"])
		fixedRev := fixed["variants"].([]any)[0].(map[string]any)["vsControl"].(map[string]any)["revenuePerExposure"].(map[string]any)
		assert.Equal(t, "welch-t", fixedRev["test"])
		assert.NotEqual(t, fixedRev["pValue"], fixedRev["adjustedPValue"], "a secondary metric: Holm-adjusted with the others")

		same := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment?metric=conversionRate", nil), http.StatusOK)
		assert.Equal(t, "conversionRate", same["metric"])
		p := requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment?metric=ctr", nil), http.StatusBadRequest)
		assert.Equal(t, []string{"metric"}, fieldsOf(p), "the verdict's metric is the one registered before the test")
		requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment?mode=bayesian", nil), http.StatusBadRequest)
		p = requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment?metric=roas", nil), http.StatusBadRequest)
		assert.Equal(t, []string{"metric"}, fieldsOf(p))
		requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment?metric=ctr&metric=ctr", nil), http.StatusBadRequest)

		camp := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil), http.StatusOK)
		assert.Equal(t, map[string]any{"verdict": "NOT_ENOUGH_DATA", "mode": "sequential", "metric": "conversionRate", "winner": nil},
			camp["experiment"], "GET campaign embeds the short verdict")

		t.Run("without an A/B test", func(t *testing.T) {
			body := validBody("No experiment " + target.Name)
			body["settings"].(map[string]any)["abTestSettings"] = map[string]any{"enabled": false, "variants": []any{}}
			other := create(t, s, body)["id"].(string)
			requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+other+"/experiment", nil), http.StatusConflict)
			got := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+other, nil), http.StatusOK)
			assert.NotContains(t, got, "experiment")
			requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+other+"/experiment/conclude",
				map[string]any{"winner": "A"}), http.StatusConflict)
		})

		t.Run("conclude", func(t *testing.T) {
			conclude := func(body any, header ...string) *apptest.Response {
				return s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/experiment/conclude", body, header...)
			}
			p := requireProblem(t, conclude(map[string]any{"winner": "C"}), http.StatusConflict)
			assert.Equal(t, "ACTIVE", p["currentStatus"], "an ACTIVE campaign is paused first")
			requireStatus(t, action(s, id, "pause", nil), http.StatusOK)
			p = requireProblem(t, conclude(map[string]any{"winner": "Z"}), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"winner"}, fieldsOf(p))
			assert.Contains(t, p["errors"].([]any)[0].(map[string]any)["message"], `"Z"`)
			requireProblem(t, conclude(map[string]any{}), http.StatusUnprocessableEntity)
			requireProblem(t, conclude(map[string]any{"winner": "C", "loser": "A"}), http.StatusBadRequest)
			requireProblem(t, conclude(map[string]any{"winner": "C"}, "If-Match", `"1"`), http.StatusPreconditionFailed)

			before := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil), http.StatusOK)
			done := requireStatus(t, conclude(map[string]any{"winner": "C"}), http.StatusOK)
			assert.EqualValues(t, before["version"].(float64)+1, done["version"])
			var weights []any
			for _, v := range done["settings"].(map[string]any)["abTestSettings"].(map[string]any)["variants"].([]any) {
				weights = append(weights, v.(map[string]any)["weight"])
			}
			assert.Equal(t, []any{0.0, 0.0, 100.0}, weights)
			evs := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/events?type=CampaignUpdated", nil), http.StatusOK)
			list := evs["events"].([]any)
			require.NotEmpty(t, list)
			changes := list[len(list)-1].(map[string]any)["payload"].(map[string]any)["changes"].(map[string]any)
			assert.Contains(t, changes, "settings.abTestSettings", "an evented update with history")

			after := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment", nil), http.StatusOK)
			assert.Equal(t, false, after["srmCheck"].(map[string]any)["checked"], "a concluded test has no ratio to check")
		})
	})
}

// Concluding changes who sees what: managers and admins only; reading the analysis is a read.
func TestExperimentConcludeIsForManagers(t *testing.T) {
	t.Parallel()
	idp := newSecIdP(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(cfg *config.Config) { idp.configure(cfg) }})
	as := func(r auth.Role) []string { return []string{auth.HeaderAPIKey, secKeyName(r)} }
	created := s.Do(http.MethodPost, "/api/v1/campaigns", threeArms("Experiment RBAC"), as(auth.RoleEditor)...)
	id := requireStatus(t, created, http.StatusCreated)["id"].(string)
	path := "/api/v1/campaigns/" + id + "/experiment/conclude"
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleEditor, auth.RoleTracker} {
		requireProblem(t, s.Do(http.MethodPost, path, map[string]any{"winner": "A"}, as(r)...), http.StatusForbidden)
	}
	requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/experiment", nil, as(auth.RoleViewer)...), http.StatusOK)
	requireStatus(t, s.Do(http.MethodPost, path, map[string]any{"winner": "A"}, as(auth.RoleManager)...), http.StatusOK)
}
