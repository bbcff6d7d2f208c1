package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// The load benchmarks' ratios (HotReads, HotTrack) move with the machine by more than most
// changes are worth. These call each side's handler in the process instead, one request after
// the other, without the network and without the load, and report what a request costs the
// process: CPU time (user and system, the collector's and the embedded NATS server's
// included) per request, and allocations.
//
//	CAMPAIGNS_TEST_POSTGRES_URL=... go test ./platform/app -run '^$' -bench RequestCPU -benchtime 5000x

// BenchmarkRequestCPUGet: GET a campaign through the API as production configures it and through
// the hand-written baseline of BenchmarkHotReads.
func BenchmarkRequestCPUGet(b *testing.B) {
	env := hotSetup(b, "postgres")
	product, closeProduct := startProduct(b, env.target)
	defer closeProduct()
	baseline, closeBaseline := startBaseline(b, env.target)
	defer closeBaseline()
	get := func(side *hotSide) func(i int) *http.Request {
		return func(i int) *http.Request {
			req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/v1/campaigns/"+env.hot[i%len(env.hot)].String(), nil)
			if side.tokens != nil {
				req.Header.Set("Authorization", "Bearer "+side.tokens[i%len(side.tokens)])
			}
			return req
		}
	}
	cpuSides(b, http.StatusOK,
		cpuSide{"api", product.handler, get(product)},
		cpuSide{"base", baseline.handler, get(baseline)})
}

// BenchmarkRequestCPUTrack: POST one event to /track through the API and through rawTrackHandler
// (the bare publish of BenchmarkHotTrack), on PostgreSQL and JetStream.
func BenchmarkRequestCPUTrack(b *testing.B) {
	ns := natstest.NewServer(b)
	s := apptest.New(b, dbtest.PostgresTarget(b), apptest.ServerConfig{Configure: hotConfigure(ns.URL())})
	ids := hotActiveCampaigns(b, s, 100)
	_, js := connectNATS(b, ns.URL())
	post := func(url, eventID string) *http.Request {
		body := fmt.Appendf(nil, `{"eventId":%q,"type":"CLICK","variant":"A","channel":"EMAIL"}`, eventID)
		req := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", hotAPIKey)
		return req
	}
	cpuSides(b, http.StatusAccepted,
		cpuSide{"api", s.API.Handler(), func(i int) *http.Request {
			return post("http://127.0.0.1/api/v1/campaigns/"+ids[i%len(ids)]+"/track", uuid.NewString())
		}},
		cpuSide{"raw", rawTrackHandler(js, s.API.Config.Metrics.Partitions), func(i int) *http.Request {
			eid := uuid.NewString()
			req := post("http://127.0.0.1/?campaign="+ids[i%len(ids)], eid)
			req.Header.Set("X-Event-ID", eid)
			return req
		}})
}

type cpuSide struct {
	name    string
	handler http.Handler
	request func(i int) *http.Request
}

// cpuSides runs each side as a sub-benchmark, checking every answer's status.
func cpuSides(b *testing.B, status int, sides ...cpuSide) {
	for _, side := range sides {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			defer cpuPerOp(b)()
			for b.Loop() {
				rec := httptest.NewRecorder()
				side.handler.ServeHTTP(rec, side.request(i))
				i++
				if rec.Code != status {
					b.Fatalf("%s: %d %s", side.name, rec.Code, rec.Body)
				}
			}
		})
	}
}

// cpuPerOp reports, when the returned func runs, the process's CPU time (user and system) per
// operation since it was called.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
	}
}
