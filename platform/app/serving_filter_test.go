package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// servingCase is one campaign of the serving-filter table, as the API stored it.
type servingCase struct {
	id     string
	name   string
	status lifecycle.Status
	code   lifecycle.StopCode
	start  time.Time
	end    *time.Time
	sched  []campaign.SchedulingRule
}

// GET /campaigns?servingStatus= lists exactly the campaigns whose serving status, as
// lifecycle.Serving computes it, is the one asked for: every status and stop code the service
// can reach, with and without an end date, judged before the start, a microsecond either side
// of and exactly at the start and end dates, within the dates and after the end.
func TestServingStatusFilterMatchesLifecycle(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		t0 := time.Now().UTC().Truncate(time.Second)
		clk := newClock(t0)
		s := apptest.New(t, target, apptest.ServerConfig{Now: clk.Now})
		ctx := context.Background()

		type shape struct {
			name       string
			start, end string // RFC 3339 as sent; end "" for none
		}
		whole, frac := t0.Add(time.Hour), t0.Add(90*time.Minute+123456*time.Microsecond)
		shapes := []shape{
			{"whole with end", whole.Format(time.RFC3339), whole.Add(48 * time.Hour).Format(time.RFC3339)},
			{"whole without end", whole.Format(time.RFC3339), ""},
			{"fractional with end", frac.Format(time.RFC3339Nano), frac.Add(48*time.Hour + 500*time.Millisecond).Format(time.RFC3339Nano)},
			{"fractional without end", frac.Format(time.RFC3339Nano), ""},
		}
		codes := append([]lifecycle.StopCode{lifecycle.StopNone}, lifecycle.StopCodes()...)
		// How each status is reached from a draft; manual actions go through HTTP, the
		// automation's (with a stop code) through the service, as the automation makes them.
		paths := map[lifecycle.Status][]lifecycle.Action{
			lifecycle.StatusDraft:     nil,
			lifecycle.StatusActive:    {lifecycle.ActionActivate},
			lifecycle.StatusPaused:    {lifecycle.ActionActivate, lifecycle.ActionPause},
			lifecycle.StatusCompleted: {lifecycle.ActionActivate, lifecycle.ActionComplete},
			lifecycle.StatusCancelled: {lifecycle.ActionCancel},
		}

		var cases []servingCase
		for _, status := range lifecycle.Statuses() {
			for _, code := range codes {
				if status == lifecycle.StatusDraft && code != lifecycle.StopNone {
					continue // no transition leads to DRAFT
				}
				for _, sh := range shapes {
					name := fmt.Sprintf("Serving %s %s %s", status, code, sh.name)
					b := validBody(name)
					// Half the campaigns have a window open from t0 for three hours
					// (across midnight when t0 is late), on t0's day only: open at
					// the start dates, closed a day later. The others keep the API
					// body's (Mondays and Fridays 09:00-18:00 Madrid).
					if len(cases)%2 == 0 {
						b["settings"].(map[string]any)["schedulingRules"] = []map[string]any{{
							"days": []string{weekday(t0)}, "startTime": t0.Format("15:04"),
							"endTime": t0.Add(3 * time.Hour).Format("15:04"), "timezone": "UTC"}}
					}
					b["startDate"] = sh.start
					if sh.end == "" {
						delete(b, "endDate")
					} else {
						b["endDate"] = sh.end
					}
					var got campaignapi.Response
					r := s.Do(http.MethodPost, "/api/v1/campaigns", b, asUserA...)
					require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
					r.Decode(t, &got)
					path := paths[status]
					for i, a := range path {
						if i == len(path)-1 && code != lifecycle.StopNone {
							res, err := s.API.Campaigns.Transition(ctx, got.ID, campaign.TransitionRequest{
								Action: a, Reason: "automatic", Automatic: true, StopCode: code})
							require.NoError(t, err, "%s: %s", name, a)
							require.True(t, res.Applied)
							break
						}
						var body any
						if a == lifecycle.ActionCancel {
							body = map[string]any{"reason": "budget moved to Q3"}
						}
						requireStatus(t, action(s, got.ID.String(), string(a), body), http.StatusOK)
					}
					r = s.Do(http.MethodGet, "/api/v1/campaigns/"+got.ID.String(), nil)
					require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
					r.Decode(t, &got)
					require.Equal(t, status, got.Status, name)
					cases = append(cases, servingCase{id: got.ID.String(), name: name, status: got.Status, code: code,
						start: got.StartDate, end: got.EndDate, sched: got.Settings.SchedulingRules})
				}
			}
		}

		var instants []time.Time
		seen := map[time.Time]bool{}
		for _, c := range cases {
			points := []time.Time{c.start.Add(-time.Hour), c.start.Add(-time.Microsecond), c.start,
				c.start.Add(time.Microsecond), c.start.Add(24 * time.Hour)}
			if c.end != nil {
				points = append(points, c.end.Add(-time.Microsecond), *c.end, c.end.Add(time.Microsecond), c.end.Add(time.Hour))
			}
			for _, p := range points {
				if !seen[p] {
					seen[p] = true
					instants = append(instants, p)
				}
			}
		}

		list := func(query string) []campaignapi.Response {
			t.Helper()
			r := s.Do(http.MethodGet, "/api/v1/campaigns?q=Serving&limit=100&"+query, nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			var page campaignapi.ListResponse
			r.Decode(t, &page)
			require.Nil(t, page.NextCursor, "one page holds the table")
			return page.Campaigns
		}
		all := make([]string, 0, len(lifecycle.ServingStatuses()))
		for _, st := range lifecycle.ServingStatuses() {
			all = append(all, string(st))
		}
		seenStatus := map[lifecycle.ServingStatus]bool{}
		for _, now := range instants {
			clk.set(now)
			listed := map[string][]lifecycle.ServingStatus{}
			for _, st := range lifecycle.ServingStatuses() {
				for _, c := range list("servingStatus=" + string(st)) {
					listed[c.ID.String()] = append(listed[c.ID.String()], st)
					assert.Equal(t, st, c.ServingStatus, "%s listed under %s at %s", c.Name, st, now.Format(time.RFC3339Nano))
				}
			}
			for _, c := range cases {
				// As GET judges it: nothing is tracked here, so only the schedule holds back.
				camp, err := campaign.Rehydrate(campaign.RehydrateParams{ID: campaign.NewID(), Type: campaign.TypePromotion,
					Version: 1, Status: c.status, StopCode: c.code, StartDate: c.start, EndDate: c.end,
					Settings: campaign.Settings{SchedulingRules: c.sched}})
				require.NoError(t, err)
				want := camp.ServingWith(nil, lifecycle.Delivered{}, now)
				seenStatus[want] = true
				assert.Equal(t, []lifecycle.ServingStatus{want}, listed[c.id], "%s at %s", c.name, now.Format(time.RFC3339Nano))
			}
			assert.Len(t, list("servingStatus="+url.QueryEscape(strings.Join(all, ","))), len(cases),
				"every campaign once under all the serving statuses at %s", now.Format(time.RFC3339Nano))
		}
		require.Len(t, cases, 100)
		for _, st := range []lifecycle.ServingStatus{lifecycle.ServingServing, lifecycle.ServingOutOfSchedule,
			lifecycle.ServingCapReached, lifecycle.ServingBudgetExhausted, lifecycle.ServingPaused} {
			assert.True(t, seenStatus[st], "some campaign is %s at some instant", st)
		}
		t.Logf("%d campaigns, %d instants, %d lists", len(cases), len(instants), len(instants)*(len(all)+1))
	})
}

// weekday is t's day of the week (UTC) as the API spells it.
func weekday(t time.Time) string {
	return [...]string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}[t.UTC().Weekday()]
}
