package targeting_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/targeting"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// The eligibility benchmarks evaluate one customer against 100 serving campaigns with 2
// targeting rules each (200 distinct rules, all holding) through a local fake Rules Engine,
// with and without the rule cache and bounded concurrency, and compare with the bare HTTP
// round trip to that fake (one POST /v1/evaluate at a time), in the same run. The campaigns
// come from memory, so the figures are the targeting layer's alone (platform/app has the
// end-to-end one).
//
//	go test ./targeting -run '^$' -bench Eligibility -benchtime 2s

// memCampaigns serves a fixed set of campaigns, as the campaign service would.
type memCampaigns struct{ all []*campaign.View }

func (m *memCampaigns) Live(_ context.Context, ch campaign.Channel, _ bool, _ time.Time) ([]*campaign.View, error) {
	var out []*campaign.View
	for _, c := range m.all {
		if c.Status() == lifecycle.StatusActive && (ch == "" || c.Settings().HasChannel(ch)) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memCampaigns) Get(_ context.Context, id campaign.ID) (*campaign.View, error) {
	for _, c := range m.all {
		if c.ID() == id {
			return c, nil
		}
	}
	return nil, campaign.ErrNotFound
}

func benchSetup(b *testing.B) (*enginetest.Engine, *memCampaigns) {
	e := enginetest.New(b)
	m := &memCampaigns{}
	for i := range 100 {
		m.all = append(m.all, stored(campaign.RehydrateParams{
			ID: campaign.NewID(), Name: fmt.Sprintf("c%d", i), Status: lifecycle.StatusActive,
			StartDate: time.Now().Add(-time.Hour),
			TargetingRules: []campaign.RuleID{
				campaign.RuleID(e.AddRule("ACTIVE", enginetest.PromotionDSL)),
				campaign.RuleID(e.AddRule("ACTIVE", enginetest.AnyOrderDSL)),
			},
			Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail},
				ABTest: &campaign.ABTestSettings{Enabled: true, Variants: []campaign.Variant{
					{Key: "A", Name: "a", Weight: 50}, {Key: "B", Name: "b", Weight: 50}}}},
		}))
	}
	return e, m
}

func BenchmarkEligibility(b *testing.B) {
	req := targeting.Request{CustomerID: "c-42", Context: json.RawMessage(`{"order_amount": 150}`)}
	for _, tc := range []struct {
		name        string
		cacheTTL    time.Duration
		concurrency int
	}{
		{"cache+concurrency16", time.Minute, 16},
		{"cache+sequential", time.Minute, 1},
		{"nocache+concurrency16", 0, 16},
		{"nocache+sequential", 0, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e, m := benchSetup(b)
			client := targeting.NewClient(targeting.Config{URL: e.URL, Timeout: 5 * time.Second,
				CacheTTL: tc.cacheTTL, BreakerFailures: 1000})
			defer client.Close()
			ev := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Rules: client, Concurrency: tc.concurrency})
			if _, err := ev.EligibleCampaigns(context.Background(), req); err != nil { // warm the pool (and the cache)
				b.Fatal(err)
			}
			calls := e.Evaluations.Load() + e.Gets.Load()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				got, err := ev.EligibleCampaigns(context.Background(), req)
				if err != nil || len(got.Eligible) != 100 {
					b.Fatalf("eligible %d, undetermined %d, err %v", len(got.Eligible), len(got.Undetermined), err)
				}
			}
			elapsed := time.Since(start).Seconds()
			calls = e.Evaluations.Load() + e.Gets.Load() - calls
			b.ReportMetric(float64(b.N)/elapsed, "requests/s")
			b.ReportMetric(float64(calls)/float64(b.N), "engine-calls/op")
			b.ReportMetric(float64(calls)/elapsed, "engine-calls/s")
		})
	}
	b.Run("bare-round-trip", func(b *testing.B) {
		e, _ := benchSetup(b)
		e.BenchmarkRoundTrip(b)
	})
}
