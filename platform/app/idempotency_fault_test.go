package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/campaigns"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
)

// keyedCall is one keyed POST of the fault test: its path and body, and who sends it.
type keyedCall struct {
	path   string
	body   any
	header []string
}

// loseAnswers makes the step that keeps a keyed request's answer (the UPDATE of its key to
// "done") fail, after the request's write has committed: on SQLite the statement is aborted;
// on PostgreSQL the backend running it is terminated, as when a backend is killed between the
// commit and the storing of the answer. It returns the function that mends it.
func loseAnswers(t *testing.T, s *apptest.Server, target dbtest.Target) func() {
	t.Helper()
	ctx := context.Background()
	db := s.API.DB
	if target.Driver == dbtest.DriverSQLite {
		_, err := db.ExecContext(ctx, `CREATE TRIGGER lose_answer BEFORE UPDATE OF state ON idempotency_keys
			WHEN NEW.state = 'done' BEGIN SELECT RAISE(ABORT, 'fault: the answer is lost'); END`)
		require.NoError(t, err)
		return func() {
			_, err := db.ExecContext(ctx, `DROP TRIGGER lose_answer`)
			require.NoError(t, err)
		}
	}
	// Only the backend that runs the UPDATE dies (pg_backend_pid: this test's own connection);
	// the sleep makes it die before the statement can commit.
	_, err := db.ExecContext(ctx, `CREATE OR REPLACE FUNCTION lose_answer() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.state = 'done' THEN
				PERFORM pg_terminate_backend(pg_backend_pid());
				PERFORM pg_sleep(10);
			END IF;
			RETURN NEW;
		END $$`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `CREATE TRIGGER lose_answer BEFORE UPDATE ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION lose_answer()`)
	require.NoError(t, err)
	return func() {
		_, err := db.ExecContext(ctx, `DROP TRIGGER lose_answer ON idempotency_keys`)
		require.NoError(t, err)
	}
}

// TestFaultIdempotencyLostAnswerEveryKeyedRoute walks every POST route Mount serves with an
// Idempotency-Key. For each, the first request commits its write and the storing of its
// answer fails (loseAnswers); retries with the same key get the same answer, replayed, at
// once (no 409), and nothing is written again: no second campaign, no second event.
func TestFaultIdempotencyLostAnswerEveryKeyedRoute(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		clk := newClock(time.Now().UTC())
		s := apptest.New(t, target, apptest.ServerConfig{Now: clk.Now, Configure: func(c *config.Config) {
			withThresholds(c)
			c.Database.MaxOpenConns = 8 // room for the connections the fault kills
		}})
		ctx := context.Background()
		asA, asB := []string{"X-User-ID", userA}, []string{"X-User-ID", userB}
		n := 0
		draft := func(t *testing.T, body func(string) map[string]any) string {
			n++
			return create(t, s, body(strings.ReplaceAll(t.Name(), "/", " ")+" "+string(rune('a'+n%26))+uuid.NewString()[:8]))["id"].(string)
		}
		acted := func(t *testing.T, id string, actions ...string) string {
			for _, a := range actions {
				requireStatus(t, action(s, id, a, nil), http.StatusOK)
			}
			return id
		}
		submitted := func(t *testing.T) string {
			id := draft(t, bigBody)
			requireStatus(t, step(s, id, "submit-for-approval", nil, asA...), http.StatusOK)
			return id
		}
		campaignPath := func(id, tail string) string { return "/api/v1/campaigns/" + id + tail }
		bulkOf := func(action string, id string) keyedCall {
			body := map[string]any{"ids": []string{id}}
			if action != "delete" {
				body["reason"] = "bulk " + action
			}
			return keyedCall{path: "/api/v1/campaigns/bulk/" + action, body: body}
		}
		evaluation := map[string]any{"customerId": "c-1", "context": map[string]any{"segment": "vip"}, "channel": "EMAIL"}

		// Each keyed route, by its path in the route table, and how to call it once.
		calls := map[string]func(t *testing.T) keyedCall{
			"/api/v1/campaigns": func(t *testing.T) keyedCall {
				return keyedCall{path: "/api/v1/campaigns", body: validBody("Idem Fault Create " + uuid.NewString()[:8])}
			},
			"/api/v1/campaigns/:id/activate": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(draft(t, validBody), "/activate")}
			},
			"/api/v1/campaigns/:id/pause": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(acted(t, draft(t, validBody), "activate"), "/pause")}
			},
			"/api/v1/campaigns/:id/resume": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(acted(t, draft(t, validBody), "activate", "pause"), "/resume")}
			},
			"/api/v1/campaigns/:id/complete": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(acted(t, draft(t, validBody), "activate"), "/complete")}
			},
			"/api/v1/campaigns/:id/stop": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(acted(t, draft(t, validBody), "activate"), "/stop")}
			},
			"/api/v1/campaigns/:id/cancel": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(draft(t, validBody), "/cancel"), body: map[string]any{"reason": "no longer needed"}}
			},
			"/api/v1/campaigns/:id/submit-for-approval": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(draft(t, bigBody), "/submit-for-approval")}
			},
			"/api/v1/campaigns/:id/approve": func(t *testing.T) keyedCall {
				id := submitted(t)
				return keyedCall{path: campaignPath(id, "/approve"), header: seen(t, s, id, asB)}
			},
			"/api/v1/campaigns/:id/reject": func(t *testing.T) keyedCall {
				id := submitted(t)
				return keyedCall{path: campaignPath(id, "/reject"), body: map[string]any{"reason": "too costly"}, header: seen(t, s, id, asB)}
			},
			"/api/v1/campaigns/:id/duplicate": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(draft(t, validBody), "/duplicate")}
			},
			"/api/v1/campaigns/bulk/activate": func(t *testing.T) keyedCall { return bulkOf("activate", draft(t, validBody)) },
			"/api/v1/campaigns/bulk/pause": func(t *testing.T) keyedCall {
				return bulkOf("pause", acted(t, draft(t, validBody), "activate"))
			},
			"/api/v1/campaigns/bulk/resume": func(t *testing.T) keyedCall {
				return bulkOf("resume", acted(t, draft(t, validBody), "activate", "pause"))
			},
			"/api/v1/campaigns/bulk/complete": func(t *testing.T) keyedCall {
				return bulkOf("complete", acted(t, draft(t, validBody), "activate"))
			},
			"/api/v1/campaigns/bulk/cancel": func(t *testing.T) keyedCall { return bulkOf("cancel", draft(t, validBody)) },
			"/api/v1/campaigns/bulk/delete": func(t *testing.T) keyedCall { return bulkOf("delete", draft(t, validBody)) },
			"/api/v1/campaigns/:id/experiment/conclude": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(draft(t, validBody), "/experiment/conclude"), body: map[string]any{"winner": "B"}}
			},
			"/api/v1/campaigns/:id/track": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(acted(t, draft(t, validBody), "activate"), "/track"), body: map[string]any{"type": "IMPRESSION"}}
			},
			"/api/v1/targeting/evaluate": func(t *testing.T) keyedCall {
				return keyedCall{path: "/api/v1/targeting/evaluate", body: evaluation}
			},
			"/api/v1/campaigns/:id/evaluate": func(t *testing.T) keyedCall {
				return keyedCall{path: campaignPath(acted(t, draft(t, validBody), "activate"), "/evaluate"), body: evaluation}
			},
		}
		// The routes whose effect is not in the database, so that no recovery point can commit
		// with it: their lost answer keeps the key in flight (409) until it is stale.
		noRecoveryPoint := map[string]string{
			"/api/v1/campaigns/:id/track":    "its events go to JetStream, not to the database",
			"/api/v1/targeting/evaluate":     "it writes nothing",
			"/api/v1/campaigns/:id/evaluate": "it writes nothing",
		}

		count := func(table string) int {
			n, err := s.API.DB.NewSelect().Table(table).Count(ctx)
			require.NoError(t, err)
			return int(n)
		}
		keyed := campaigns.KeyedRoutes("/api/v1")
		require.NotEmpty(t, keyed)
		for _, route := range keyed {
			require.Equal(t, http.MethodPost, route.Method)
			t.Run(strings.TrimPrefix(route.Path, "/api/v1/"), func(t *testing.T) {
				call, ok := calls[route.Path]
				require.True(t, ok, "the keyed route %s has no call in this test: add one", route.Path)
				c := call(t)
				header := append(append([]string{}, asA...), c.header...)
				header = append(header, idempotency.Header, "fault-"+uuid.NewString())

				mend := loseAnswers(t, s, target)
				first := s.Do(http.MethodPost, c.path, c.body, header...)
				require.Less(t, first.Status, 500, "%s", first.Body)
				var state string
				require.NoError(t, s.API.DB.NewSelect().Table("idempotency_keys").Column("state").
					Where("key = ?", header[len(header)-1]).Scan(ctx, &state))
				require.Equal(t, "in_flight", state, "the fault kept the answer from being stored")
				events, rows := count("outbox_events"), count("campaigns")

				if why, ok := noRecoveryPoint[route.Path]; ok {
					mend()
					p := requireProblem(t, s.Do(http.MethodPost, c.path, c.body, header...), http.StatusConflict)
					assert.Equal(t, "urn:campaigns:problem:idempotency-in-flight", p["type"], "%s", why)
					return
				}
				// The fault still stands for the first retry: the recovery point answers, and again
				// once the store works and the answer is kept.
				retries := []*apptest.Response{s.Do(http.MethodPost, c.path, c.body, header...)}
				mend()
				retries = append(retries, s.Do(http.MethodPost, c.path, c.body, header...), s.Do(http.MethodPost, c.path, c.body, header...))
				for i, r := range retries {
					require.Equal(t, first.Status, r.Status, "retry %d: the first answer, not a conflict: %s", i+1, r.Body)
					assert.Equal(t, string(first.Body), string(r.Body), "retry %d", i+1)
					assert.Equal(t, first.Header.Get("Location"), r.Header.Get("Location"), "retry %d", i+1)
					assert.Equal(t, first.Header.Get("ETag"), r.Header.Get("ETag"), "retry %d", i+1)
					assert.Equal(t, first.Header.Get("Content-Type"), r.Header.Get("Content-Type"), "retry %d", i+1)
					assert.Equal(t, "true", r.Header.Get(idempotency.ReplayedHeader), "retry %d", i+1)
				}
				assert.Equal(t, events, count("outbox_events"), "no event written again")
				assert.Equal(t, rows, count("campaigns"), "no campaign written again")
			})
		}
	})
}

// The two reproductions of the lost answer, by name: a keyed duplicate and a keyed create,
// whose answer the store fails to keep after their write committed, retried with their key.
func TestFaultIdempotencyLostAnswerReproductions(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{})
		ctx := context.Background()
		named := func(prefix string) int {
			n, err := s.API.DB.NewSelect().Table("campaigns").Where("name LIKE ?", prefix+"%").Count(ctx)
			require.NoError(t, err)
			return int(n)
		}

		t.Run("duplicate makes no (copy 2)", func(t *testing.T) {
			name := "Idem Repro Source " + uuid.NewString()[:8]
			id := create(t, s, validBody(name))["id"].(string)
			key := []string{"X-User-ID", userA, idempotency.Header, uuid.NewString()}
			mend := loseAnswers(t, s, target)
			first := s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/duplicate", nil, key...)
			mend()
			require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
			again := s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/duplicate", nil, key...)
			require.Equal(t, http.StatusCreated, again.Status, "%s", again.Body)
			assert.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"), "the same copy")
			assert.Equal(t, name+" (copy)", again.Map(t)["name"])
			assert.Equal(t, 1, named(name+" (copy"), "one copy, no \"(copy 2)\"")
		})

		t.Run("create gets its own 201, not a name taken", func(t *testing.T) {
			name := "Idem Repro Create " + uuid.NewString()[:8]
			key := []string{"X-User-ID", userA, idempotency.Header, uuid.NewString()}
			mend := loseAnswers(t, s, target)
			body := validBody(name) // once: its dates are now's
			first := s.Do(http.MethodPost, "/api/v1/campaigns", body, key...)
			mend()
			require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
			again := s.Do(http.MethodPost, "/api/v1/campaigns", body, key...)
			require.Equal(t, http.StatusCreated, again.Status, "its own 201, not a 409: %s", again.Body)
			assert.Equal(t, string(first.Body), string(again.Body))
			assert.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))
			assert.Equal(t, 1, named(name))
		})
	})
}
