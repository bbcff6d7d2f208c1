package app_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// BenchmarkEligibilityHTTP is POST /api/v1/targeting/evaluate end to end (HTTP on loopback,
// Echo, the campaign list from SQLite, 200 rule evaluations through a local fake Rules Engine)
// for 100 serving campaigns with 2 rules each, one request at a time, with the defaults (rule
// cache on, 16 evaluations at once) and with neither, against the bare HTTP round trip to the
// fake in the same run.
//
//	go test ./platform/app -run '^$' -bench EligibilityHTTP -benchtime 2s
func BenchmarkEligibilityHTTP(b *testing.B) {
	e := enginetest.New(b)
	body := []byte(`{"customerId": "c-42", "context": {"order_amount": 150}, "channel": "EMAIL"}`)
	for _, tc := range []struct {
		name        string
		cacheTTL    time.Duration
		concurrency int
	}{
		{"cache+concurrency16", 30 * time.Second, 16},
		{"nocache+sequential", 0, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := apptest.New(b, dbtest.SQLiteTarget(b), apptest.ServerConfig{Configure: func(c *config.Config) {
				withEngine(e)(c)
				c.RulesEngine.Timeout = 5 * time.Second
				c.RulesEngine.CacheTTL, c.RulesEngine.Concurrency = tc.cacheTTL, tc.concurrency
			}})
			for i := range 100 {
				rules := []uuid.UUID{e.AddRule("ACTIVE", promotionDSL), e.AddRule("ACTIVE", enginetest.AnyOrderDSL)}
				r := s.Do(http.MethodPost, "/api/v1/campaigns", servingBody(fmt.Sprintf("Bench eligible %d", i), rules, "EMAIL"), asUserA...)
				if r.Status != http.StatusCreated {
					b.Fatalf("create: %d %s", r.Status, r.Body)
				}
				id := r.Map(b)["id"].(string)
				if r := action(s, id, "activate", nil); r.Status != http.StatusOK {
					b.Fatalf("activate: %d %s", r.Status, r.Body)
				}
			}
			url := s.URL + "/api/v1/targeting/evaluate"
			if err := httpDo(s.Client, http.MethodPost, url, body, http.StatusOK); err != nil { // warm up
				b.Fatal(err)
			}
			calls := e.Gets.Load() + e.Evaluations.Load()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := httpDo(s.Client, http.MethodPost, url, body, http.StatusOK); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start).Seconds()
			b.ReportMetric(float64(b.N)/elapsed, "requests/s")
			b.ReportMetric(float64(e.Gets.Load()+e.Evaluations.Load()-calls)/float64(b.N), "engine-calls/op")
		})
	}
	b.Run("bare-round-trip", e.BenchmarkRoundTrip)
}
