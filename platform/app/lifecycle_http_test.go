package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// clock is a settable time source shared by the app instances of a test.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// validBodyAt is validBody with dates relative to a test clock.
func validBodyAt(name string, now time.Time) map[string]any {
	b := validBody(name)
	b["startDate"] = now.Add(24 * time.Hour).Format(time.RFC3339)
	b["endDate"] = now.Add(30 * 24 * time.Hour).Format(time.RFC3339)
	return b
}

func action(s *apptest.Server, id, name string, body any, header ...string) *apptest.Response {
	return s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/"+name, body, append(append([]string{}, asUserA...), header...)...)
}

func requireStatus(t *testing.T, r *apptest.Response, want int) map[string]any {
	t.Helper()
	require.Equal(t, want, r.Status, "body: %s", r.Body)
	return r.Map(t)
}

func TestLifecycleHTTP(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{})
		c := create(t, s, validBody("Lifecycle Walk"))
		id := c["id"].(string)
		assert.Equal(t, "NONE", c["servingStatus"])

		t.Run("dry run of an allowed action changes nothing", func(t *testing.T) {
			r := s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate?dryRun=true", nil)
			d := requireStatus(t, r, http.StatusOK)
			assert.Equal(t, true, d["dryRun"])
			assert.Equal(t, true, d["allowed"])
			assert.Equal(t, "DRAFT", d["from"])
			assert.Equal(t, "ACTIVE", d["to"])
			assert.Equal(t, []any{"activate", "cancel"}, d["allowedActions"])
			assert.Equal(t, "DRAFT", s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)["status"])
		})
		t.Run("dry run of a blocked action lists the reasons", func(t *testing.T) {
			d := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/cancel?dryRun=true", map[string]any{"reason": "x"}), http.StatusOK)
			assert.Equal(t, false, d["allowed"])
			assert.Equal(t, "reason", d["violations"].([]any)[0].(map[string]any)["field"])
			d = requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/pause?dryRun=true", nil), http.StatusOK)
			assert.Equal(t, false, d["allowed"])
			assert.Equal(t, "status", d["violations"].([]any)[0].(map[string]any)["field"])
			requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/pause?dryRun=maybe", nil), http.StatusBadRequest)
		})
		t.Run("activate", func(t *testing.T) {
			r := action(s, id, "activate", nil, "If-Match", `"1"`)
			got := requireStatus(t, r, http.StatusOK)
			assert.Equal(t, `"2"`, r.Header.Get("ETag"))
			assert.Equal(t, "ACTIVE", got["status"])
			assert.Equal(t, "PENDING", got["servingStatus"], "starts tomorrow")
		})
		t.Run("forbidden transition is 409 with the allowed actions", func(t *testing.T) {
			p := requireProblem(t, action(s, id, "activate", nil), http.StatusConflict)
			assert.Equal(t, "urn:campaigns:problem:invalid-transition", p["type"])
			assert.Equal(t, "ACTIVE", p["currentStatus"])
			assert.Equal(t, []any{"pause", "complete", "cancel"}, p["allowedActions"])
			requireProblem(t, action(s, id, "resume", nil), http.StatusConflict)
		})
		t.Run("stale If-Match is 412", func(t *testing.T) {
			requireProblem(t, action(s, id, "pause", nil, "If-Match", `"1"`), http.StatusPreconditionFailed)
		})
		t.Run("pause, resume, activate-to-resume", func(t *testing.T) {
			got := requireStatus(t, action(s, id, "pause", map[string]any{"reason": "creative review"}), http.StatusOK)
			assert.Equal(t, "PAUSED", got["status"])
			assert.Equal(t, "PAUSED", got["servingStatus"])
			assert.Equal(t, "ACTIVE", requireStatus(t, action(s, id, "resume", nil), http.StatusOK)["status"])
			requireStatus(t, action(s, id, "pause", nil), http.StatusOK)
			assert.Equal(t, "ACTIVE", requireStatus(t, action(s, id, "activate", nil), http.StatusOK)["status"])
		})
		t.Run("the body is strict", func(t *testing.T) {
			p := requireProblem(t, action(s, id, "pause", map[string]any{"why": "x"}), http.StatusBadRequest)
			assert.Equal(t, []string{"why"}, fieldsOf(p))
			p = requireProblem(t, action(s, id, "pause", map[string]any{"Reason": "x"}), http.StatusBadRequest)
			assert.Equal(t, []string{"Reason"}, fieldsOf(p), "names match exactly")
			requireProblem(t, action(s, id, "pause", "null"), http.StatusBadRequest)
			for _, ct := range []string{"", "text/plain"} {
				body := []byte(`{"reason":"x"}`)
				req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/campaigns/"+id+"/pause", bytes.NewReader(body))
				require.NoError(t, err)
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				requireProblem(t, s.Send(req, body), http.StatusUnsupportedMediaType)
			}
			assert.Equal(t, "ACTIVE", s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)["status"], "nothing changed")
		})
		t.Run("the query string is strict", func(t *testing.T) {
			p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/pause?foo=1", nil), http.StatusBadRequest)
			assert.Equal(t, []string{"foo"}, fieldsOf(p))
			p = requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/pause?dryRun=true&dryRun=false", nil), http.StatusBadRequest)
			assert.Equal(t, []string{"dryRun"}, fieldsOf(p))
		})
		t.Run("a reason the history cannot store is blocked, not a 500", func(t *testing.T) {
			for _, name := range []string{"pause", "cancel"} {
				p := requireProblem(t, action(s, id, name, map[string]any{"reason": "abc\u0000def"}), http.StatusUnprocessableEntity)
				assert.Equal(t, "urn:campaigns:problem:transition-blocked", p["type"])
				assert.Equal(t, []string{"reason"}, fieldsOf(p))
			}
			dry := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/pause?dryRun=true", `{"reason":"\u0000"}`), http.StatusOK)
			assert.Equal(t, false, dry["allowed"])
			assert.Equal(t, "ACTIVE", s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)["status"], "nothing changed")
		})
		t.Run("stop completes, then the campaign is terminal", func(t *testing.T) {
			got := requireStatus(t, action(s, id, "stop", nil), http.StatusOK)
			assert.Equal(t, "COMPLETED", got["status"])
			assert.Equal(t, "ENDED", got["servingStatus"])
			p := requireProblem(t, action(s, id, "cancel", map[string]any{"reason": "too late"}), http.StatusConflict)
			assert.Equal(t, []any{}, p["allowedActions"])
		})
		t.Run("the history lists every transition, oldest first, in pages", func(t *testing.T) {
			tr := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions", nil), http.StatusOK)
			rows := tr["transitions"].([]any)
			require.Len(t, rows, 6)
			var seq []string
			for i, r := range rows {
				row := r.(map[string]any)
				assert.EqualValues(t, i+2, row["version"])
				assert.Equal(t, userA, row["actor"])
				assert.Equal(t, false, row["automatic"])
				seq = append(seq, fmt.Sprintf("%s:%s>%s", row["action"], row["from"], row["to"]))
			}
			assert.Equal(t, []string{"activate:DRAFT>ACTIVE", "pause:ACTIVE>PAUSED", "resume:PAUSED>ACTIVE",
				"pause:ACTIVE>PAUSED", "resume:PAUSED>ACTIVE", "complete:ACTIVE>COMPLETED"}, seq)
			assert.Equal(t, "creative review", rows[1].(map[string]any)["reason"])

			page := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions?limit=4", nil), http.StatusOK)
			require.Len(t, page["transitions"], 4)
			next := page["nextCursor"].(string)
			page = requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions?limit=4&cursor="+next, nil), http.StatusOK)
			require.Len(t, page["transitions"], 2)
			assert.Nil(t, page["nextCursor"])
			requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions?limit=0", nil), http.StatusBadRequest)
		})
		t.Run("cancel needs a reason; the history survives deletion", func(t *testing.T) {
			c2 := create(t, s, validBody("Lifecycle Cancel"))
			id2 := c2["id"].(string)
			p := requireProblem(t, action(s, id2, "cancel", nil), http.StatusUnprocessableEntity)
			assert.Equal(t, "urn:campaigns:problem:transition-blocked", p["type"])
			assert.Equal(t, []string{"reason"}, fieldsOf(p))
			got := requireStatus(t, action(s, id2, "cancel", map[string]any{"reason": "budget moved to Q3"}), http.StatusOK)
			assert.Equal(t, "CANCELLED", got["servingStatus"])
			require.Equal(t, http.StatusNoContent, s.Do(http.MethodDelete, "/api/v1/campaigns/"+id2, nil).Status)
			tr := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id2+"/transitions", nil), http.StatusOK)
			assert.Len(t, tr["transitions"], 1)
			requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/0199b0c4-1d2e-7f00-8000-000000000000/transitions", nil), http.StatusNotFound)
			requireProblem(t, action(s, "0199b0c4-1d2e-7f00-8000-000000000000", "pause", nil), http.StatusNotFound)
		})
		t.Run("serving status filter", func(t *testing.T) {
			c3 := create(t, s, validBody("Lifecycle Pending"))
			requireStatus(t, action(s, c3["id"].(string), "activate", nil), http.StatusOK)
			list := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns?q=Lifecycle&servingStatus=PENDING", nil), http.StatusOK)
			require.Len(t, list["campaigns"], 1)
			assert.Equal(t, c3["id"], list["campaigns"].([]any)[0].(map[string]any)["id"])
			list = requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns?q=Lifecycle&servingStatus=ENDED,CANCELLED", nil), http.StatusOK)
			assert.Len(t, list["campaigns"], 1, "the completed one; the cancelled one is deleted")
			requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns?servingStatus=LIVE", nil), http.StatusBadRequest)
		})
	})
}

func TestLifecycleConcurrency(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{})

		t.Run("20 parallel activations: exactly one wins", func(t *testing.T) {
			id := create(t, s, validBody("Race Activate"))["id"].(string)
			var ok, conflict atomic.Int32
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					switch r := action(s, id, "activate", nil); r.Status {
					case http.StatusOK:
						ok.Add(1)
					case http.StatusConflict:
						conflict.Add(1)
					default:
						t.Errorf("unexpected %d: %s", r.Status, r.Body)
					}
				})
			}
			wg.Wait()
			assert.EqualValues(t, 1, ok.Load())
			assert.EqualValues(t, 19, conflict.Load())
			tr := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions", nil), http.StatusOK)
			assert.Len(t, tr["transitions"], 1)
		})

		t.Run("50 goroutines pausing and resuming: no lost update", func(t *testing.T) {
			id := create(t, s, validBody("Race Pause Resume"))["id"].(string)
			requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
			var successes atomic.Int32
			var mu sync.Mutex
			versions := map[string]bool{}
			var wg sync.WaitGroup
			for i := range 50 {
				name := "pause"
				if i%2 == 1 {
					name = "resume"
				}
				wg.Go(func() {
					r := action(s, id, name, nil)
					switch r.Status {
					case http.StatusOK:
						successes.Add(1)
						mu.Lock()
						defer mu.Unlock()
						etag := r.Header.Get("ETag")
						assert.False(t, versions[etag], "version %s handed out twice", etag)
						versions[etag] = true
					case http.StatusConflict:
					default:
						t.Errorf("unexpected %d: %s", r.Status, r.Body)
					}
				})
			}
			wg.Wait()
			n := int(successes.Load())
			require.Positive(t, n)
			final := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)
			assert.EqualValues(t, 2+n, final["version"], "each success moves the version by exactly one")
			tr := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions?limit=100", nil), http.StatusOK)
			assert.Len(t, tr["transitions"], 1+n, "one history row per success")
			t.Logf("%s: %d of 50 pause/resume calls succeeded", target.Name, n)
		})
	})
}

func TestAutomationCompletesEndedCampaignsOnce(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		start := time.Now().UTC().Truncate(time.Second)
		clk := newClock(start)
		one := apptest.New(t, target, apptest.ServerConfig{Now: clk.Now})
		two := apptest.New(t, target, apptest.ServerConfig{Now: clk.Now}) // a second worker, same database

		b := validBody("Auto End")
		b["settings"].(map[string]any)["schedulingRules"] = []any{} // serving at any hour
		b["startDate"] = start.Add(time.Hour).Format(time.RFC3339)
		b["endDate"] = start.Add(3 * time.Hour).Format(time.RFC3339)
		id := create(t, one, b)["id"].(string)
		requireStatus(t, action(one, id, "activate", nil), http.StatusOK)

		clk.advance(2 * time.Hour)
		assert.Equal(t, "SERVING", one.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)["servingStatus"])
		st, err := one.API.Automation.Tick(context.Background())
		require.NoError(t, err)
		assert.Zero(t, st.Completed, "not ended yet")

		clk.advance(time.Hour) // exactly the end date
		assert.Equal(t, "ENDED", one.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)["servingStatus"])
		var wg sync.WaitGroup
		var completed atomic.Int32
		for _, s := range []*apptest.Server{one, two, one, two} {
			wg.Go(func() {
				st, err := s.API.Automation.Tick(context.Background())
				assert.NoError(t, err)
				completed.Add(int32(st.Completed))
			})
		}
		wg.Wait()
		assert.EqualValues(t, 1, completed.Load(), "exactly one loop completes it")

		got := one.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil).Map(t)
		assert.Equal(t, "COMPLETED", got["status"])
		assert.Equal(t, "ENDED", got["servingStatus"])
		tr := requireStatus(t, one.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions", nil), http.StatusOK)
		rows := tr["transitions"].([]any)
		require.Len(t, rows, 2)
		last := rows[1].(map[string]any)
		assert.Equal(t, true, last["automatic"])
		assert.Nil(t, last["actor"])
		assert.Equal(t, "complete", last["action"])
		assert.Contains(t, last["reason"], "end date")

		// A draft past its end date cannot be activated.
		b = validBody("Auto End Late")
		b["startDate"] = clk.Now().Add(time.Hour).Format(time.RFC3339)
		b["endDate"] = clk.Now().Add(2 * time.Hour).Format(time.RFC3339)
		late := create(t, one, b)["id"].(string)
		clk.advance(3 * time.Hour)
		p := requireProblem(t, action(one, late, "activate", nil), http.StatusUnprocessableEntity)
		assert.Equal(t, []string{"endDate"}, fieldsOf(p))
	})
}

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		clk := newClock(time.Now().UTC())
		s := apptest.New(t, target, apptest.ServerConfig{Now: clk.Now})
		post := func(path string, body any, key string) *apptest.Response {
			return s.Do(http.MethodPost, path, body, "X-User-ID", userA, "Idempotency-Key", key)
		}

		t.Run("create: replay, different body, expiry", func(t *testing.T) {
			b := validBody("Idem Create")
			first := post("/api/v1/campaigns", b, "create-1")
			require.Equal(t, http.StatusCreated, first.Status, "body: %s", first.Body)
			again := post("/api/v1/campaigns", b, "create-1")
			require.Equal(t, http.StatusCreated, again.Status, "replayed, not a name conflict: %s", again.Body)
			assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
			assert.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))
			assert.Equal(t, first.Header.Get("ETag"), again.Header.Get("ETag"))
			assert.JSONEq(t, string(first.Body), string(again.Body))
			assert.Empty(t, first.Header.Get("Idempotent-Replayed"))

			p := requireProblem(t, post("/api/v1/campaigns", validBody("Idem Create Other"), "create-1"), http.StatusUnprocessableEntity)
			assert.Equal(t, "urn:campaigns:problem:idempotency-key-reused", p["type"])

			// The same key from another caller is another key.
			r := s.Do(http.MethodPost, "/api/v1/campaigns", validBody("Idem Create B"), "X-User-ID", userB, "Idempotency-Key", "create-1")
			require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)

			clk.advance(25 * time.Hour)
			r = post("/api/v1/campaigns", validBodyAt("Idem Create After Expiry", clk.Now()), "create-1")
			require.Equal(t, http.StatusCreated, r.Status, "an expired key is free: %s", r.Body)
		})

		t.Run("action: replay after the state moved on", func(t *testing.T) {
			id := create(t, s, validBodyAt("Idem Action", clk.Now()))["id"].(string)
			first := post("/api/v1/campaigns/"+id+"/activate", nil, "act-1")
			require.Equal(t, http.StatusOK, first.Status, "body: %s", first.Body)
			again := post("/api/v1/campaigns/"+id+"/activate", nil, "act-1")
			require.Equal(t, http.StatusOK, again.Status, "a replay, not a 409: %s", again.Body)
			assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
			assert.Equal(t, first.Header.Get("ETag"), again.Header.Get("ETag"))
			requireProblem(t, post("/api/v1/campaigns/"+id+"/pause", nil, "act-1"), http.StatusUnprocessableEntity)
			// 4xx answers are kept too: the same failed request gets the same answer.
			bad := post("/api/v1/campaigns/"+id+"/cancel", nil, "act-2")
			requireProblem(t, bad, http.StatusUnprocessableEntity)
			assert.Equal(t, "true", post("/api/v1/campaigns/"+id+"/cancel", nil, "act-2").Header.Get("Idempotent-Replayed"))
		})

		t.Run("a request still in flight is 409", func(t *testing.T) {
			body := `{"reason":"in flight"}`
			path := "/api/v1/campaigns/0199b0c4-1d2e-7f00-8000-000000000000/pause"
			sum := sha256.Sum256([]byte("POST " + path + "\n" + body))
			now := clk.Now()
			_, err := s.API.DB.NewInsert().Table("idempotency_keys").Model(&map[string]any{
				"caller": userA, "key": "busy-1", "fingerprint": hex.EncodeToString(sum[:]), "state": "in_flight",
				"status": 0, "headers": "{}", "body": "", "locked_at": now, "expires_at": now.Add(24 * time.Hour),
			}).Exec(context.Background())
			require.NoError(t, err)
			p := requireProblem(t, post(path, body, "busy-1"), http.StatusConflict)
			assert.Equal(t, "urn:campaigns:problem:idempotency-in-flight", p["type"])
			// An in-flight key whose request died is taken over once it is stale.
			clk.advance(time.Hour)
			requireProblem(t, post(path, body, "busy-1"), http.StatusNotFound)
		})

		t.Run("bad keys are 400", func(t *testing.T) {
			requireProblem(t, post("/api/v1/campaigns", validBodyAt("Idem Bad Key", clk.Now()), strings.Repeat("k", 256)), http.StatusBadRequest)
		})

		t.Run("purge removes expired keys", func(t *testing.T) {
			clk.advance(48 * time.Hour)
			require.NoError(t, s.API.Idempotency.Purge(context.Background()))
			n, err := s.API.DB.NewSelect().Table("idempotency_keys").Count(context.Background())
			require.NoError(t, err)
			assert.Zero(t, n)
		})
	})
}
