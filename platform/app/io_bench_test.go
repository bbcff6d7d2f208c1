package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// The export and import benchmarks, on SQLite and PostgreSQL (when CAMPAIGNS_TEST_POSTGRES_URL
// is set):
//
//	go test ./platform/app -run '^$' -bench 'Export|Import' -benchtime 1x
//
// BenchmarkExport seeds 10,000 then 100,000 campaigns and exports each set over HTTP
// (JSON Lines and CSV), reporting rows/s and the peak of live heap objects during the export
// above the heap before it (runtime/metrics, sampled every 5 ms; server and client share the
// process, the client discards what it reads). The peak must stay flat between the two sizes.
// Its baseline is the same walk without HTTP (Service.Export into a JSON encoder on
// io.Discard), interleaved. BenchmarkImport imports 10,000 lines in best-effort mode and
// creates another 10,000 campaigns by calling Service.Create in a loop, in interleaved chunks
// of 2,000, and reports lines/s and the ratio.

// benchCampaignRow is a campaigns row as the benchmarks seed it, by bulk inserts (faster
// than the service for 100,000 rows).
type benchCampaignRow struct {
	bun.BaseModel `bun:"table:campaigns"`

	ID                uuid.UUID       `bun:"id,pk"`
	Name              string          `bun:"name"`
	Description       string          `bun:"description"`
	Status            string          `bun:"status"`
	Type              string          `bun:"type"`
	TargetingRules    string          `bun:"targeting_rules"`
	StartDate         time.Time       `bun:"start_date"`
	EndDate           *time.Time      `bun:"end_date"`
	BudgetAmount      decimal.Decimal `bun:"budget_amount"`
	BudgetCurrency    string          `bun:"budget_currency"`
	CreatedBy         uuid.UUID       `bun:"created_by"`
	CreatedAt         time.Time       `bun:"created_at"`
	UpdatedAt         time.Time       `bun:"updated_at"`
	Settings          string          `bun:"settings"`
	Version           int64           `bun:"version"`
	StopCode          string          `bun:"stop_code"`
	TargetingVerified bool            `bun:"targeting_verified"`
}

const benchSettings = `{"targetAudience":["vip"],"channels":["EMAIL","PUSH"],"frequency":"DAILY","maxImpressions":1000,` +
	`"budgetLimit":null,"abTestSettings":{"enabled":true,"variants":[{"key":"A","name":"Control","weight":50},` +
	`{"key":"B","name":"New","weight":50}]},"schedulingRules":[{"days":["MON"],"startTime":"09:00","endTime":"17:00",` +
	`"timezone":"Europe/Paris"}],"personalization":{"enabled":false,"rules":[]}}`

// seedCampaigns inserts campaigns from..to-1 straight into the table, 1,000 per statement.
func seedCampaigns(b testing.TB, db *bun.DB, from, to int) {
	ctx := context.Background()
	start := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for lo := from; lo < to; lo += 1000 {
		rows := make([]benchCampaignRow, 0, 1000)
		for i := lo; i < min(lo+1000, to); i++ {
			rows = append(rows, benchCampaignRow{
				ID: uuid.Must(uuid.NewV7()), Name: fmt.Sprintf("Bench export %06d", i), Description: "seeded",
				Status: "DRAFT", Type: "PROMOTION", TargetingRules: `["` + rule1 + `"]`, StartDate: start,
				BudgetAmount: decimal.RequireFromString("1000.00"), BudgetCurrency: "EUR",
				CreatedBy: uuid.MustParse(userA), CreatedAt: now.Add(time.Duration(i) * time.Microsecond),
				UpdatedAt: now, Settings: benchSettings, Version: 1,
			})
		}
		if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	// Statistics, as autovacuum would gather them: a PostgreSQL planner that believes the
	// table is tiny sorts every match for each page instead of walking the index.
	if _, err := db.ExecContext(ctx, "ANALYZE campaigns"); err != nil {
		b.Fatal(err)
	}
}

// heapPeak samples the live heap until stop is called, and returns the peak above the heap
// at its start (after a GC).
func heapPeak() (stop func() uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		if p := peak.Load(); p > base {
			return p - base
		}
		return 0
	}
}

func benchTargets(b *testing.B, fn func(b *testing.B, target dbtest.Target)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, dbtest.SQLiteTarget(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, dbtest.PostgresTarget(b)) })
}

func BenchmarkExport(b *testing.B) {
	benchTargets(b, func(b *testing.B, target dbtest.Target) {
		s := apptest.New(b, target, apptest.ServerConfig{})
		seeded := 0
		for _, size := range []int{10_000, 100_000} {
			seedCampaigns(b, s.API.DB, seeded, size)
			seeded = size
			for _, format := range []string{"jsonl", "csv"} {
				b.Run(fmt.Sprintf("%s/%d", format, size), func(b *testing.B) {
					var httpTime, directTime time.Duration
					var peak uint64
					for range b.N {
						stop := heapPeak()
						t0 := time.Now()
						n := exportOverHTTP(b, s, format)
						httpTime += time.Since(t0)
						peak = max(peak, stop())
						if n != size {
							b.Fatalf("exported %d campaigns, want %d", n, size)
						}
						t0 = time.Now()
						exportDirect(b, s)
						directTime += time.Since(t0)
					}
					rows := float64(size * b.N)
					b.ReportMetric(rows/httpTime.Seconds(), "rows/s")
					b.ReportMetric(rows/directTime.Seconds(), "direct-rows/s")
					b.ReportMetric(directTime.Seconds()/httpTime.Seconds(), "ratio")
					b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
				})
			}
		}
	})
}

// exportOverHTTP streams an export to io.Discard and counts its rows.
func exportOverHTTP(b *testing.B, s *apptest.Server, format string) int {
	req, err := http.NewRequest(http.MethodGet, s.URL+"/api/v1/campaigns/export?format="+format, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("X-User-ID", userA)
	resp, err := s.Client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("export: %d", resp.StatusCode)
	}
	lines := &lineCounter{}
	if _, err := io.Copy(lines, resp.Body); err != nil {
		b.Fatal(err)
	}
	if format == "csv" {
		return lines.n - 1
	}
	return lines.n
}

type lineCounter struct{ n int }

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// exportDirect is the baseline: the same page walk and JSON encoding, without HTTP.
func exportDirect(b *testing.B, s *apptest.Server) {
	enc := json.NewEncoder(io.Discard)
	now := time.Now()
	err := s.API.Campaigns.Export(context.Background(), campaign.Filter{Sort: campaign.SortCreatedAt, Desc: true},
		func(page []*campaign.View) error {
			for _, c := range page {
				if err := enc.Encode(campaignapi.NewResponse(c, now)); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		b.Fatal(err)
	}
}

func BenchmarkImport(b *testing.B) {
	benchTargets(b, func(b *testing.B, target dbtest.Target) {
		s := apptest.New(b, target, apptest.ServerConfig{})
		const lines, chunk = 10_000, 2_000
		round := 0
		b.ResetTimer()
		var httpTime, directTime time.Duration
		for range b.N {
			round++
			for c := 0; c < lines/chunk; c++ {
				var file strings.Builder
				ins := make([]campaign.Input, chunk)
				for i := range chunk {
					body := validBody(fmt.Sprintf("Bench import %d-%d-%d", round, c, i))
					file.Write(mustJSONB(b, body))
					file.WriteByte('\n')
					ins[i] = benchInput(fmt.Sprintf("Bench direct %d-%d-%d", round, c, i))
				}
				t0 := time.Now()
				req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/campaigns/import?mode=best-effort", strings.NewReader(file.String()))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-ndjson")
				req.Header.Set("X-User-ID", userA)
				resp, err := s.Client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				var rep struct{ Summary struct{ Created int } }
				err = json.NewDecoder(resp.Body).Decode(&rep)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || rep.Summary.Created != chunk {
					b.Fatalf("import: %d, created %d, %v", resp.StatusCode, rep.Summary.Created, err)
				}
				httpTime += time.Since(t0)

				t0 = time.Now()
				ctx := context.Background()
				for _, in := range ins {
					if _, err := s.API.Campaigns.Create(ctx, campaign.UserID(uuid.MustParse(userA)), in); err != nil {
						b.Fatal(err)
					}
				}
				directTime += time.Since(t0)
			}
		}
		n := float64(lines * b.N)
		b.ReportMetric(n/httpTime.Seconds(), "lines/s")
		b.ReportMetric(n/directTime.Seconds(), "direct-creates/s")
		b.ReportMetric(directTime.Seconds()/httpTime.Seconds(), "ratio")
	})
}

// benchInput is validBody as a domain input (the direct loop's campaign).
func benchInput(name string) campaign.Input {
	start := time.Now().Add(24 * time.Hour).UTC()
	end := time.Now().Add(30 * 24 * time.Hour).UTC()
	return campaign.Input{
		Name: name, Description: "Spring promotion for loyal customers", Type: campaign.TypePromotion,
		TargetingRules: []campaign.RuleID{campaign.RuleID(uuid.MustParse(rule1))},
		StartDate:      start, EndDate: &end, Budget: campaign.MustMoney("10000.00", "EUR"),
		Settings: campaign.Settings{
			TargetAudience: []string{"vip", "newsletter"}, Channels: []campaign.Channel{campaign.ChannelEmail, campaign.ChannelPush},
			Frequency: campaign.FrequencyWeekly,
			ABTest: &campaign.ABTestSettings{Enabled: true, Variants: []campaign.Variant{
				{Key: "A", Name: "Control", Weight: 50}, {Key: "B", Name: "Bold", Weight: 50}}},
			SchedulingRules: []campaign.SchedulingRule{{Days: []string{"MON", "FRI"}, Start: "09:00", End: "18:00", Timezone: "Europe/Madrid"}},
		},
	}
}

func mustJSONB(b *testing.B, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
