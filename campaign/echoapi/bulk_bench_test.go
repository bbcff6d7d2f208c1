package echoapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// BenchmarkBulkConcurrency pauses 100 campaigns with one bulk request through a handler that
// works on one campaign at a time and 100 others through one that works on four at once, in
// the same iteration (alternating which goes first), on each database; it reports the ratio
// (concurrent / sequential).
//
//	go test ./campaign -run '^$' -bench BulkConcurrency -benchtime 10x
func BenchmarkBulkConcurrency(b *testing.B) {
	for _, tg := range []struct {
		name string
		make func(testing.TB) dbtest.Target
	}{{"sqlite", dbtest.SQLiteTarget}, {"postgres", dbtest.PostgresTarget}} {
		b.Run(tg.name, func(b *testing.B) {
			db := dbtest.Open(b, tg.make(b), sets...)
			svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{AllowUntargeted: true})
			e := echo.New()
			e.Use(httpx.HeaderIdentity())
			logger := slog.New(slog.DiscardHandler)
			echoapi.NewHandler(svc, echoapi.HandlerConfig{Logger: logger, BulkConcurrency: 1}).Register(e.Group("/seq"))
			echoapi.NewHandler(svc, echoapi.HandlerConfig{Logger: logger, BulkConcurrency: 4}).Register(e.Group("/par"))
			srv := httptest.NewServer(e)
			b.Cleanup(srv.Close)
			ctx := context.Background()
			make100 := func(tag string) []campaign.ID {
				ids := make([]campaign.ID, echoapi.MaxBulkIDs)
				for i := range ids {
					in := campaigntest.GoldenInput()
					in.Name, in.StartDate, in.EndDate = fmt.Sprintf("Bench %s %d", tag, i), time.Now().Add(time.Hour), nil
					c, err := svc.Create(ctx, alice, in)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice}); err != nil {
						b.Fatal(err)
					}
					ids[i] = c.ID()
				}
				return ids
			}
			x, y := make100("x"), make100("y")
			send := func(prefix string, ids []campaign.ID, action string) time.Duration {
				quoted := make([]string, len(ids))
				for i, id := range ids {
					quoted[i] = `"` + id.String() + `"`
				}
				req, _ := http.NewRequest(http.MethodPost, srv.URL+prefix+"/campaigns/bulk/"+action,
					strings.NewReader(`{"ids":[`+strings.Join(quoted, ",")+`]}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(httpx.HeaderUserID, uuid.UUID(alice).String())
				start := time.Now()
				resp, err := srv.Client().Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("%s %s: %v %v", prefix, action, err, resp)
				}
				_ = resp.Body.Close()
				return time.Since(start)
			}
			var seq, par time.Duration
			b.ResetTimer()
			for i := range b.N {
				a, c := x, y
				if i%2 == 1 {
					a, c = y, x
				}
				if i%2 == 0 {
					seq += send("/seq", a, "pause")
					par += send("/par", c, "pause")
				} else {
					par += send("/par", c, "pause")
					seq += send("/seq", a, "pause")
				}
				b.StopTimer()
				send("/par", x, "resume")
				send("/par", y, "resume")
				b.StartTimer()
			}
			b.ReportMetric(float64(seq.Milliseconds())/float64(b.N), "seq-ms/100")
			b.ReportMetric(float64(par.Milliseconds())/float64(b.N), "par4-ms/100")
			b.ReportMetric(float64(par)/float64(seq), "par4/seq")
		})
	}
}
