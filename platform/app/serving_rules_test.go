package app_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// evaluateAll asks POST /targeting/evaluate?explain=true for customer c-1 and returns the
// served campaign ids and, by id, the codes of every not-served one.
func evaluateAll(t *testing.T, s *apptest.Server) ([]string, map[string][]string) {
	t.Helper()
	got := requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate?explain=true",
		map[string]any{"customerId": "c-1", "context": map[string]any{}}), http.StatusOK)
	var served []string
	for _, c := range got["campaigns"].([]any) {
		served = append(served, c.(map[string]any)["campaignId"].(string))
	}
	why := map[string][]string{}
	for _, c := range got["notServed"].([]any) {
		m := c.(map[string]any)
		for _, r := range m["why"].([]any) {
			why[m["campaignId"].(string)] = append(why[m["campaignId"].(string)], r.(map[string]any)["code"].(string))
		}
	}
	return served, why
}

// untargeted lets campaigns without targeting rules start: these tests are about the checks
// before the Rules Engine, which is absent.
func untargeted(c *config.Config) { c.Activation.AllowUntargeted = true }

func listed(t *testing.T, s *apptest.Server, servingStatus string) []string {
	t.Helper()
	got := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns?limit=100&servingStatus="+servingStatus, nil), http.StatusOK)
	var ids []string
	for _, c := range got["campaigns"].([]any) {
		ids = append(ids, c.(map[string]any)["id"].(string))
	}
	return ids
}

// Scheduling windows in Europe/Madrid: the seed system's example (SUN 03:00-04:00 is not
// eligible at 08:52 on a Sunday), a window across midnight, and both DST changes of 2027.
// GET, the servingStatus filter and evaluate agree at every instant.
func TestSchedulingWindows(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		madrid, err := time.LoadLocation("Europe/Madrid")
		require.NoError(t, err)
		clk := newClock(time.Date(2027, 3, 20, 12, 0, 0, 0, time.UTC))
		s := apptest.New(t, target, apptest.ServerConfig{Configure: untargeted, Now: clk.Now})
		mk := func(name string, rules ...map[string]any) string {
			b := servingBody(name+" "+target.Name, []uuid.UUID{})
			b["startDate"] = clk.Now().Add(time.Minute).Format(time.RFC3339)
			delete(b, "endDate")
			b["settings"].(map[string]any)["schedulingRules"] = rules
			id := create(t, s, b)["id"].(string)
			requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
			return id
		}
		rule := func(start, end string, days ...string) map[string]any {
			return map[string]any{"days": days, "startTime": start, "endTime": end, "timezone": "Europe/Madrid"}
		}
		sunday3to4 := mk("Sunday night", rule("03:00", "04:00", "SUN"))
		fridayNight := mk("Friday night", rule("22:00", "02:00", "FRI"))
		twoWindows := mk("Two windows", rule("09:00", "10:00", "SUN"), rule("20:00", "21:00", "SAT"))
		always := mk("Always")

		at := func(local string) time.Time {
			ts, err := time.ParseInLocation("2006-01-02 15:04", local, madrid)
			require.NoError(t, err)
			return ts
		}
		cases := []struct {
			when string
			at   time.Time
			open []string
		}{
			{"Sunday 08:52 Madrid (the seed's example)", at("2027-03-21 08:52"), []string{always}},
			{"Sunday 03:30 Madrid", at("2027-03-21 03:30"), []string{sunday3to4, always}},
			{"Sunday 09:30 Madrid", at("2027-03-21 09:30"), []string{twoWindows, always}},
			{"Friday 23:00 Madrid", at("2027-03-26 23:00"), []string{fridayNight, always}},
			{"Saturday 01:59 Madrid (after midnight)", at("2027-03-27 01:59"), []string{fridayNight, always}},
			{"Saturday 02:00 Madrid", at("2027-03-27 02:00"), []string{always}},
			{"Saturday 20:30 Madrid", at("2027-03-27 20:30"), []string{twoWindows, always}},
			// 2027-03-28 02:00 CET becomes 03:00 CEST: 03:30 CEST is 01:30 UTC.
			{"DST spring: Sunday 03:30 CEST", time.Date(2027, 3, 28, 1, 30, 0, 0, time.UTC), []string{sunday3to4, always}},
			{"DST spring: Sunday 01:30 CET", time.Date(2027, 3, 28, 0, 30, 0, 0, time.UTC), []string{always}},
			{"DST spring: Sunday 09:00 CEST is 07:00 UTC", time.Date(2027, 3, 28, 7, 0, 0, 0, time.UTC), []string{twoWindows, always}},
			// 2027-10-31 03:00 CEST becomes 02:00 CET: 03:30 CET is 02:30 UTC.
			{"DST autumn: Sunday 03:30 CET", time.Date(2027, 10, 31, 2, 30, 0, 0, time.UTC), []string{sunday3to4, always}},
			{"DST autumn: Sunday 02:30 CEST (first pass)", time.Date(2027, 10, 31, 0, 30, 0, 0, time.UTC), []string{always}},
			{"DST autumn: Sunday 09:00 CET is 08:00 UTC", time.Date(2027, 10, 31, 8, 0, 0, 0, time.UTC), []string{twoWindows, always}},
		}
		all := []string{sunday3to4, fridayNight, twoWindows, always}
		for _, c := range cases {
			clk.set(c.at)
			served, why := evaluateAll(t, s)
			assert.ElementsMatch(t, c.open, served, c.when)
			assert.ElementsMatch(t, c.open, listed(t, s, "SERVING"), c.when)
			var closed []string
			for _, id := range all {
				if !slices.Contains(c.open, id) {
					closed = append(closed, id)
					assert.Equal(t, []string{"OUT_OF_SCHEDULE"}, why[id], c.when)
				}
				want := "SERVING"
				if !slices.Contains(c.open, id) {
					want = "OUT_OF_SCHEDULE"
				}
				assert.Equal(t, want, s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)["servingStatus"], c.when)
			}
			assert.ElementsMatch(t, closed, listed(t, s, "OUT_OF_SCHEDULE"), c.when)
		}
		// The one-campaign endpoint explains too.
		clk.set(at("2027-03-21 08:52"))
		v := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+sunday3to4+"/evaluate?explain=true",
			map[string]any{"customerId": "c-1"}), http.StatusOK)
		assert.Equal(t, false, v["eligible"])
		require.Len(t, v["why"], 1)
		assert.Equal(t, "OUT_OF_SCHEDULE", v["why"].([]any)[0].(map[string]any)["code"])
		requireProblem(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate?explain=maybe", map[string]any{"customerId": "c-1"}), http.StatusBadRequest)
	})
}

// maxImpressions and budgetLimit hold a campaign back as soon as the totals reach them, before
// the automation's tick; the tick then pauses it with the stop code that says which. Spend
// past 100% of the budget completes it and records CampaignBudgetExceeded.
func TestCapsAndBudgets(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{Configure: untargeted})
		ctx := context.Background()
		mk := func(name string, set func(b map[string]any)) string {
			b := servingBody(name+" "+target.Name, []uuid.UUID{})
			b["settings"].(map[string]any)["schedulingRules"] = []any{}
			b["budget"] = money("100")
			set(b)
			id := create(t, s, b)["id"].(string)
			requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
			return id
		}
		capped := mk("Capped", func(b map[string]any) { b["settings"].(map[string]any)["maxImpressions"] = 2 })
		limited := mk("Limited", func(b map[string]any) { b["settings"].(map[string]any)["budgetLimit"] = money("50") })
		spent := mk("Spent", func(map[string]any) {})
		get := func(id string) map[string]any { return s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t) }

		requireStatus(t, track(s, capped, map[string]any{"events": []any{
			map[string]any{"type": "IMPRESSION"}, map[string]any{"type": "IMPRESSION", "channel": "EMAIL"}}}), http.StatusAccepted)
		requireStatus(t, track(s, limited, map[string]any{"type": "COST", "cost": money("50")}), http.StatusAccepted)
		requireStatus(t, track(s, spent, map[string]any{"type": "COST", "cost": money("100.5")}), http.StatusAccepted)
		aggregate(t, s)

		// Before the automation: held back everywhere at once.
		assert.Equal(t, "CAP_REACHED", get(capped)["servingStatus"])
		assert.Equal(t, "ACTIVE", get(capped)["status"])
		assert.Equal(t, "BUDGET_EXHAUSTED", get(limited)["servingStatus"])
		assert.Equal(t, "BUDGET_EXHAUSTED", get(spent)["servingStatus"])
		assert.Equal(t, []string{capped}, listed(t, s, "CAP_REACHED"))
		assert.ElementsMatch(t, []string{limited, spent}, listed(t, s, "BUDGET_EXHAUSTED"))
		assert.Empty(t, listed(t, s, "SERVING"))
		served, why := evaluateAll(t, s)
		assert.Empty(t, served)
		assert.Equal(t, map[string][]string{capped: {"CAP_REACHED"}, limited: {"BUDGET"}, spent: {"BUDGET"}}, why)

		_, err := s.API.Automation.Tick(ctx)
		require.NoError(t, err)
		events := func(id, typ string) []any {
			got := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/events?type="+typ, nil), http.StatusOK)
			return got["events"].([]any)
		}
		stopCode := func(id string) string { // of its last status event
			got := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/events?type=CampaignPaused,CampaignCompleted", nil), http.StatusOK)
			evs := got["events"].([]any)
			require.NotEmpty(t, evs)
			return evs[len(evs)-1].(map[string]any)["payload"].(map[string]any)["stopCode"].(string)
		}
		assert.Equal(t, "PAUSED", get(capped)["status"])
		assert.Equal(t, "CAP_REACHED", get(capped)["servingStatus"])
		assert.Equal(t, "CAP_REACHED", stopCode(capped))
		assert.Equal(t, "PAUSED", get(limited)["status"])
		assert.Equal(t, "BUDGET_EXHAUSTED", get(limited)["servingStatus"])
		assert.Equal(t, "BUDGET_LIMIT", stopCode(limited))
		assert.Equal(t, "COMPLETED", get(spent)["status"])
		assert.Equal(t, "BUDGET_EXHAUSTED", stopCode(spent))
		assert.Equal(t, []string{capped}, listed(t, s, "CAP_REACHED"))
		assert.ElementsMatch(t, []string{limited, spent}, listed(t, s, "BUDGET_EXHAUSTED"))

		ex := events(spent, "CampaignBudgetExceeded")
		require.Len(t, ex, 1, "exactly once")
		p := ex[0].(map[string]any)["payload"].(map[string]any)
		assert.Equal(t, money("100.50"), p["spend"])
		assert.Equal(t, money("100.00"), p["budget"])
		completed := events(spent, "CampaignCompleted")
		require.Len(t, completed, 1)
		assert.Equal(t, completed[0].(map[string]any)["version"], ex[0].(map[string]any)["version"], "one transaction, one version")
		paused := events(capped, "CampaignPaused")
		require.Len(t, paused, 1)
		assert.Equal(t, "CAP_REACHED", paused[0].(map[string]any)["payload"].(map[string]any)["stopCode"])
		assert.Empty(t, events(limited, "CampaignBudgetExceeded"), "the limit is not the budget")

		// Another tick (another instance, say) changes nothing and records nothing again.
		_, err = s.API.Automation.Tick(ctx)
		require.NoError(t, err)
		assert.Len(t, events(spent, "CampaignBudgetExceeded"), 1)
		assert.Len(t, events(capped, "CampaignPaused"), 1)
	})
}
