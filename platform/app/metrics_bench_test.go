package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// seedDaily is a metrics_daily row, written straight to the table to seed years of history fast.
type seedDaily struct {
	bun.BaseModel `bun:"table:metrics_daily"`

	CampaignID  uuid.UUID `bun:"campaign_id"`
	Day         string    `bun:"day"`
	Variant     string    `bun:"variant"`
	Channel     string    `bun:"channel"`
	Impressions int64     `bun:"impressions"`
	Clicks      int64     `bun:"clicks"`
	Conversions int64     `bun:"conversions"`
	RevenueE4   int64     `bun:"revenue_e4"`
	CostE4      int64     `bun:"cost_e4"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

// seedHistory gives campaign id days of daily rows for 5 variants x 3 channels, and the
// all-time totals the aggregator would have kept beside them (the migration's backfill).
func seedHistory(b *testing.B, db *bun.DB, id string, days int) {
	ctx := context.Background()
	cid := uuid.MustParse(id)
	first := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]seedDaily, 0, 1000)
	flush := func() {
		if len(rows) == 0 {
			return
		}
		if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
			b.Fatal(err)
		}
		rows = rows[:0]
	}
	for d := range days {
		for _, v := range []string{"A", "B", "C", "D", "E"} {
			for _, ch := range []string{"EMAIL", "PUSH", "SMS"} {
				rows = append(rows, seedDaily{CampaignID: cid, Day: first.AddDate(0, 0, d).Format(time.DateOnly),
					Variant: v, Channel: ch, Impressions: 1000, Clicks: 50, Conversions: 3, RevenueE4: 150_0000,
					CostE4: 20_0000, UpdatedAt: first.AddDate(0, 0, d+1)})
				if len(rows) == cap(rows) {
					flush()
				}
			}
		}
	}
	flush()
	_, err := db.ExecContext(ctx, `INSERT INTO metrics_totals (campaign_id, variant, channel, impressions, clicks,
  conversions, bounces, unsubscribes, revenue_e4, cost_e4, updated_at)
SELECT campaign_id, variant, channel, SUM(impressions), SUM(clicks), SUM(conversions), SUM(bounces),
  SUM(unsubscribes), SUM(revenue_e4), SUM(cost_e4), MAX(updated_at)
FROM metrics_daily WHERE campaign_id = ? GROUP BY campaign_id, variant, channel`, cid)
	if err != nil {
		b.Fatal(err)
	}
}

// GET /campaigns/{id} embeds the all-time metrics. A campaign with three years of history
// (1,095 days x 5 variants x 3 channels = 16,425 daily rows) against one with a single day (15
// rows): "get-campaign" alternates the two, one request at a time, so that both see the same
// machine, and reports each one's ns per request and the ratio (the goal: at most 1.2).
// "3-years-from-days" reads the same all-time figures from the daily rows (/metrics with a
// range), the way every all-time read worked before the totals rows.
//
//	go test ./platform/app -run '^$' -bench MetricsHistory -benchtime 3s
func BenchmarkMetricsHistory(b *testing.B) {
	for _, tg := range []struct {
		name   string
		target func(testing.TB) dbtest.Target
	}{{"sqlite", dbtest.SQLiteTarget}, {"postgres", dbtest.PostgresTarget}} {
		b.Run(tg.name, func(b *testing.B) {
			s := apptest.New(b, tg.target(b), apptest.ServerConfig{})
			ids := map[string]string{}
			for name, days := range map[string]int{"1-day": 1, "3-years": 1095} {
				r := s.Do(http.MethodPost, "/api/v1/campaigns", validBody(fmt.Sprintf("History %s %s", tg.name, name)), asUserA...)
				if r.Status != http.StatusCreated {
					b.Fatalf("create: %d %s", r.Status, r.Body)
				}
				ids[name] = r.Map(b)["id"].(string)
				seedHistory(b, s.API.DB, ids[name], days)
			}
			if tg.name == "postgres" {
				if _, err := s.API.DB.ExecContext(context.Background(), "ANALYZE metrics_daily, metrics_totals"); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("get-campaign", func(b *testing.B) {
				urls := [2]string{s.URL + "/api/v1/campaigns/" + ids["1-day"], s.URL + "/api/v1/campaigns/" + ids["3-years"]}
				var spent [2]time.Duration
				var count [2]int
				for i := range b.N {
					k := i % 2
					start := time.Now()
					if err := httpDo(s.Client, http.MethodGet, urls[k], nil, http.StatusOK); err != nil {
						b.Fatal(err)
					}
					spent[k] += time.Since(start)
					count[k]++
				}
				if count[1] == 0 {
					return
				}
				oneDay := float64(spent[0].Nanoseconds()) / float64(count[0])
				threeYears := float64(spent[1].Nanoseconds()) / float64(count[1])
				b.ReportMetric(oneDay, "1-day-ns/get")
				b.ReportMetric(threeYears, "3-years-ns/get")
				b.ReportMetric(threeYears/oneDay, "3-years/1-day")
			})
			b.Run("3-years-from-days", func(b *testing.B) {
				url := s.URL + "/api/v1/campaigns/" + ids["3-years"] + "/metrics?from=2000-01-01"
				for range b.N {
					if err := httpDo(s.Client, http.MethodGet, url, nil, http.StatusOK); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
