package app_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
)

func duplicate(s *apptest.Server, id string, body any, header ...string) *apptest.Response {
	return s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/duplicate", body, append(append([]string{}, asUserA...), header...)...)
}

func bulk(s *apptest.Server, action string, body any, header ...string) *apptest.Response {
	return s.Do(http.MethodPost, "/api/v1/campaigns/bulk/"+action, body, append(append([]string{}, asUserA...), header...)...)
}

func TestDuplicateHTTP(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{})
		src := create(t, s, validBody("Dup Source"))
		id := src["id"].(string)
		requireStatus(t, action(s, id, "activate", nil), http.StatusOK)

		t.Run("201 with a DRAFT copy of an active campaign", func(t *testing.T) {
			r := duplicate(s, id, nil)
			cp := requireStatus(t, r, http.StatusCreated)
			assert.Equal(t, "/api/v1/campaigns/"+cp["id"].(string), r.Header.Get("Location"))
			assert.Equal(t, `"1"`, r.Header.Get("ETag"))
			assert.NotEqual(t, id, cp["id"])
			assert.Equal(t, "Dup Source (copy)", cp["name"])
			assert.Equal(t, "DRAFT", cp["status"])
			assert.EqualValues(t, 1, cp["version"])
			assert.Equal(t, false, cp["targetingVerified"])
			for _, k := range []string{"description", "type", "targetingRules", "startDate", "endDate", "budget", "settings"} {
				assert.Equal(t, src[k], cp[k], k)
			}
			evs := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+cp["id"].(string)+"/events", nil), http.StatusOK)
			list := evs["events"].([]any)
			require.Len(t, list, 1)
			ev := list[0].(map[string]any)
			assert.Equal(t, "CampaignCreated", ev["type"])
			assert.Equal(t, id, ev["payload"].(map[string]any)["duplicatedFrom"])
			tr := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+cp["id"].(string)+"/transitions", nil), http.StatusOK)
			assert.Empty(t, tr["transitions"], "no history is copied")
		})
		t.Run("a second copy counts up; a name and dates can be given", func(t *testing.T) {
			assert.Equal(t, "Dup Source (copy 2)", requireStatus(t, duplicate(s, id, nil), http.StatusCreated)["name"])
			cp := requireStatus(t, duplicate(s, id, map[string]any{"name": "Dup Shifted", "shift": "P7D"}), http.StatusCreated)
			assert.Equal(t, "Dup Shifted", cp["name"])
			start, err := time.Parse(time.RFC3339, src["startDate"].(string))
			require.NoError(t, err)
			assert.Equal(t, start.Add(7*24*time.Hour).Format(time.RFC3339), cp["startDate"])
			newStart := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
			cp = requireStatus(t, duplicate(s, id, map[string]any{"startDate": newStart, "endDate": nil}), http.StatusCreated)
			assert.Equal(t, newStart, cp["startDate"])
			assert.Nil(t, cp["endDate"])
		})
		t.Run("problems", func(t *testing.T) {
			p := requireProblem(t, duplicate(s, id, map[string]any{"name": "Dup Shifted"}), http.StatusConflict)
			assert.Equal(t, "urn:campaigns:problem:name-taken", p["type"])
			p = requireProblem(t, duplicate(s, id, map[string]any{"shift": "P1M"}), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"shift"}, fieldsOf(p))
			p = requireProblem(t, duplicate(s, id, map[string]any{"shift": "P1D", "endDate": nil}), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"shift"}, fieldsOf(p))
			p = requireProblem(t, duplicate(s, id, map[string]any{"shift": "-P30D"}), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"startDate"}, fieldsOf(p), "the copy's start date would be in the past")
			p = requireProblem(t, duplicate(s, id, map[string]any{"startDate": "tomorrow", "name": " "}), http.StatusUnprocessableEntity)
			assert.ElementsMatch(t, []string{"name", "startDate"}, fieldsOf(p))
			p = requireProblem(t, duplicate(s, id, map[string]any{"endDate": 5}), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"endDate"}, fieldsOf(p))
			p = requireProblem(t, duplicate(s, id, map[string]any{"status": "ACTIVE"}), http.StatusBadRequest)
			assert.Equal(t, []string{"status"}, fieldsOf(p))
			requireProblem(t, duplicate(s, id, "null"), http.StatusBadRequest)
			requireProblem(t, duplicate(s, uuid.NewString(), nil), http.StatusNotFound)
			requireProblem(t, duplicate(s, "not-an-id", nil), http.StatusNotFound)
			gone := create(t, s, validBody("Dup Gone"))["id"].(string)
			require.Equal(t, http.StatusNoContent, s.Do(http.MethodDelete, "/api/v1/campaigns/"+gone, nil).Status)
			requireProblem(t, duplicate(s, gone, nil), http.StatusNotFound)
			requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/duplicate", nil), http.StatusBadRequest) // no author
		})
		t.Run("Idempotency-Key replays the same copy", func(t *testing.T) {
			key := uuid.NewString()
			first := duplicate(s, id, nil, "Idempotency-Key", key)
			again := duplicate(s, id, nil, "Idempotency-Key", key)
			require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
			require.Equal(t, http.StatusCreated, again.Status, "%s", again.Body)
			assert.Equal(t, string(first.Body), string(again.Body))
			assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
			name := first.Map(t)["name"].(string)
			next := requireStatus(t, duplicate(s, id, nil), http.StatusCreated)
			assert.NotEqual(t, name, next["name"], "the replay made no copy of its own")
		})
		t.Run("concurrent copies get distinct names", func(t *testing.T) {
			const n = 5
			fresh := create(t, s, validBody("Dup Race"))["id"].(string)
			names := make([]string, n)
			statuses := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r := duplicate(s, fresh, nil)
					statuses[i] = r.Status
					if r.Status == http.StatusCreated {
						names[i] = r.Map(t)["name"].(string)
					}
				})
			}
			wg.Wait()
			seen := map[string]bool{}
			for i := range n {
				require.Equal(t, http.StatusCreated, statuses[i])
				assert.False(t, seen[names[i]], "%q twice", names[i])
				seen[names[i]] = true
			}
		})
	})
}

func TestBulkActionsHTTP(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{})
		ids := make([]string, 3)
		for i := range ids {
			ids[i] = create(t, s, validBody(fmt.Sprintf("Bulk %d", i)))["id"].(string)
		}
		a, b, c := ids[0], ids[1], ids[2]
		status := func(id string) any { return s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)["status"] }
		results := func(body map[string]any) []map[string]any {
			var out []map[string]any
			for _, r := range body["results"].([]any) {
				out = append(out, r.(map[string]any))
			}
			return out
		}

		t.Run("one result per id, in order; one failure blocks nothing", func(t *testing.T) {
			unknown := uuid.NewString()
			r := bulk(s, "activate", map[string]any{"ids": []string{a, unknown, b}}, "X-Request-ID", "req-bulk-1")
			body := requireStatus(t, r, http.StatusOK)
			res := results(body)
			require.Len(t, res, 3)
			assert.Equal(t, []any{a, unknown, b}, []any{res[0]["id"], res[1]["id"], res[2]["id"]})
			assert.EqualValues(t, 200, res[0]["status"])
			assert.Equal(t, "ACTIVE", res[0]["campaign"].(map[string]any)["status"])
			assert.EqualValues(t, 404, res[1]["status"])
			p := res[1]["problem"].(map[string]any)
			assert.Equal(t, "urn:campaigns:problem:not-found", p["type"])
			assert.Equal(t, "/api/v1/campaigns/"+unknown+"/activate", p["instance"])
			assert.Equal(t, "req-bulk-1", p["requestId"])
			assert.Nil(t, res[1]["campaign"])
			assert.EqualValues(t, 200, res[2]["status"])
			assert.Equal(t, map[string]any{"total": 3.0, "succeeded": 2.0, "failed": 1.0}, body["summary"])
			assert.Equal(t, "activate", body["action"])
			assert.Equal(t, false, body["dryRun"])
		})
		t.Run("the reason reaches each history; a status that forbids the action is its 409", func(t *testing.T) {
			res := results(requireStatus(t, bulk(s, "pause", map[string]any{"ids": []string{a, c}, "reason": "season over"}), http.StatusOK))
			assert.EqualValues(t, 200, res[0]["status"])
			assert.EqualValues(t, 409, res[1]["status"])
			p := res[1]["problem"].(map[string]any)
			assert.Equal(t, "urn:campaigns:problem:invalid-transition", p["type"])
			assert.Equal(t, "DRAFT", p["currentStatus"])
			tr := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+a+"/transitions", nil), http.StatusOK)["transitions"].([]any)
			assert.Equal(t, "season over", tr[len(tr)-1].(map[string]any)["reason"])
			assert.Equal(t, "PAUSED", status(a))
			assert.Equal(t, "DRAFT", status(c))
		})
		t.Run("cancel without a reason is each campaign's 422", func(t *testing.T) {
			res := results(requireStatus(t, bulk(s, "cancel", map[string]any{"ids": []string{c}}), http.StatusOK))
			assert.EqualValues(t, 422, res[0]["status"])
			p := res[0]["problem"].(map[string]any)
			assert.Equal(t, "urn:campaigns:problem:transition-blocked", p["type"])
			assert.Equal(t, "DRAFT", status(c))
		})
		t.Run("dry runs judge without writing", func(t *testing.T) {
			body := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/bulk/resume?dryRun=true",
				map[string]any{"ids": []string{a, b}}, asUserA...), http.StatusOK)
			assert.Equal(t, true, body["dryRun"])
			res := results(body)
			assert.EqualValues(t, 200, res[0]["status"])
			assert.Equal(t, "PAUSED", res[0]["campaign"].(map[string]any)["status"], "unchanged")
			assert.EqualValues(t, 409, res[1]["status"], "b is ACTIVE")
			assert.Equal(t, "PAUSED", status(a))

			res = results(requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/bulk/delete?dryRun=true",
				map[string]any{"ids": []string{a, c}}, asUserA...), http.StatusOK))
			assert.EqualValues(t, 409, res[0]["status"])
			assert.Equal(t, "urn:campaigns:problem:invalid-state", res[0]["problem"].(map[string]any)["type"])
			assert.EqualValues(t, 204, res[1]["status"])
			assert.Equal(t, c, res[1]["campaign"].(map[string]any)["id"])
			assert.Equal(t, "DRAFT", status(c), "not deleted")
		})
		t.Run("delete", func(t *testing.T) {
			doomed := create(t, s, validBody("Bulk doomed"))["id"].(string)
			res := results(requireStatus(t, bulk(s, "delete", map[string]any{"ids": []string{doomed, a}}), http.StatusOK))
			assert.EqualValues(t, 204, res[0]["status"])
			assert.Nil(t, res[0]["campaign"])
			assert.Equal(t, "/api/v1/campaigns/"+a, res[1]["problem"].(map[string]any)["instance"])
			requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+doomed, nil), http.StatusNotFound)
		})
		t.Run("request problems change nothing", func(t *testing.T) {
			tooMany := make([]string, 101)
			for i := range tooMany {
				tooMany[i] = uuid.NewString()
			}
			for _, tc := range []struct {
				action string
				body   any
				status int
				fields []string
				header []string
			}{
				{"pause", map[string]any{"ids": []string{}}, 422, []string{"ids"}, nil},
				{"pause", map[string]any{}, 422, []string{"ids"}, nil},
				{"pause", map[string]any{"ids": tooMany}, 422, []string{"ids"}, nil},
				{"pause", map[string]any{"ids": []string{b, "nope", b}}, 422, []string{"ids[1]", "ids[2]"}, nil},
				{"pause", map[string]any{"ids": []string{b}, "why": "x"}, 400, []string{"why"}, nil},
				{"pause", map[string]any{"ids": b}, 400, []string{"ids"}, nil},
				{"delete", map[string]any{"ids": []string{c}, "reason": "x"}, 400, []string{"reason"}, nil},
				{"pause", map[string]any{"ids": []string{b}}, 400, []string{"If-Match"}, []string{"If-Match", `"1"`}},
				{"pause", nil, 400, nil, nil},
				{"pause", "null", 400, nil, nil},
			} {
				p := requireProblem(t, bulk(s, tc.action, tc.body, tc.header...), tc.status)
				if tc.fields != nil {
					assert.Equal(t, tc.fields, fieldsOf(p), "%v", tc.body)
				}
			}
			requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns/bulk/pause?dryRun=maybe", map[string]any{"ids": []string{b}}, asUserA...), http.StatusBadRequest)
			requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns/bulk/stop", map[string]any{"ids": []string{b}}, asUserA...), http.StatusNotFound)
			assert.Equal(t, "ACTIVE", status(b))
			assert.Equal(t, "DRAFT", status(c))
		})
		t.Run("Idempotency-Key replays the answer without running again", func(t *testing.T) {
			key := uuid.NewString()
			body := map[string]any{"ids": []string{b}, "reason": "replayed"}
			first := bulk(s, "pause", body, "Idempotency-Key", key)
			require.Equal(t, http.StatusOK, first.Status, "%s", first.Body)
			again := bulk(s, "pause", body, "Idempotency-Key", key)
			require.Equal(t, http.StatusOK, again.Status)
			assert.Equal(t, string(first.Body), string(again.Body))
			assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
			assert.EqualValues(t, 200, results(again.Map(t))[0]["status"], "the first answer, not a 409 for pausing twice")
			tr := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+b+"/transitions", nil), http.StatusOK)["transitions"].([]any)
			assert.Len(t, tr, 2, "activate and one pause")
			p := requireProblem(t, bulk(s, "pause", map[string]any{"ids": []string{a}}, "Idempotency-Key", key), http.StatusUnprocessableEntity)
			assert.Equal(t, "urn:campaigns:problem:idempotency-key-reused", p["type"])
		})
	})
}

// A campaign the bulk action could not act on for a reason a retry may fix (a 503: the Rules
// Engine is down) gives the answer its Retry-After, and the Idempotency-Key does not replay
// that answer: the retry acts again.
func TestBulkRetryableFailuresAreNotReplayed(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // connections are refused
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(c *config.Config) {
		c.RulesEngine.URL, c.RulesEngine.Timeout = down.URL, 200*time.Millisecond
		c.RulesEngine.MaxRetries, c.RulesEngine.BreakerFailures = 1, 2
	}})
	id := create(t, s, servingBody("Bulk Engine Down", []uuid.UUID{uuid.New()}))["id"].(string)
	key := uuid.NewString()
	for i := 0; i < 2; i++ {
		r := bulk(s, "activate", map[string]any{"ids": []string{id}}, "Idempotency-Key", key)
		body := requireStatus(t, r, http.StatusOK)
		assert.Empty(t, r.Header.Get(idempotency.ReplayedHeader), "attempt %d must act again", i+1)
		assert.Equal(t, "30", r.Header.Get("Retry-After"))
		res := body["results"].([]any)[0].(map[string]any)
		assert.EqualValues(t, http.StatusServiceUnavailable, res["status"])
		assert.Equal(t, "urn:campaigns:problem:checks-unavailable", res["problem"].(map[string]any)["type"])
	}
	assert.Equal(t, "DRAFT", s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)["status"])
}
