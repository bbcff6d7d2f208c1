package campaigns_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/campaigns"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// trafficShape is the share of a day's requests in each local hour: low at night, a morning
// rise, a midday peak and a higher evening one (sums to 1).
var trafficShape = func() [24]float64 {
	w := [24]float64{0.35, 0.25, 0.18, 0.15, 0.18, 0.3, 0.55, 0.9, 1.1, 1.2, 1.3, 1.45,
		1.6, 1.5, 1.3, 1.2, 1.2, 1.35, 1.6, 1.8, 1.7, 1.4, 1.0, 0.6}
	var sum float64
	for _, x := range w {
		sum += x
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}()

// The simulated day: its requests, what each served impression costs and the daily budget.
// Unthrottled, the day's traffic would spend six times the budget (nights at ~0.9 of the even
// rate); the EVEN campaign must stay within simMaxDeviation of its plan at every hour after
// the first.
const (
	simRequests     = 2400
	simDailyBudget  = 100.0
	simStep         = 5 * time.Minute // spend is counted (the aggregator drains) at each step
	simMaxDeviation = 0.05
)

var simCost = decimal.NewFromFloat(6 * simDailyBudget / simRequests) // 0.25 EUR

// simClock is the simulation's clock, moved by the test.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *simClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *simClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// A day of traffic with a realistic hourly shape is replayed through the real service: each
// request is a POST /targeting/evaluate (the serving decision, with the pacing throttle),
// each campaign served to it gets an impression with its cost through POST /track, and the
// aggregator counts them every five simulated minutes. Two campaigns with the same daily
// budget compete for the same requests: EVEN must track its plan within 5% of the budget at
// every hour after the first; ASAP is reported beside it (it spends its budget by midday).
// Deterministic: a fixed seed, a simulated clock.
func TestPacingSimulationEvenTracksThePlan(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	dayStart := time.Date(2026, 3, 10, 0, 0, 0, 0, paris) // a 24-hour day (no DST change)
	clock := &simClock{now: dayStart.Add(-2 * time.Hour)}
	c, _ := newClient(t, dbtest.SQLiteTarget(t), campaigns.Config{
		Now: clock.Now, AllowUntargeted: true, Worker: campaigns.WorkerConfig{Disabled: true},
	})
	ctx := context.Background()
	srv := httptest.NewServer(c.Handler("/api/v1"))
	t.Cleanup(srv.Close)
	do := func(method, path string, body any) map[string]any {
		t.Helper()
		b, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(headerCaller, "11111111-1111-4111-8111-111111111111")
		req.Header.Set(headerRoles, string(auth.RoleAdmin))
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		require.Less(t, res.StatusCode, 300, "%s %s: %v", method, path, out)
		return out
	}
	newCampaign := func(name, mode string) string {
		id := do(http.MethodPost, "/api/v1/campaigns", map[string]any{
			"name": name, "type": "PROMOTION",
			"startDate": dayStart.Add(-time.Hour).UTC().Format(time.RFC3339),
			"endDate":   dayStart.Add(10 * 24 * time.Hour).UTC().Format(time.RFC3339),
			"budget":    map[string]any{"amount": "10000.00", "currency": "EUR"},
			"settings": map[string]any{"channels": []string{"WEB"}, "frequency": "DAILY",
				"pacing": map[string]any{"mode": mode, "period": "DAILY", "timezone": "Europe/Paris",
					"dailyBudget": map[string]any{"amount": fmt.Sprintf("%.2f", simDailyBudget), "currency": "EUR"}}},
		})["id"].(string)
		do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate", map[string]any{})
		return id
	}
	even, asap := newCampaign("Paced evenly", "EVEN"), newCampaign("Paced ASAP", "ASAP")

	rng := rand.New(rand.NewPCG(28, 2026))
	spent := map[string]decimal.Decimal{}
	type hourRow struct{ even, asap, planned float64 }
	var table []hourRow
	// What the served customers cost, counted at each step as the aggregator counts /track's
	// events: one commit of hourly rollups to the metrics store (the tracking path itself,
	// through JetStream, has its own tests; draining it 288 times would take minutes).
	counted := map[metrics.Key]metrics.Totals{}
	var position uint64
	flush := func() {
		t.Helper()
		if len(counted) == 0 {
			return
		}
		b := metrics.Batch{Consumer: "pacing-simulation", From: position, To: position + 1, Rollups: counted}
		require.NoError(t, c.MetricsStore().Commit(ctx, b, clock.Now()))
		position++
		counted = map[metrics.Key]metrics.Totals{}
	}
	for step := dayStart; step.Before(dayStart.Add(24 * time.Hour)); step = step.Add(simStep) {
		local := step.In(paris)
		// Poisson-like arrivals: the hour's share of the day, spread over its steps.
		mean := simRequests * trafficShape[local.Hour()] * float64(simStep) / float64(time.Hour)
		n := int(math.Floor(mean + rng.Float64()))
		arrivals := make([]time.Time, n)
		for i := range arrivals {
			arrivals[i] = step.Add(time.Duration(rng.Int64N(int64(simStep))))
		}
		slices.SortFunc(arrivals, time.Time.Compare)
		for _, at := range arrivals {
			clock.Set(at)
			customer := fmt.Sprintf("customer-%08d", rng.Uint32())
			got := do(http.MethodPost, "/api/v1/targeting/evaluate", map[string]any{"customerId": customer, "channel": "WEB"})
			for _, e := range got["campaigns"].([]any) {
				id := e.(map[string]any)["campaignId"].(string)
				spent[id] = spent[id].Add(simCost)
				k := metrics.Key{CampaignID: uuid.MustParse(id), Hour: metrics.HourOf(at), Channel: "WEB"}
				tot := counted[k]
				tot.Impressions++
				tot.CostE4 += simCost.Shift(4).IntPart()
				counted[k] = tot
			}
		}
		flush()
		if end := step.Add(simStep); end.Sub(dayStart)%time.Hour == 0 {
			h := end.Sub(dayStart).Hours()
			e, _ := spent[even].Float64()
			a, _ := spent[asap].Float64()
			table = append(table, hourRow{even: e, asap: a, planned: simDailyBudget * h / 24})
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "hour  planned  EVEN spent  EVEN dev  ASAP spent  ASAP dev\n")
	worst := 0.0
	for i, r := range table {
		de, da := math.Abs(r.even-r.planned)/simDailyBudget, math.Abs(r.asap-r.planned)/simDailyBudget
		fmt.Fprintf(&b, "%4d  %7.2f  %10.2f  %7.1f%%  %10.2f  %7.1f%%\n", i+1, r.planned, r.even, 100*de, r.asap, 100*da)
		if i > 0 {
			worst = math.Max(worst, de)
		}
	}
	t.Logf("spend deviation from plan, |cumulative spend - planned| / daily budget, at each hour (Europe/Paris):\n%s", b.String())
	t.Logf("EVEN: worst deviation after the first hour %.1f%%", 100*worst)
	require.Len(t, table, 24)
	for i, r := range table[1:] {
		dev := math.Abs(r.even-r.planned) / simDailyBudget
		require.LessOrEqual(t, dev, simMaxDeviation, "EVEN is %.1f%% off its plan at hour %d", 100*dev, i+2)
	}
	// ASAP really is ASAP: it spends its daily budget long before the day ends.
	require.Greater(t, table[13].asap, 0.95*simDailyBudget, "ASAP has spent its budget by 14:00")
	// The day's total: EVEN spent its budget, and past it only what was served before the
	// spend that reached it was counted (one step).
	last := table[23]
	require.InDelta(t, simDailyBudget, last.even, simMaxDeviation*simDailyBudget)
	require.LessOrEqual(t, last.even, 1.02*simDailyBudget)
}
