package app_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// BenchmarkFrequencyCapLag measures, on the embedded default (SQLite, in-process NATS, the
// worker in the API process with its default metrics.max_wait), how long an impression
// tracked through POST /track takes to cap its customer in POST /targeting/evaluate: each op
// tracks one impression of a new customer, then evaluates every 5 ms until the campaign is
// no longer offered. It reports the lag's p50, p99 and max, and the same-run floor the
// pipeline's batching sets (metrics.max_wait) as a ratio.
//
//	go test ./platform/app -run '^$' -bench FrequencyCapLag -benchtime 200x
func BenchmarkFrequencyCapLag(b *testing.B) {
	// An untargeted campaign: no Rules Engine call in the loop, only the cap decides.
	s := apptest.New(b, dbtest.SQLiteTarget(b), apptest.ServerConfig{Configure: func(c *config.Config) { c.Activation.AllowUntargeted = true }})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.API.RunBackground(ctx)
	}()
	b.Cleanup(func() {
		stop()
		<-done
	})
	body := servingBody("Bench frequency lag", nil, "EMAIL")
	body["settings"].(map[string]any)["frequency"] = "DAILY"
	r := s.Do(http.MethodPost, "/api/v1/campaigns", body, asUserA...)
	if r.Status != http.StatusCreated {
		b.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := r.Map(b)["id"].(string)
	if r := action(s, id, "activate", nil); r.Status != http.StatusOK {
		b.Fatalf("activate: %d %s", r.Status, r.Body)
	}
	offered := func(customer string) bool {
		r := s.Do(http.MethodPost, "/api/v1/targeting/evaluate", map[string]any{"customerId": customer, "context": map[string]any{}})
		if r.Status != http.StatusOK {
			b.Fatalf("evaluate: %d %s", r.Status, r.Body)
		}
		for _, c := range r.Map(b)["campaigns"].([]any) {
			if c.(map[string]any)["campaignId"] == id {
				return true
			}
		}
		return false
	}
	lags := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		customer := fmt.Sprintf("lag-%d", i)
		if !offered(customer) {
			b.Fatalf("a new customer %s is not offered the campaign", customer)
		}
		start := time.Now()
		if r := track(s, id, map[string]any{"type": "IMPRESSION", "customerId": customer}); r.Status != http.StatusAccepted {
			b.Fatalf("track: %d %s", r.Status, r.Body)
		}
		for offered(customer) {
			if time.Since(start) > 30*time.Second {
				b.Fatalf("the impression of %s never capped it", customer)
			}
			time.Sleep(5 * time.Millisecond)
		}
		lags = append(lags, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lags)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	pct := func(p float64) time.Duration { return lags[min(len(lags)-1, int(p*float64(len(lags))))] }
	b.ReportMetric(ms(pct(0.50)), "p50-ms")
	b.ReportMetric(ms(pct(0.99)), "p99-ms")
	b.ReportMetric(ms(lags[len(lags)-1]), "max-ms")
	b.ReportMetric(ms(pct(0.99))/ms(s.API.Config.Metrics.MaxWait), "p99/max_wait")
}
