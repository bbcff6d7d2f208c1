package app_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/metrics"
	metricsstore "github.com/engine-rules-sp/campaigns/metrics/bunstore"
	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/targeting"
)

// queryCounter is a bun query hook that counts the statements a database runs.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}
func (q *queryCounter) AfterQuery(context.Context, *bun.QueryEvent) { q.n.Add(1) }

// servingFixture is n ACTIVE campaigns with two scheduling windows each (one across midnight),
// an impression cap and a budget limit, and all-time totals under both, as the metrics
// pipeline writes them; and an evaluator over them with the delivery checks on and one with
// them off, both counting their queries.
type servingFixture struct {
	on, off *targeting.Evaluator
	queries *queryCounter
}

func newServingFixture(tb testing.TB, target dbtest.Target, n int, now time.Time) servingFixture {
	tb.Helper()
	return newServingFixtureWith(tb, target, n, now, nil)
}

// newServingFixtureWith is newServingFixture with every campaign paced by pacing (nil: none).
func newServingFixtureWith(tb testing.TB, target dbtest.Target, n int, now time.Time, pacing *campaign.Pacing) servingFixture {
	tb.Helper()
	ctx := context.Background()
	db := dbtest.Open(tb, target, app.Migrations()...)
	store := metricsstore.New(db)
	repo := bunstore.New(db)
	svc := campaign.NewService(repo, campaign.ServiceConfig{Delivery: store, PeriodSpend: store, Now: func() time.Time { return now }})
	rollups := map[metrics.Key]metrics.Totals{}
	for i := range n {
		maxImp := int64(1_000_000)
		limit := campaign.MustMoney("900.00", "EUR")
		c, err := campaign.Rehydrate(campaign.RehydrateParams{
			ID: campaign.NewID(), Name: fmt.Sprintf("Bench serving %d", i), Status: lifecycle.StatusActive,
			Type: campaign.TypePromotion, StartDate: now.Add(-time.Hour), Budget: campaign.MustMoney("1000.00", "EUR"),
			CreatedBy: campaign.UserID(uuid.New()), CreatedAt: now.Add(time.Duration(i) * time.Millisecond), UpdatedAt: now, Version: 2,
			TargetingRules: []campaign.RuleID{},
			Settings: campaign.Settings{
				Channels: []campaign.Channel{campaign.ChannelEmail}, Frequency: campaign.FrequencyDaily,
				MaxImpressions: &maxImp, BudgetLimit: &limit, TargetAudience: []string{},
				SchedulingRules: []campaign.SchedulingRule{
					{Days: []string{"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}, Start: "00:00", End: "23:59", Timezone: "Europe/Madrid"},
					{Days: []string{"FRI"}, Start: "22:00", End: "02:00", Timezone: "America/New_York"},
				},
				Personalization: campaign.Personalization{Rules: []campaign.RuleID{}},
				Pacing:          pacing,
			},
		})
		require.NoError(tb, err)
		require.NoError(tb, repo.Create(ctx, c, campaign.Change{Event: campaign.EventCreated, Data: campaign.CreatedV1{}, At: now}))
		rollups[metrics.Key{CampaignID: uuid.UUID(c.ID()), Hour: metrics.HourOf(now), Variant: "", Channel: "EMAIL"}] =
			metrics.Totals{Impressions: 1000, Clicks: 10, CostE4: 100_0000}
	}
	require.NoError(tb, store.Commit(ctx, metrics.Batch{Consumer: "bench", Rollups: rollups}, now))
	q := &queryCounter{}
	db.AddQueryHook(q)
	clock := func() time.Time { return now }
	return servingFixture{
		on:      targeting.NewEvaluator(svc, targeting.EvaluatorConfig{Now: clock}),
		off:     targeting.NewEvaluator(svc, targeting.EvaluatorConfig{Now: clock, SkipDeliveryChecks: true}),
		queries: q,
	}
}

// BenchmarkServingChecks is POST /targeting/evaluate's decision for one customer against 100
// serving campaigns with scheduling windows, an impression cap and a budget limit (no
// targeting rules: the Rules Engine's cost would hide what the checks cost), with the checks
// on and, in the same run and interleaved, switched off. It reports each one's time per
// request, their ratio (off/on: the share of the unchecked throughput the checked decision
// keeps) and the SQL statements per request of each.
//
//	go test ./platform/app -run '^$' -bench ServingChecks -benchtime 2000x
func BenchmarkServingChecks(b *testing.B) {
	now := time.Date(2027, 3, 3, 10, 0, 0, 0, time.UTC)
	for _, target := range []struct {
		name string
		open func(testing.TB) dbtest.Target
	}{{"sqlite", dbtest.SQLiteTarget}, {"postgres", dbtest.PostgresTarget}} {
		b.Run(target.name, func(b *testing.B) {
			f := newServingFixture(b, target.open(b), 100, now) // an empty database each run
			ctx := context.Background()
			req := targeting.Request{CustomerID: "c-42", Channel: campaign.ChannelEmail}
			run := func(ev *targeting.Evaluator) (time.Duration, int64) {
				before := f.queries.n.Load()
				start := time.Now()
				got, err := ev.EligibleCampaigns(ctx, req)
				d := time.Since(start)
				if err != nil || len(got.Eligible) != 100 {
					b.Fatalf("eligible %d, err %v", len(got.Eligible), err)
				}
				return d, f.queries.n.Load() - before
			}
			run(f.on) // warm up (time zones, connections)
			run(f.off)
			var onT, offT time.Duration
			var onQ, offQ int64
			b.ResetTimer()
			for range b.N {
				d, q := run(f.on)
				onT, onQ = onT+d, onQ+q
				d, q = run(f.off)
				offT, offQ = offT+d, offQ+q
			}
			n := float64(b.N)
			b.ReportMetric(float64(onT.Nanoseconds())/n, "on-ns/req")
			b.ReportMetric(float64(offT.Nanoseconds())/n, "off-ns/req")
			b.ReportMetric(float64(offT)/float64(onT), "on/off-throughput")
			b.ReportMetric(float64(onQ)/n, "on-queries/req")
			b.ReportMetric(float64(offQ)/n, "off-queries/req")
		})
	}
}

// BenchmarkServingWithDailyPacing is BenchmarkServingChecks' decision against 100 campaigns
// paced EVEN on a daily budget (today's spend read from the hourly rollups, the throttle's
// probability and draw per campaign) and, in the same run and interleaved, against 100
// unpaced ones: the time per request of each, their ratio (unpaced/paced: the share of the
// unpaced throughput the paced decision keeps) and the SQL statements per request.
//
//	go test ./platform/app -run '^$' -bench ServingWithDailyPacing -benchtime 2000x
func BenchmarkServingWithDailyPacing(b *testing.B) {
	now := time.Date(2027, 3, 3, 10, 0, 0, 0, time.UTC)
	pacing := benchPacing()
	for _, target := range []struct {
		name string
		open func(testing.TB) dbtest.Target
	}{{"sqlite", dbtest.SQLiteTarget}, {"postgres", dbtest.PostgresTarget}} {
		b.Run(target.name, func(b *testing.B) {
			paced := newServingFixtureWith(b, target.open(b), 100, now, pacing)
			plain := newServingFixture(b, target.open(b), 100, now)
			ctx := context.Background()
			req := targeting.Request{CustomerID: "c-42", Channel: campaign.ChannelEmail}
			run := func(f servingFixture) (time.Duration, int64) {
				before := f.queries.n.Load()
				start := time.Now()
				got, err := f.on.EligibleCampaigns(ctx, req)
				d := time.Since(start)
				if err != nil || len(got.Eligible) == 0 || len(got.Eligible) > 100 {
					b.Fatalf("eligible %d, err %v", len(got.Eligible), err)
				}
				return d, f.queries.n.Load() - before
			}
			run(paced) // warm up
			run(plain)
			var pacedT, plainT time.Duration
			var pacedQ, plainQ int64
			b.ResetTimer()
			for range b.N {
				d, q := run(paced)
				pacedT, pacedQ = pacedT+d, pacedQ+q
				d, q = run(plain)
				plainT, plainQ = plainT+d, plainQ+q
			}
			n := float64(b.N)
			b.ReportMetric(float64(pacedT.Nanoseconds())/n, "paced-ns/req")
			b.ReportMetric(float64(plainT.Nanoseconds())/n, "unpaced-ns/req")
			b.ReportMetric(float64(plainT)/float64(pacedT), "paced/unpaced-throughput")
			b.ReportMetric(float64(pacedQ)/n, "paced-queries/req")
			b.ReportMetric(float64(plainQ)/n, "unpaced-queries/req")
		})
	}
}

// benchPacing paces the serving fixture's campaigns EVEN on a daily budget, so that at its
// clock (an hour into their first day, which ends at midnight in Madrid: 14 hours) their 100
// EUR spent today is 0.9% of the budget ahead of the plan: the throttle serves 57% of
// requests, so the decision computes each campaign's draw. (The daily budget is above the campaigns' 1,000 EUR budget,
// which validation would refuse; the fixture's campaigns are rehydrated, not validated.)
func benchPacing() *campaign.Pacing {
	daily := campaign.MustMoney("1250.00", "EUR")
	return &campaign.Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodDaily, DailyBudget: &daily}
}

// The decision reads the database a fixed number of times whatever the number of campaigns:
// the campaigns, then their delivered totals.
func TestServingQueriesAreConstant(t *testing.T) {
	t.Parallel()
	fresh := map[string]func(testing.TB) dbtest.Target{"sqlite": dbtest.SQLiteTarget, "postgres": dbtest.PostgresTarget}
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		now := time.Date(2027, 3, 3, 10, 0, 0, 0, time.UTC)
		counts := map[int]int64{}
		for _, n := range []int{1, 10, 150} {
			f := newServingFixture(t, fresh[target.Name](t), n, now) // an empty database each
			before := f.queries.n.Load()
			got, err := f.on.EligibleCampaigns(context.Background(), targeting.Request{CustomerID: "c-1", Explain: true})
			require.NoError(t, err)
			assert.Len(t, got.Eligible, n)
			counts[n] = f.queries.n.Load() - before
		}
		assert.Equal(t, map[int]int64{1: 2, 10: 2, 150: 2}, counts)

		// Campaigns with daily budgets add one read, today's spend, whatever their number
		// (one per distinct pacing day start: one zone here).
		for _, n := range []int{1, 150} {
			f := newServingFixtureWith(t, fresh[target.Name](t), n, now, benchPacing())
			before := f.queries.n.Load()
			got, err := f.on.EligibleCampaigns(context.Background(), targeting.Request{CustomerID: "c-1", Explain: true})
			require.NoError(t, err)
			assert.Len(t, append(got.Eligible, got.NotServed...), n)
			assert.EqualValues(t, 3, f.queries.n.Load()-before, "%d paced campaigns", n)
		}
		f := newServingFixtureWith(t, fresh[target.Name](t), 150, now, benchPacing())
		got, err := f.on.EligibleCampaigns(context.Background(), targeting.Request{CustomerID: "c-1", Explain: true})
		require.NoError(t, err)
		assert.NotEmpty(t, got.Eligible, "the throttle serves some")
		assert.NotEmpty(t, got.NotServed, "and holds some back")
		for _, v := range got.NotServed {
			assert.Equal(t, targeting.ReasonPacing, v.Why[0].Code)
		}
	})
}
