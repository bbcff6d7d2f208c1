package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// TestListIncludesMetrics: with includeMetrics=true each campaign of a list page carries its
// all-time totals (zero without any event), read in one query per page; without it the list
// is as it was. A bad value is a 400 naming it beside the list's other bad parameters.
func TestListIncludesMetrics(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{})
		var ids []string
		for _, name := range []string{"List totals alpha", "List totals beta"} {
			r := s.Do(http.MethodPost, "/api/v1/campaigns", validBody(name), asUserA...)
			require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
			ids = append(ids, r.Map(t)["id"].(string))
		}
		now := time.Now().UTC()
		require.NoError(t, s.API.Metrics.Commit(context.Background(), metrics.Batch{Consumer: "list-test", From: 0, To: 1,
			Rollups: map[metrics.Key]metrics.Totals{
				{CampaignID: uuid.MustParse(ids[0]), Hour: metrics.HourOf(now), Variant: "A", Channel: "EMAIL"}: {Impressions: 200, Clicks: 9, CostE4: 45_5000},
				{CampaignID: uuid.MustParse(ids[0]), Hour: metrics.HourOf(now), Variant: "B", Channel: "EMAIL"}: {Impressions: 40, Clicks: 3, Conversions: 1, RevenueE4: 10_0000},
			}}, now))

		r := s.Do(http.MethodGet, "/api/v1/campaigns?includeMetrics=true&sort=name&limit=1", nil, asUserA...)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		page := r.Map(t)
		camps := page["campaigns"].([]any)
		require.Len(t, camps, 1)
		first := camps[0].(map[string]any)
		assert.Equal(t, ids[0], first["id"])
		assert.Equal(t, map[string]any{
			"impressions": 240.0, "clicks": 12.0, "conversions": 1.0, "bounces": 0.0, "unsubscribes": 0.0, "reach": 0.0,
			"revenue": map[string]any{"amount": "10.00", "currency": "EUR"},
			"cost":    map[string]any{"amount": "45.50", "currency": "EUR"},
		}, first["totals"])

		// The next page (same sort): the campaign without events has zero totals.
		next := s.Do(http.MethodGet, "/api/v1/campaigns?includeMetrics=true&sort=name&limit=1&cursor="+page["nextCursor"].(string), nil, asUserA...)
		require.Equal(t, http.StatusOK, next.Status, "%s", next.Body)
		second := next.Map(t)["campaigns"].([]any)[0].(map[string]any)
		assert.Equal(t, ids[1], second["id"])
		totals := second["totals"].(map[string]any)
		assert.EqualValues(t, 0, totals["impressions"])
		assert.Equal(t, map[string]any{"amount": "0.00", "currency": "EUR"}, totals["cost"])

		plain := s.Do(http.MethodGet, "/api/v1/campaigns?sort=name", nil, asUserA...)
		require.Equal(t, http.StatusOK, plain.Status)
		for _, c := range plain.Map(t)["campaigns"].([]any) {
			assert.NotContains(t, c.(map[string]any), "totals")
		}
		off := s.Do(http.MethodGet, "/api/v1/campaigns?includeMetrics=false", nil, asUserA...)
		require.Equal(t, http.StatusOK, off.Status)
		assert.NotContains(t, off.Map(t)["campaigns"].([]any)[0].(map[string]any), "totals")

		bad := s.Do(http.MethodGet, "/api/v1/campaigns?includeMetrics=yes&status=NOPE", nil, asUserA...)
		p := requireProblem(t, bad, http.StatusBadRequest)
		assert.ElementsMatch(t, []string{"status", "includeMetrics"}, fieldsOf(p))
		// The export keeps its own includeMetrics, and the list's other parameters stay refused there.
		requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/export?limit=5&includeMetrics=true", nil, asUserA...), http.StatusBadRequest)
	})
}
