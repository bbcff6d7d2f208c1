package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// aggregate counts everything in the tracking stream.
func aggregate(t *testing.T, s *apptest.Server) {
	t.Helper()
	require.NoError(t, s.API.Aggregator.Drain(context.Background()))
}

func track(s *apptest.Server, id string, body any) *apptest.Response {
	return s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/track", body)
}

func money(amount string) map[string]any { return map[string]any{"amount": amount, "currency": "EUR"} }

func TestTrackingAndMetrics(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		s := apptest.New(t, target, apptest.ServerConfig{})
		id := create(t, s, validBody("Metrics "+target.Name))["id"].(string)
		requireStatus(t, action(s, id, "activate", nil), http.StatusOK)

		t.Run("one event", func(t *testing.T) {
			r := track(s, id, map[string]any{"type": "IMPRESSION", "variant": "A", "channel": "EMAIL"})
			got := requireStatus(t, r, http.StatusAccepted)
			assert.EqualValues(t, 1, got["accepted"])
			assert.Len(t, got["eventIds"], 1, "a missing eventId is generated")
		})
		t.Run("a batch with per-event errors", func(t *testing.T) {
			events := []any{
				map[string]any{"eventId": uuid.NewString(), "type": "CLICK", "variant": "B", "channel": "PUSH"},
				map[string]any{"type": "CONVERSION", "revenue": money("120.50"), "channel": "EMAIL", "customerId": "c-1"},
				map[string]any{"type": "COST", "cost": money("30")},
				map[string]any{"type": "CLICK", "variant": "Z"},
				map[string]any{"type": "COST", "cost": map[string]any{"amount": "5", "currency": "USD"}},
				map[string]any{"type": "SHARE"},
				map[string]any{"type": "CLICK", "occurredAt": time.Now().Add(time.Hour).Format(time.RFC3339)},
				map[string]any{"type": "CLICK", "channel": "SMS"},
			}
			got := requireStatus(t, track(s, id, map[string]any{"events": events}), http.StatusAccepted)
			assert.EqualValues(t, 3, got["accepted"])
			rejected := got["rejected"].([]any)
			require.Len(t, rejected, 5)
			fields := map[float64]string{}
			for _, r := range rejected {
				rr := r.(map[string]any)
				fields[rr["index"].(float64)] = rr["errors"].([]any)[0].(map[string]any)["field"].(string)
			}
			assert.Equal(t, map[float64]string{3: "variant", 4: "cost.currency", 5: "type", 6: "occurredAt", 7: "channel"}, fields)
		})
		t.Run("nothing valid is 422; unknown campaign 404; too many 400", func(t *testing.T) {
			p := requireProblem(t, track(s, id, map[string]any{"type": "CLICK", "revenue": money("1")}), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"revenue"}, fieldsOf(p))
			requireProblem(t, track(s, uuid.NewString(), map[string]any{"type": "CLICK"}), http.StatusNotFound)
			many := make([]any, metrics.MaxBatch+1)
			for i := range many {
				many[i] = map[string]any{"type": "IMPRESSION"}
			}
			requireProblem(t, track(s, id, map[string]any{"events": many}), http.StatusBadRequest)
			requireProblem(t, track(s, id, `{"type": "CLICK", "colour": "red"}`), http.StatusUnprocessableEntity)
			requireProblem(t, track(s, id, `{"type": "CLICK",`), http.StatusBadRequest)
			requireProblem(t, track(s, id, `[{"type": "CLICK"}]`), http.StatusBadRequest)
		})
		t.Run("decoding is strict", func(t *testing.T) {
			id := create(t, s, validBody("Metrics strict "+target.Name))["id"].(string) // its counts are not checked
			// Names match exactly, in a single event and in each event of a batch.
			p := requireProblem(t, track(s, id, `{"Type": "CLICK"}`), http.StatusUnprocessableEntity)
			assert.Equal(t, []string{"Type"}, fieldsOf(p))
			got := requireStatus(t, track(s, id, `{"events": [{"type": "IMPRESSION"}, {"type": "CLICK", "Variant": "A"}]}`), http.StatusAccepted)
			assert.EqualValues(t, 1, got["accepted"])
			rej := got["rejected"].([]any)[0].(map[string]any)
			assert.EqualValues(t, 1, rej["index"])
			assert.Equal(t, "Variant", rej["errors"].([]any)[0].(map[string]any)["field"])
			p = requireProblem(t, track(s, id, `{"Events": [{"type": "CLICK"}]}`), http.StatusUnprocessableEntity)
			assert.Contains(t, fieldsOf(p), "Events")
			// null, a member given twice, invalid UTF-8, a body not declared JSON.
			requireProblem(t, track(s, id, `null`), http.StatusBadRequest)
			p = requireProblem(t, track(s, id, `{"events": [{"type": "CLICK", "type": "COST"}]}`), http.StatusBadRequest)
			assert.Equal(t, []string{"events[0].type"}, fieldsOf(p))
			requireProblem(t, track(s, id, "{\"type\": \"CLICK\", \"customerId\": \"c-\xff\"}"), http.StatusBadRequest)
			body := []byte(`{"type": "CLICK"}`)
			req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/campaigns/"+id+"/track", bytes.NewReader(body))
			require.NoError(t, err)
			requireProblem(t, s.Send(req, body), http.StatusUnsupportedMediaType)
		})
		t.Run("report queries are strict", func(t *testing.T) {
			for _, q := range []string{"foo=1", "from=2027-01-01&from=2027-01-02", "granularity=day&granularity=week"} {
				requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/performance?"+q, nil), http.StatusBadRequest)
			}
			p := requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics?foo=1", nil), http.StatusBadRequest)
			assert.Equal(t, []string{"foo"}, fieldsOf(p))
			// Days PostgreSQL has no room for are refused before any SQL.
			for _, q := range []string{"from=0000-01-01", "to=0000-12-31", "from=0001-01-01T00:00:00%2B01:00", "to=9999-12-31T23:00:00-05:00"} {
				p := requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics?"+q, nil), http.StatusBadRequest)
				assert.Len(t, fieldsOf(p), 1, q)
			}
			requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics?from=0001-01-01&to=9999-12-31", nil), http.StatusOK)
		})

		aggregate(t, s)
		m := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics", nil), http.StatusOK)
		assert.EqualValues(t, 1, m["impressions"])
		assert.EqualValues(t, 1, m["clicks"])
		assert.EqualValues(t, 1, m["conversions"])
		assert.Equal(t, money("120.50"), m["revenue"])
		assert.Equal(t, money("30.00"), m["cost"])
		assert.EqualValues(t, 100, m["ctr"])
		assert.EqualValues(t, 4.02, m["roas"])
		assert.Equal(t, money("9970.00"), m["budgetRemaining"])
		assert.NotNil(t, m["lastUpdated"])

		got := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil), http.StatusOK)
		assert.EqualValues(t, 1, got["metrics"].(map[string]any)["impressions"], "the campaign embeds its metrics")

		perf := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/performance?groupBy=variant&granularity=month", nil), http.StatusOK)
		series := perf["series"].([]any)
		require.Len(t, series, 3, "no variant, A and B")
		groups := []any{}
		for _, sr := range series {
			groups = append(groups, sr.(map[string]any)["group"])
		}
		assert.Equal(t, []any{nil, "A", "B"}, groups, "null: the events without a variant")
		p := requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/performance?granularity=minute", nil), http.StatusBadRequest)
		assert.Equal(t, []string{"granularity"}, fieldsOf(p))
		requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics?from=2027-01-02&to=2027-01-01", nil), http.StatusBadRequest)
	})
}

func TestAggregationIsExactlyOnce(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		s := apptest.New(t, target, apptest.ServerConfig{})
		ctx := context.Background()
		id := create(t, s, validBody("Exactly Once "+target.Name))["id"].(string)
		cid := uuid.MustParse(id)

		// Other systems publish straight onto the subject.
		publish := func(e map[string]any) {
			b, _ := json.Marshal(e)
			msg := nats.NewMsg(metrics.Subject(cid))
			msg.Data = b
			if eid, ok := e["eventId"].(string); ok {
				msg.Header.Set(jetstream.MsgIDHeader, eid)
			}
			_, err := s.API.NATS.JS.PublishMsg(ctx, msg)
			require.NoError(t, err)
		}
		const n = 300
		ids := make([]string, n)
		for i := range n {
			ids[i] = uuid.NewString()
			publish(map[string]any{"eventId": ids[i], "type": "CLICK", "cost": money("0.10")})
		}
		aggregate(t, s)
		// The same eventIds again: JetStream drops them (Nats-Msg-Id), nothing changes.
		for i := range n {
			publish(map[string]any{"eventId": ids[i], "type": "CLICK", "cost": money("0.10")})
		}
		r := track(s, id, map[string]any{"events": []any{map[string]any{"eventId": ids[0], "type": "CLICK", "cost": money("0.10")}}})
		requireStatus(t, r, http.StatusAccepted)
		aggregate(t, s)
		m := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics", nil), http.StatusOK)
		assert.EqualValues(t, n, m["clicks"])
		assert.Equal(t, money("30.00"), m["cost"])

		// Poison: malformed, unknown campaign, wrong currency. Each goes to the DLQ, once.
		dlq, err := s.API.NATS.NC.SubscribeSync(metrics.DeadLetterSubj)
		require.NoError(t, err)
		bad := nats.NewMsg(metrics.Subject(cid))
		bad.Data = []byte(`{"type": "CLICK",`)
		_, err = s.API.NATS.JS.PublishMsg(ctx, bad)
		require.NoError(t, err)
		other := nats.NewMsg(metrics.Subject(uuid.New()))
		other.Data = []byte(`{"type": "CLICK"}`)
		_, err = s.API.NATS.JS.PublishMsg(ctx, other)
		require.NoError(t, err)
		publish(map[string]any{"type": "COST", "cost": map[string]any{"amount": "1", "currency": "GBP"}})
		aggregate(t, s)
		reasons := map[string]bool{}
		for range 3 {
			msg, err := dlq.NextMsg(5 * time.Second)
			require.NoError(t, err)
			reasons[msg.Header.Get(metrics.HeaderDLQReason)] = true
			assert.NotEmpty(t, msg.Header.Get(metrics.HeaderDLQSubject))
		}
		var joined string
		for r := range reasons {
			joined += r + "\n"
		}
		assert.Contains(t, joined, "malformed JSON")
		assert.Contains(t, joined, "unknown or deleted campaign")
		assert.Contains(t, joined, "currency")
		m = requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics", nil), http.StatusOK)
		assert.EqualValues(t, n, m["clicks"], "poison is not counted")
		var dead int64
		require.NoError(t, s.API.DB.NewSelect().Table("metrics_consumer_positions").ColumnExpr("SUM(dead_lettered)").Scan(ctx, &dead))
		assert.EqualValues(t, 3, dead)
	})
}

func TestBudgetAutomation(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		clk := newClock(time.Now().UTC())
		s := apptest.New(t, target, apptest.ServerConfig{Now: clk.Now})
		ctx := context.Background()
		b := validBodyAt("Budget "+target.Name, clk.Now())
		b["startDate"] = clk.Now().Format(time.RFC3339)
		b["budget"] = money("100")
		id := create(t, s, b)["id"].(string)
		requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
		tick := func() {
			t.Helper()
			_, err := s.API.Automation.Tick(ctx)
			require.NoError(t, err)
		}
		status := func() map[string]any {
			return requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil), http.StatusOK)
		}

		requireStatus(t, track(s, id, map[string]any{"type": "COST", "cost": money("89.99")}), http.StatusAccepted)
		aggregate(t, s)
		tick()
		assert.Equal(t, "ACTIVE", status()["status"], "below 90%")

		requireStatus(t, track(s, id, map[string]any{"type": "COST", "cost": money("0.01")}), http.StatusAccepted)
		aggregate(t, s)
		tick()
		tick()
		got := status()
		assert.Equal(t, "PAUSED", got["status"], "90% pauses")
		assert.Equal(t, "PAUSED", got["servingStatus"])

		// A person resumes it: the automation does not pause it again for the same threshold.
		requireStatus(t, action(s, id, "resume", nil), http.StatusOK)
		requireStatus(t, track(s, id, map[string]any{"type": "COST", "cost": money("5")}), http.StatusAccepted)
		aggregate(t, s)
		tick()
		assert.Equal(t, "ACTIVE", status()["status"], "paused once only")

		requireStatus(t, track(s, id, map[string]any{"type": "COST", "cost": money("5")}), http.StatusAccepted)
		aggregate(t, s)
		tick()
		tick()
		got = status()
		assert.Equal(t, "COMPLETED", got["status"], "100% completes")
		assert.Equal(t, "BUDGET_EXHAUSTED", got["servingStatus"])

		tr := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions", nil), http.StatusOK)
		var seq []string
		for _, r := range tr["transitions"].([]any) {
			row := r.(map[string]any)
			seq = append(seq, fmt.Sprintf("%s/%v", row["action"], row["automatic"]))
		}
		assert.Equal(t, []string{"activate/false", "pause/true", "resume/false", "complete/true"}, seq)
	})
}

// The reproduction through the API: two COST events of 900,000,000,000,000 EUR used to
// wrap the totals to a negative cost. /track refuses each (422 per event, above
// metrics.max_event_amount), accepts the valid events of a mixed batch, and the metrics stay
// exact and positive.
func TestTrackRefusesAmountsAboveTheLimit(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		s := apptest.New(t, target, apptest.ServerConfig{})
		id := create(t, s, validBody("Limits "+target.Name))["id"].(string)
		huge := map[string]any{"type": "COST", "cost": map[string]any{"amount": "900000000000000", "currency": "EUR"}}
		for range 2 {
			p := requireProblem(t, track(s, id, huge), http.StatusUnprocessableEntity)
			assert.Contains(t, fmt.Sprint(p["errors"]), "cost.amount")
			assert.Contains(t, fmt.Sprint(p["errors"]), "at most 1000000000")
		}
		r := requireStatus(t, track(s, id, map[string]any{"events": []any{
			map[string]any{"type": "COST", "cost": money("1000000000")},
			map[string]any{"type": "CONVERSION", "revenue": money("1000000000.01")},
			huge,
		}}), http.StatusAccepted)
		assert.EqualValues(t, 1, r["accepted"])
		rejected := r["rejected"].([]any)
		require.Len(t, rejected, 2)
		for i, want := range []float64{1, 2} {
			rej := rejected[i].(map[string]any)
			assert.EqualValues(t, want, rej["index"])
			assert.Contains(t, fmt.Sprint(rej["errors"]), "amount")
		}
		aggregate(t, s)
		m := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics", nil), http.StatusOK)
		assert.Equal(t, money("1000000000.00"), m["cost"])
		assert.EqualValues(t, 10000000, m["budgetSpentPercent"], "positive: a billion against a budget of 10,000")
		assert.Equal(t, money("0.00"), m["budgetRemaining"])
	})
}
