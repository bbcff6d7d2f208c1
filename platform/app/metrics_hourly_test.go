package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// performance GETs the campaign's performance report with the query q.
func performance(t *testing.T, s *apptest.Server, id string, q url.Values) map[string]any {
	t.Helper()
	return requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/performance?"+q.Encode(), nil), http.StatusOK)
}

// pointsOf returns a series' points by period.
func pointsOf(series any) (periods []string, byPeriod map[string]map[string]any) {
	byPeriod = map[string]map[string]any{}
	for _, p := range series.(map[string]any)["points"].([]any) {
		pt := p.(map[string]any)
		periods = append(periods, pt["period"].(string))
		byPeriod[pt["period"].(string)] = pt
	}
	return periods, byPeriod
}

// Launch-day monitoring: a campaign launched five hours ago is watched hour by hour. The
// hourly report gives one point per hour with events, named by the hour's start, with
// running totals; the default range is the last 24 hours, so older events are left out;
// dates, date-times and groupBy work as for days; and the all-time totals (GET campaign,
// /metrics) agree with the daily rows.
func TestHourlyPerformanceForLaunchDay(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		s := apptest.New(t, target, apptest.ServerConfig{})
		id := create(t, s, validBody("Launch day "+target.Name))["id"].(string)
		requireStatus(t, action(s, id, "activate", nil), http.StatusOK)

		now := time.Now().UTC()
		launch := metrics.HourOf(now).Add(-5 * time.Hour)
		var events []any
		at := func(h int) string {
			return launch.Add(time.Duration(h)*time.Hour + 30*time.Second).Format(time.RFC3339)
		}
		for h := range 6 { // the launch hour to the current one
			for range h + 1 {
				events = append(events, map[string]any{"type": "IMPRESSION", "variant": "A", "channel": "EMAIL", "occurredAt": at(h)})
			}
			for range h {
				events = append(events, map[string]any{"type": "CLICK", "variant": "B", "channel": "PUSH", "occurredAt": at(h)})
			}
		}
		events = append(events,
			map[string]any{"type": "COST", "cost": money("12.50"), "occurredAt": at(1)},
			map[string]any{"type": "CONVERSION", "revenue": money("50.00"), "occurredAt": at(2)},
			// A test send two days before: outside the last 24 hours.
			map[string]any{"type": "IMPRESSION", "variant": "A", "channel": "EMAIL", "occurredAt": now.Add(-48 * time.Hour).Format(time.RFC3339)},
		)
		got := requireStatus(t, track(s, id, map[string]any{"events": events}), http.StatusAccepted)
		require.EqualValues(t, len(events), got["accepted"], "rejected: %v", got["rejected"])
		aggregate(t, s)

		hourName := func(h int) string { return launch.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
		wantPeriods := []string{hourName(0), hourName(1), hourName(2), hourName(3), hourName(4), hourName(5)}

		t.Run("the last 24 hours by default", func(t *testing.T) {
			r := performance(t, s, id, url.Values{"granularity": {"hour"}})
			assert.Equal(t, "hour", r["granularity"])
			to, err := time.Parse(time.RFC3339, r["to"].(string))
			require.NoError(t, err)
			assert.WithinDuration(t, metrics.HourOf(time.Now()), to, time.Hour, "to is the current hour")
			assert.Equal(t, to.Add(-23*time.Hour).Format(time.RFC3339), r["from"], "24 hours")
			series := r["series"].([]any)
			require.Len(t, series, 1)
			assert.Nil(t, series[0].(map[string]any)["group"])
			periods, points := pointsOf(series[0])
			assert.Equal(t, wantPeriods, periods, "one point per hour with events, the test send left out")
			var impressions, clicks int
			for h, p := range periods {
				impressions, clicks = impressions+h+1, clicks+h
				values, cumulative := points[p]["values"].(map[string]any), points[p]["cumulative"].(map[string]any)
				assert.EqualValues(t, h+1, values["impressions"], "hour %d", h)
				assert.EqualValues(t, h, values["clicks"], "hour %d", h)
				assert.EqualValues(t, impressions, cumulative["impressions"], "running total at hour %d", h)
				assert.EqualValues(t, clicks, cumulative["clicks"], "running total at hour %d", h)
			}
			assert.Equal(t, money("12.50"), points[hourName(1)]["values"].(map[string]any)["cost"])
			assert.Equal(t, money("50.00"), points[hourName(2)]["values"].(map[string]any)["revenue"])
			assert.EqualValues(t, 4, points[hourName(5)]["cumulative"].(map[string]any)["roas"], "50.00 / 12.50")
		})

		t.Run("an explicit range, per variant", func(t *testing.T) {
			r := performance(t, s, id, url.Values{"granularity": {"hour"}, "groupBy": {"variant"},
				"from": {launch.Add(90 * time.Minute).Format(time.RFC3339)}, "to": {launch.Add(3*time.Hour + 59*time.Minute).Format(time.RFC3339)}})
			assert.Equal(t, hourName(1), r["from"], "cut to its hour")
			assert.Equal(t, hourName(3), r["to"], "cut to its hour, and included")
			series := r["series"].([]any)
			require.Len(t, series, 3)
			var groups []any
			for _, sr := range series {
				groups = append(groups, sr.(map[string]any)["group"])
			}
			assert.Equal(t, []any{nil, "A", "B"}, groups, "null: the events without a variant")
			periods, points := pointsOf(series[1])
			assert.Equal(t, []string{hourName(1), hourName(2), hourName(3)}, periods)
			assert.EqualValues(t, 4, points[hourName(3)]["values"].(map[string]any)["impressions"])
			assert.EqualValues(t, 2+3+4, points[hourName(3)]["cumulative"].(map[string]any)["impressions"], "from `from` on")
		})

		t.Run("dates name whole days", func(t *testing.T) {
			day := launch.Format(time.DateOnly)
			r := performance(t, s, id, url.Values{"granularity": {"hour"}, "from": {day}, "to": {day}})
			assert.Equal(t, day+"T00:00:00Z", r["from"])
			assert.Equal(t, day+"T23:00:00Z", r["to"])
			periods, _ := pointsOf(r["series"].([]any)[0])
			for _, p := range periods {
				assert.Contains(t, wantPeriods, p)
				assert.Equal(t, day, p[:10], "an hour of that day")
			}
			assert.Contains(t, periods, hourName(0))
		})

		t.Run("all-time totals agree with the days", func(t *testing.T) {
			all := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics", nil), http.StatusOK)
			days := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics?from=2000-01-01", nil), http.StatusOK)
			assert.EqualValues(t, 1+2+3+4+5+6+1, all["impressions"], "the test send counts for all time")
			delete(all, "from")
			delete(days, "from")
			assert.Equal(t, days, all)
			c := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil), http.StatusOK)
			assert.Equal(t, all["impressions"], c["metrics"].(map[string]any)["impressions"])
			assert.Equal(t, all["cost"], c["metrics"].(map[string]any)["cost"])
			daily := performance(t, s, id, url.Values{"granularity": {"day"}})
			var sum float64
			for _, p := range daily["series"].([]any)[0].(map[string]any)["points"].([]any) {
				sum += p.(map[string]any)["values"].(map[string]any)["impressions"].(float64)
			}
			assert.Equal(t, all["impressions"], sum)
		})

		t.Run("range limits", func(t *testing.T) {
			start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			r := performance(t, s, id, url.Values{"granularity": {"hour"}, "from": {start.Format(time.RFC3339)},
				"to": {start.Add(743 * time.Hour).Format(time.RFC3339)}})
			assert.Equal(t, start.Add(743*time.Hour).Format(time.RFC3339), r["to"], "744 hours is the most")
			r = performance(t, s, id, url.Values{"granularity": {"hour"}, "from": {"2026-11-01"}, "to": {"2026-12-01"}})
			assert.Equal(t, "2026-12-01T23:00:00Z", r["to"], "31 days given as dates")
			r = performance(t, s, id, url.Values{"granularity": {"hour"}, "to": {"0001-01-01T05:00:00Z"}})
			assert.Equal(t, "0001-01-01T00:00:00Z", r["from"], "the default range stops at the first hour there is")

			for _, c := range []struct {
				query url.Values
				field string
			}{
				{url.Values{"from": {start.Format(time.RFC3339)}, "to": {start.Add(744 * time.Hour).Format(time.RFC3339)}}, "from"},
				{url.Values{"from": {"2026-11-01"}, "to": {"2026-12-02"}}, "from"},
				{url.Values{"from": {time.Now().UTC().Add(-32 * 24 * time.Hour).Format(time.RFC3339)}}, "from"},
				{url.Values{"from": {"2026-11-02T10:00:00Z"}, "to": {"2026-11-02T09:59:59Z"}}, "to"},
				{url.Values{"from": {"yesterday"}}, "from"},
				{url.Values{"from": {"0001-01-01T00:30:00+01:00"}}, "from"}, // the year 0 in UTC
				{url.Values{"to": {"9999-12-31T23:30:00-01:00"}}, "to"},     // the year 10000 in UTC
				{url.Values{"to": {"2026-11-02 10:00"}}, "to"},
			} {
				c.query.Set("granularity", "hour")
				p := requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/performance?"+c.query.Encode(), nil), http.StatusBadRequest)
				assert.Equal(t, []string{c.field}, fieldsOf(p), "query %s", c.query.Encode())
				assert.NotEmpty(t, fmt.Sprint(p["errors"]))
			}
		})
	})
}
