package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// TestListIncludesPacing: with includeMetrics=true each campaign that paces its spend (EVEN or
// FRONT_LOADED, daily or over its flight) carries totals.pacing, exactly what GET
// /campaigns/{id} embeds as metrics.pacing (without the chart); an ASAP campaign and one
// without pacing settings carry none, and the list without includeMetrics is unchanged.
func TestListIncludesPacing(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		y, m, d := time.Now().In(ny).AddDate(0, 0, -2).Date()
		midnight := time.Date(y, m, d, 0, 0, 0, 0, ny)
		clk := newClock(midnight.Add(30 * time.Minute))
		s := apptest.New(t, target, apptest.ServerConfig{Now: clk.Now})
		rule := uuid.New()
		daily := func(mode, amount string) map[string]any {
			return map[string]any{"mode": mode, "period": "DAILY", "dailyBudget": money(amount), "timezone": "America/New_York"}
		}
		ids := map[string]string{}
		for name, pacing := range map[string]map[string]any{
			"even daily":   daily("EVEN", "100.00"),
			"front flight": {"mode": "FRONT_LOADED", "period": "FLIGHT"},
			"asap daily":   daily("ASAP", "50.00"),
			"unpaced":      nil,
		} {
			ids[name] = create(t, s, pacedBody("List pacing "+name, clk.Now(), rule, pacing))["id"].(string)
		}
		// 10:30 in New York: 10 of the day's 23.5 hours (it began at 00:30, the start date).
		clk.set(midnight.Add(10*time.Hour + 30*time.Minute))
		hour := metrics.HourOf(clk.Now().Add(-time.Hour))
		rollups := map[metrics.Key]metrics.Totals{}
		for _, id := range ids {
			rollups[metrics.Key{CampaignID: uuid.MustParse(id), Hour: hour, Variant: "A", Channel: "EMAIL"}] = metrics.Totals{Impressions: 1000, CostE4: 60_0000}
		}
		// Yesterday's spend counts in the flight, not in today's daily budget.
		rollups[metrics.Key{CampaignID: uuid.MustParse(ids["even daily"]), Hour: hour.Add(-24 * time.Hour), Variant: "A", Channel: "EMAIL"}] =
			metrics.Totals{Impressions: 10, CostE4: 25_0000}
		require.NoError(t, s.API.Metrics.Commit(context.Background(), metrics.Batch{Consumer: "list-pacing", From: 0, To: 1, Rollups: rollups}, clk.Now()))

		r := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns?includeMetrics=true&limit=10&q="+url.QueryEscape("List pacing"), nil, asUserA...), http.StatusOK)
		byID := map[string]map[string]any{}
		for _, c := range r["campaigns"].([]any) {
			c := c.(map[string]any)
			byID[c["id"].(string)] = c["totals"].(map[string]any)
		}
		require.Len(t, byID, 4)
		for _, name := range []string{"even daily", "front flight"} {
			p, ok := byID[ids[name]]["pacing"].(map[string]any)
			require.True(t, ok, "%s has totals.pacing: %v", name, byID[ids[name]])
			g := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+ids[name], nil), http.StatusOK)
			assert.Equal(t, g["metrics"].(map[string]any)["pacing"], p, "%s: the list's pacing is GET's", name)
			assert.NotNil(t, p["pacingIndex"], name)
			assert.NotContains(t, p, "series", name)
		}
		even := byID[ids["even daily"]]
		assert.Equal(t, money("85.00"), even["cost"], "all-time cost")
		p := even["pacing"].(map[string]any)
		assert.Equal(t, "EVEN", p["mode"])
		assert.Equal(t, "DAILY", p["period"])
		assert.Equal(t, money("60.00"), p["spent"], "today's spend only")
		assert.InDelta(t, (60.0/100)/(10.0/23.5), p["pacingIndex"], 0.001)
		front := byID[ids["front flight"]]["pacing"].(map[string]any)
		assert.Equal(t, "FRONT_LOADED", front["mode"])
		assert.Equal(t, money("60.00"), front["spent"], "a flight's spend is its all-time cost")
		for _, name := range []string{"asap daily", "unpaced"} {
			assert.NotContains(t, byID[ids[name]], "pacing", name)
			assert.Equal(t, money("60.00"), byID[ids[name]]["cost"], name)
		}

		plain := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns?q="+url.QueryEscape("List pacing"), nil, asUserA...), http.StatusOK)
		for _, c := range plain["campaigns"].([]any) {
			assert.NotContains(t, c.(map[string]any), "totals")
		}

		// Reads stay bounded: the totals are one query per page, today's spend one per distinct
		// start of day among the page's daily budgets (one zone here), whatever the number of
		// paced campaigns on it.
		queries := &queryCounter{}
		s.API.DB.AddQueryHook(queries)
		count := func(query string) int64 {
			before := queries.n.Load()
			requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns?limit=50&q="+url.QueryEscape("List pacing")+query, nil, asUserA...), http.StatusOK)
			return queries.n.Load() - before
		}
		without, with := count(""), count("&includeMetrics=true")
		assert.Equal(t, without+2, with, "the totals, then today's spend of the daily budgets")
		// They start when the others did: their days start at the same instant, which is what
		// today's spend is read by (one query per distinct start of day: per zone, usually).
		clk.set(midnight.Add(30 * time.Minute))
		for i := range 8 {
			pacing := daily("EVEN", "10.00")
			if i%2 == 1 {
				pacing = map[string]any{"mode": "EVEN", "period": "FLIGHT"}
			}
			create(t, s, pacedBody(fmt.Sprintf("List pacing more %d", i), clk.Now(), rule, pacing))
		}
		clk.set(midnight.Add(10*time.Hour + 30*time.Minute))
		assert.Equal(t, with, count("&includeMetrics=true"), "with 8 more paced campaigns on the page")
	})
}
