package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// BenchmarkBulkPause pauses 100 ACTIVE campaigns with one bulk request and 100 other ones
// with 100 single requests, in the same iteration (in alternating order), through the wired
// API on each database; it reports both times and their ratio (bulk / singles), which holds
// on a busy machine where the absolute times do not.
//
//	go test ./platform/app -run '^$' -bench BulkPause -benchtime 20x
func BenchmarkBulkPause(b *testing.B) {
	for _, tg := range []struct {
		name string
		make func(testing.TB) dbtest.Target
	}{{"sqlite", dbtest.SQLiteTarget}, {"postgres", dbtest.PostgresTarget}} {
		b.Run(tg.name, func(b *testing.B) { benchBulkPause(b, apptest.New(b, tg.make(b), apptest.ServerConfig{})) })
	}
}

func benchBulkPause(b *testing.B, s *apptest.Server) {
	const n = campaignapi.MaxBulkIDs
	ctx := context.Background()
	actor := campaign.UserID(uuid.MustParse(userA))
	active := func(tag string) []campaign.ID {
		ids := make([]campaign.ID, n)
		for i := range ids {
			in := campaign.Input{
				Name: fmt.Sprintf("Bulk bench %s %d", tag, i), Type: campaign.TypePromotion,
				TargetingRules: []campaign.RuleID{campaign.RuleID(uuid.MustParse(rule1))},
				StartDate:      time.Now().Add(time.Hour).UTC(), Budget: campaign.MustMoney("100", "EUR"),
				Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
			}
			c, err := s.API.Campaigns.Create(ctx, actor, in)
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = c.ID()
		}
		return ids
	}
	set := func(ids []campaign.ID, a lifecycle.Action) {
		for _, id := range ids {
			if _, err := s.API.Campaigns.Transition(ctx, id, campaign.TransitionRequest{Action: a, Actor: &actor}); err != nil {
				b.Fatal(err)
			}
		}
	}
	x, y := active("x"), active("y")
	set(x, lifecycle.ActionActivate)
	set(y, lifecycle.ActionActivate)
	bulkBody := func(ids []campaign.ID) map[string]any {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id.String()
		}
		return map[string]any{"ids": out, "reason": "bench"}
	}
	var bulkTime, singleTime time.Duration
	b.ResetTimer()
	for i := range b.N {
		bulkIDs, singleIDs := x, y
		if i%2 == 1 {
			bulkIDs, singleIDs = y, x
		}
		runBulk := func() {
			start := time.Now()
			r := bulk(s, "pause", bulkBody(bulkIDs))
			bulkTime += time.Since(start)
			if r.Status != http.StatusOK || r.Map(b)["summary"].(map[string]any)["succeeded"] != float64(n) {
				b.Fatalf("bulk pause: %d %.300s", r.Status, r.Body)
			}
		}
		runSingles := func() {
			start := time.Now()
			for _, id := range singleIDs {
				if r := action(s, id.String(), "pause", map[string]any{"reason": "bench"}); r.Status != http.StatusOK {
					b.Fatalf("pause: %d %s", r.Status, r.Body)
				}
			}
			singleTime += time.Since(start)
		}
		if i%2 == 0 {
			runBulk()
			runSingles()
		} else {
			runSingles()
			runBulk()
		}
		b.StopTimer()
		set(x, lifecycle.ActionResume)
		set(y, lifecycle.ActionResume)
		b.StartTimer()
	}
	b.ReportMetric(float64(bulkTime.Milliseconds())/float64(b.N), "bulk-ms/100")
	b.ReportMetric(float64(singleTime.Milliseconds())/float64(b.N), "singles-ms/100")
	b.ReportMetric(float64(bulkTime)/float64(singleTime), "bulk/singles")
}
