package bunstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	campaignstore "github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// benchBatch is the rollups of 10,000 events shaped like the ingestion benchmark's: 1,000
// campaigns, 2 variants, 2 channels, 5 days, within an hour of the time of day.
func benchBatch() map[metrics.Key]metrics.Totals {
	rng := rand.New(rand.NewPCG(1, 2))
	campaigns := make([]uuid.UUID, 1000)
	for i := range campaigns {
		campaigns[i] = uuid.New()
	}
	now := time.Date(2026, 11, 30, 12, 30, 0, 0, time.UTC)
	out := map[metrics.Key]metrics.Totals{}
	for range 10_000 {
		at := now.Add(-time.Duration(rng.IntN(5))*24*time.Hour - time.Duration(rng.IntN(3600))*time.Second)
		k := metrics.Key{CampaignID: campaigns[rng.IntN(len(campaigns))], Hour: metrics.HourOf(at),
			Variant: []string{"A", "B"}[rng.IntN(2)], Channel: []string{"EMAIL", "PUSH"}[rng.IntN(2)]}
		t := out[k]
		t.Impressions++
		t.CostE4 += 1_0000
		out[k] = t
	}
	return out
}

// One flush of 10,000 events' rollups into rows that exist (the steady state of campaigns that
// keep receiving events), per database: 8,883 hourly, 7,884 daily, 3,681 totals and 1,000
// spend rows.
//
//	go test ./metrics/bunstore -run '^$' -bench Commit -benchtime 50x
func BenchmarkCommit(b *testing.B) {
	for _, tg := range []struct {
		name   string
		target func(testing.TB) dbtest.Target
	}{{"sqlite", dbtest.SQLiteTarget}, {"postgres", dbtest.PostgresTarget}} {
		b.Run(tg.name, func(b *testing.B) {
			db := dbtest.Open(b, tg.target(b), append(campaignstore.Schema(), Migrations())...)
			store := New(db)
			batch := benchBatch()
			ctx := context.Background()
			now := time.Now()
			if err := store.Commit(ctx, metrics.Batch{Consumer: "bench", From: 0, To: 1, Rollups: batch}, now); err != nil {
				b.Fatal(err)
			}
			pos := uint64(1)
			b.ResetTimer()
			for range b.N {
				if err := store.Commit(ctx, metrics.Batch{Consumer: "bench", From: pos, To: pos + 1, Rollups: batch}, now); err != nil {
					b.Fatal(err)
				}
				pos++
			}
			lv, err := levelsOf(batch)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(lv.hourly)+len(lv.daily)+len(lv.totals)+len(lv.spend)), "rows/op")
		})
	}
}

// The same flush with and without 10,000 exposures (every impression carrying a customerId:
// half the customers new to their campaign, half seen in the previous flush), per database,
// in one run: the price of frequency caps, reach and audience at the flush.
//
//	go test ./metrics/bunstore -run '^$' -bench CommitExposures -benchtime 20x
func BenchmarkCommitExposures(b *testing.B) {
	for _, tg := range []struct {
		name   string
		target func(testing.TB) dbtest.Target
	}{{"sqlite", dbtest.SQLiteTarget}, {"postgres", dbtest.PostgresTarget}} {
		db := dbtest.Open(b, tg.target(b), append(campaignstore.Schema(), Migrations())...)
		store := New(db)
		batch := benchBatch()
		keys := make([]metrics.Key, 0, len(batch))
		for k := range batch {
			keys = append(keys, k)
		}
		ctx := context.Background()
		now := time.Now()
		pos := uint64(0)
		commit := func(b *testing.B, exposures []metrics.Exposure) {
			if err := store.Commit(ctx, metrics.Batch{Consumer: "bench", From: pos, To: pos + 1, Rollups: batch, Exposures: exposures}, now); err != nil {
				b.Fatal(err)
			}
			pos++
		}
		commit(b, nil)
		for _, withExposures := range []bool{false, true} {
			name := tg.name + "/rollups"
			if withExposures {
				name += "+exposures"
			}
			b.Run(name, func(b *testing.B) {
				for i := range b.N {
					var exposures []metrics.Exposure
					if withExposures {
						exposures = make([]metrics.Exposure, 10_000)
						for j := range exposures {
							exposures[j] = metrics.Exposure{Key: keys[j%len(keys)], CustomerID: fmt.Sprintf("customer-%09d", i*5000+j),
								Impressions: 1, First: now, Last: now}
						}
					}
					commit(b, exposures)
				}
			})
		}
	}
}
