package app_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// evaluateIDs is the ids of the campaigns /targeting/evaluate offers customer.
func evaluateIDs(t *testing.T, s *apptest.Server, customer string) []string {
	t.Helper()
	got := requireStatus(t, s.Do(http.MethodPost, "/api/v1/targeting/evaluate",
		map[string]any{"customerId": customer, "context": map[string]any{"order_amount": 150}}), http.StatusOK)
	var ids []string
	for _, c := range got["campaigns"].([]any) {
		ids = append(ids, c.(map[string]any)["campaignId"].(string))
	}
	return ids
}

// An impression tracked with a customerId caps the campaign for that customer once the
// pipeline has counted it; reach, frequency and the audience come from the same exposures;
// a tracking event may name one of the campaign's personalization rules, and the performance
// report groups by it.
func TestFrequencyReachAudienceAndPersonalization(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		e := enginetest.New(t)
		s := apptest.New(t, target, apptest.ServerConfig{Configure: withEngine(e)})
		vip, promo := e.AddRule("ACTIVE", promotionDSL), e.AddRule("ACTIVE", promotionDSL)
		b := servingBody("Frequency "+target.Name, []uuid.UUID{vip})
		settings := b["settings"].(map[string]any)
		settings["frequency"] = "DAILY"
		settings["personalization"] = map[string]any{"enabled": true, "rules": []string{promo.String()}}
		id := create(t, s, b)["id"].(string)
		requireStatus(t, action(s, id, "activate", nil), http.StatusOK)

		require.Contains(t, evaluateIDs(t, s, "c-1"), id)
		requireStatus(t, track(s, id, map[string]any{"type": "IMPRESSION", "customerId": "c-1", "personalizationRuleId": promo.String()}), http.StatusAccepted)
		require.Contains(t, evaluateIDs(t, s, "c-1"), id, "not counted yet: the cap lags the pipeline")
		aggregate(t, s)
		assert.NotContains(t, evaluateIDs(t, s, "c-1"), id, "capped for today")
		assert.Contains(t, evaluateIDs(t, s, "c-2"), id, "another customer is not")
		v := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/evaluate",
			map[string]any{"customerId": "c-1", "context": map[string]any{"order_amount": 150}}), http.StatusOK)
		assert.Equal(t, false, v["eligible"])
		assert.Contains(t, v["reasons"].([]any)[0], "frequency cap (DAILY)")

		t.Run("the personalization rule must be one of the campaign's", func(t *testing.T) {
			got := requireStatus(t, track(s, id, map[string]any{"events": []any{
				map[string]any{"type": "CLICK", "personalizationRuleId": uuid.NewString()},
				map[string]any{"type": "CLICK", "personalizationRuleId": "promo"},
				map[string]any{"type": "CLICK", "personalizationRuleId": vip.String()},
			}}), http.StatusUnprocessableEntity)
			var fields []string
			for _, f := range got["errors"].([]any) {
				fields = append(fields, f.(map[string]any)["field"].(string))
			}
			assert.Equal(t, []string{"events[0].personalizationRuleId", "events[1].personalizationRuleId", "events[2].personalizationRuleId"}, fields)
		})

		// Six more customers, one of them twice; personalized or not; clicks carry no reach.
		var events []any
		for i := 2; i <= 7; i++ {
			ev := map[string]any{"type": "IMPRESSION", "customerId": fmt.Sprintf("c-%d", i)}
			if i%2 == 0 {
				ev["personalizationRuleId"] = promo.String()
			}
			if i == 2 {
				ev["variant"] = "A"
			}
			events = append(events, ev)
		}
		events = append(events, map[string]any{"type": "IMPRESSION", "customerId": "c-7"},
			map[string]any{"type": "IMPRESSION"}, map[string]any{"type": "CLICK", "customerId": "c-9", "personalizationRuleId": promo.String()})
		got := requireStatus(t, track(s, id, map[string]any{"events": events}), http.StatusAccepted)
		require.EqualValues(t, 9, got["accepted"])
		aggregate(t, s)

		m := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics", nil), http.StatusOK)
		assert.EqualValues(t, 9, m["impressions"])
		assert.EqualValues(t, 7, m["reach"], "c-1 to c-7")
		assert.EqualValues(t, 1.29, m["frequency"], "9 / 7")
		ranged := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics?from="+time.Now().UTC().Format(time.DateOnly), nil), http.StatusOK)
		assert.EqualValues(t, 7, ranged["reach"], "all first reached today")
		assert.Nil(t, ranged["frequency"], "not over a period that may start after the first exposures")

		perf := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/performance?groupBy=personalization", nil), http.StatusOK)
		byGroup := map[string]map[string]any{}
		for _, sr := range perf["series"].([]any) {
			points := sr.(map[string]any)["points"].([]any)
			require.Len(t, points, 1)
			group, _ := sr.(map[string]any)["group"].(string) // null: no personalization
			byGroup[group] = points[0].(map[string]any)["cumulative"].(map[string]any)
		}
		require.Len(t, byGroup, 2, "the rule and the no-personalization group: %v", byGroup)
		assert.EqualValues(t, 4, byGroup[promo.String()]["impressions"], "c-1, c-2, c-4, c-6")
		assert.EqualValues(t, 1, byGroup[promo.String()]["clicks"])
		assert.EqualValues(t, 4, byGroup[promo.String()]["reach"])
		assert.EqualValues(t, 5, byGroup[""]["impressions"])
		assert.EqualValues(t, 3, byGroup[""]["reach"], "c-3, c-5, c-7")

		// The audience, three at a time.
		var customers []string
		cursor, pages := "", 0
		for {
			q := "?limit=3"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			a := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/audience"+q, nil), http.StatusOK)
			pages++
			assert.EqualValues(t, 7, a["reach"])
			assert.EqualValues(t, 9, a["impressions"])
			for _, c := range a["customers"].([]any) {
				cm := c.(map[string]any)
				customers = append(customers, cm["customerId"].(string))
				want := 1
				if cm["customerId"] == "c-7" {
					want = 2
				}
				assert.EqualValues(t, want, cm["exposures"], cm["customerId"])
				if cm["customerId"] == "c-2" {
					assert.Equal(t, "A", cm["variant"])
				} else {
					assert.Nil(t, cm["variant"], "the variant of an impression without one is not guessed")
				}
			}
			next, _ := a["nextCursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		assert.Equal(t, 3, pages)
		assert.True(t, sort.StringsAreSorted(customers))
		assert.Equal(t, []string{"c-1", "c-2", "c-3", "c-4", "c-5", "c-6", "c-7"}, customers)
		for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=%%%", "cursor=AA", "foo=1"} {
			requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/audience?"+q, nil), http.StatusBadRequest)
		}
		requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+uuid.NewString()+"/audience", nil), http.StatusNotFound)
		reach, err := s.API.Metrics.ReachByVariant(context.Background(), uuid.MustParse(id))
		require.NoError(t, err)
		assert.Equal(t, map[string]int64{"A": 1, "": 6}, reach)
	})
}
