package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// pacedBody is a campaign serving from now on EMAIL for rule, with pacing.
func pacedBody(name string, now time.Time, rule uuid.UUID, pacing map[string]any) map[string]any {
	b := servingBody(name, []uuid.UUID{rule}, "EMAIL")
	b["startDate"] = now.UTC().Format(time.RFC3339)
	b["endDate"] = now.Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	b["settings"].(map[string]any)["abTestSettings"] = nil
	b["settings"].(map[string]any)["personalization"] = nil
	b["settings"].(map[string]any)["pacing"] = pacing
	return b
}

// whyNot is the reason codes of campaign id in an explained evaluation's notServed.
func whyNot(t *testing.T, got map[string]any, id string) []string {
	t.Helper()
	var codes []string
	for _, n := range got["notServed"].([]any) {
		n := n.(map[string]any)
		if n["campaignId"] != id {
			continue
		}
		for _, w := range n["why"].([]any) {
			codes = append(codes, w.(map[string]any)["code"].(string))
		}
	}
	return codes
}

// Pacing through the API, on a controllable clock, in both dialects: the settings are stored
// and validated; an EVEN campaign ahead of its plan is throttled (reason PACING) and shows
// its pacing index in GET, /metrics and the Prometheus gauge; a spent daily budget is
// BUDGET_EXHAUSTED until midnight in the campaign's zone, then serves again.
func TestPacingHTTP(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		// Two days ago in New York, so that tracked events are in the past of the real clock
		// (/track refuses future events by it).
		y, m, d := time.Now().In(ny).AddDate(0, 0, -2).Date()
		midnight := time.Date(y, m, d, 0, 0, 0, 0, ny)
		clk := newClock(midnight.Add(30 * time.Minute))
		e := enginetest.New(t)
		s := apptest.New(t, target, apptest.ServerConfig{Now: clk.Now, Configure: withEngine(e)})
		rule := e.AddRule("ACTIVE", promotionDSL)
		req := map[string]any{"customerId": "c-1", "context": map[string]any{"order_amount": 150}, "channel": "EMAIL"}
		evaluate := func() map[string]any {
			t.Helper()
			return requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate?explain=true", req), http.StatusOK)
		}
		daily := func(mode, amount string) map[string]any {
			return map[string]any{"mode": mode, "period": "DAILY", "dailyBudget": money(amount), "timezone": "America/New_York"}
		}

		even := create(t, s, pacedBody("Even "+target.Name, clk.Now(), rule, daily("EVEN", "100.00")))
		evenID := even["id"].(string)
		assert.Equal(t, map[string]any{"mode": "EVEN", "period": "DAILY", "dailyBudget": money("100.00"),
			"timezone": "America/New_York"}, even["settings"].(map[string]any)["pacing"])
		asapID := create(t, s, pacedBody("Daily "+target.Name, clk.Now(), rule, daily("ASAP", "50.00")))["id"].(string)
		requireStatus(t, action(s, evenID, "activate", nil), http.StatusOK)
		requireStatus(t, action(s, asapID, "activate", nil), http.StatusOK)

		t.Run("bad pacing: 422 naming each field", func(t *testing.T) {
			b := pacedBody("Bad pacing "+target.Name, clk.Now(), rule, map[string]any{"mode": "SLOW", "period": "DAILY", "timezone": "Mars/Olympus"})
			p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", b, asUserA...), http.StatusUnprocessableEntity)
			assert.ElementsMatch(t, []string{"settings.pacing.mode", "settings.pacing.dailyBudget", "settings.pacing.timezone"}, fieldsOf(p))
			b = pacedBody("Bad pacing "+target.Name, clk.Now(), rule, map[string]any{"mode": "EVEN", "period": "FLIGHT"})
			delete(b, "endDate")
			p = requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", b, asUserA...), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"settings.pacing.mode"}, fieldsOf(p), "EVEN over an open-ended flight")
			p = requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", pacedBody("Bad pacing "+target.Name, clk.Now(), rule,
				map[string]any{"mode": "EVEN", "dailyBudget": map[string]any{"amount": "ten", "currency": "EUR"}}), asUserA...), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"settings.pacing.dailyBudget.amount"}, fieldsOf(p))
		})

		// 10:30 in New York: the day so far is 10 of its 23.5 hours (it began at 00:30, the
		// start date). Both campaigns serve: nothing is spent.
		clk.set(midnight.Add(10*time.Hour + 30*time.Minute))
		got := evaluate()
		assert.Len(t, got["campaigns"], 2)

		t.Run("ahead of its plan: PACING, the index in GET, /metrics and the gauge", func(t *testing.T) {
			// 60 spent of 100 against 42.55 planned: 17% ahead, beyond the 2% band: nobody is served.
			requireStatus(t, track(s, evenID, map[string]any{"type": "COST", "cost": money("60"),
				"occurredAt": clk.Now().Add(-time.Minute).Format(time.RFC3339)}), http.StatusAccepted)
			aggregate(t, s)
			for _, c := range []string{"c-1", "c-2", "c-3"} {
				req["customerId"] = c
				assert.Equal(t, []string{"PACING"}, whyNot(t, evaluate(), evenID), "customer %s", c)
			}
			v := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+evenID+"/evaluate?explain=true", req), http.StatusOK)
			assert.Equal(t, false, v["eligible"])
			assert.Contains(t, v["reasons"].([]any)[0], "ahead of its EVEN pacing plan")

			wantIndex := (60.0 / 100) / (10.0 / 23.5)
			g := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+evenID, nil), http.StatusOK)
			assert.Equal(t, "SERVING", g["servingStatus"], "a throttled campaign still serves")
			p := g["metrics"].(map[string]any)["pacing"].(map[string]any)
			assert.InDelta(t, wantIndex, p["pacingIndex"], 0.001)
			assert.Equal(t, money("60.00"), p["spent"])
			assert.Equal(t, money("42.55"), p["planned"])
			assert.EqualValues(t, 0, p["servedShare"])
			assert.Nil(t, p["series"], "GET's embed has no chart")

			mt := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+evenID+"/metrics", nil), http.StatusOK)
			p = mt["pacing"].(map[string]any)
			assert.InDelta(t, wantIndex, p["pacingIndex"], 0.001)
			series := p["series"].([]any)
			require.Len(t, series, 12, "the start, each hour from 01:00 to 10:00, now")
			first, last := series[0].(map[string]any), series[len(series)-1].(map[string]any)
			assert.Equal(t, map[string]any{"at": midnight.Add(30 * time.Minute).UTC().Format(time.RFC3339), "spent": "0.0000", "planned": "0.0000"}, first)
			assert.Equal(t, "60.0000", last["spent"])
			assert.Equal(t, "42.5532", last["planned"])

			// The automation's alert check records CampaignPacingOffPlan, once.
			for range 2 {
				_, err := s.API.Campaigns.CheckAlerts(context.Background(), campaign.AlertConfig{}, s.API.Metrics)
				require.NoError(t, err)
			}
			evs := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+evenID+"/events?type=CampaignPacingOffPlan", nil), http.StatusOK)
			require.Len(t, evs["events"], 1)
			data := evs["events"].([]any)[0].(map[string]any)["payload"].(map[string]any)
			assert.Equal(t, "AHEAD", data["direction"])
			assert.Equal(t, "17.45", data["deviationPercent"])

			r := s.Do(http.MethodGet, "/metrics", nil)
			require.Equal(t, http.StatusOK, r.Status)
			assert.Contains(t, string(r.Body), `campaigns_pacing_index{campaign_id="`+evenID+`"} 1.41`)
			assert.NotContains(t, string(r.Body), `campaign_id="`+asapID+`"`, "ASAP campaigns have no series")
		})

		t.Run("a spent daily budget holds until midnight in the zone", func(t *testing.T) {
			requireStatus(t, track(s, asapID, map[string]any{"type": "COST", "cost": money("50"),
				"occurredAt": clk.Now().Add(-time.Minute).Format(time.RFC3339)}), http.StatusAccepted)
			aggregate(t, s)
			status := func() string {
				return requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+asapID, nil), http.StatusOK)["servingStatus"].(string)
			}
			assert.Equal(t, "BUDGET_EXHAUSTED", status())
			assert.Equal(t, []string{"BUDGET"}, whyNot(t, evaluate(), asapID))
			_, err := s.API.Campaigns.CheckAlerts(context.Background(), campaign.AlertConfig{}, s.API.Metrics)
			require.NoError(t, err)
			evs := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+asapID+"/events?type=CampaignDailyBudgetNearlySpent", nil), http.StatusOK)
			require.Len(t, evs["events"], 1)
			data := evs["events"].([]any)[0].(map[string]any)["payload"].(map[string]any)
			assert.Equal(t, "100.00", data["spentPercent"])
			assert.Equal(t, midnight.Format(time.DateOnly), data["day"])
			list := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns?servingStatus=BUDGET_EXHAUSTED", nil), http.StatusOK)
			require.Len(t, list["campaigns"], 1, "the serving filter judges the daily budget too")
			assert.Equal(t, asapID, list["campaigns"].([]any)[0].(map[string]any)["id"])

			clk.set(midnight.Add(24*time.Hour - time.Second)) // 23:59:59 in New York, 04:59:59 UTC
			assert.Equal(t, "BUDGET_EXHAUSTED", status())
			clk.set(midnight.Add(24 * time.Hour)) // midnight in New York
			assert.Equal(t, "SERVING", status(), "a new day, a new daily budget")
			req["customerId"] = "c-1"
			got := evaluate()
			assert.Empty(t, whyNot(t, got, asapID))
			var served []string
			for _, c := range got["campaigns"].([]any) {
				served = append(served, c.(map[string]any)["campaignId"].(string))
			}
			assert.Contains(t, served, asapID)
		})
	})
}
