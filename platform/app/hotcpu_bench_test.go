package app_test

import (
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHotGetCPU: GET a campaign through each side of BenchmarkHotReads (the API as
// production configures it, and the hand-written baseline) called in the process, one request
// after the other, without the network. It reports what the requests cost the process in CPU
// (cpu-µs/op: user and system time, the collector's included) and allocations: the load
// benchmark's ratio moves with the machine, this does not.
//
//	CAMPAIGNS_TEST_POSTGRES_URL=... go test ./platform/app -run '^$' -bench HotGetCPU -benchtime 5000x -count 3
func BenchmarkHotGetCPU(b *testing.B) {
	env := hotSetup(b, "postgres")
	product, closeProduct := startProduct(b, env.target)
	defer closeProduct()
	baseline, closeBaseline := startBaseline(b, env.target)
	defer closeBaseline()
	for _, side := range []struct {
		name string
		side *hotSide
	}{{"api", product}, {"base", baseline}} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			defer cpuPerOp(b)()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/v1/campaigns/"+env.hot[i%len(env.hot)].String(), nil)
				if side.side.tokens != nil {
					req.Header.Set("Authorization", "Bearer "+side.side.tokens[i%len(side.side.tokens)])
				}
				i++
				rec := httptest.NewRecorder()
				side.side.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET: %d %s", rec.Code, rec.Body)
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
