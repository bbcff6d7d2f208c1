// Package enginetest is a fake ENGINE-RULES-SP Rules Engine for tests: an httptest server that
// speaks the real contract (GET /api/v1/rules/{id}, POST /v1/evaluate). Its rules' DSL is a
// tiny stand-in: "<key> == <value>" holds when the evaluation context has that member.
package enginetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Engine is a running fake Rules Engine.
type Engine struct {
	URL string

	mu    sync.Mutex
	rules map[string]map[string]any

	// Failures, when positive, makes that many next requests answer FailureStatus (503 when
	// zero).
	Failures      atomic.Int32
	FailureStatus atomic.Int32
	// Delay holds every answer this long.
	Delay atomic.Int64
	// RuleBody and EvalBody, when set, replace the body of every rule or evaluation answer
	// (malformed answers).
	RuleBody, EvalBody atomic.Pointer[string]
	// Authorization and RequestID are the headers of the last request.
	Authorization, RequestID atomic.Pointer[string]
	// Gets and Evaluations count the requests served.
	Gets, Evaluations atomic.Int64
	// MaxInFlight is the most requests the engine has served at once.
	MaxInFlight atomic.Int64
	inFlight    atomic.Int64
}

// New starts a fake engine, closed when the test ends.
func New(t testing.TB) *Engine {
	e := &Engine{rules: map[string]map[string]any{}}
	srv := httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

// AddRule stores a rule with a status and a DSL ("segment == vip"), and returns its id.
func (e *Engine) AddRule(status, dsl string) uuid.UUID {
	id := uuid.New()
	e.SetRule(id, status, dsl)
	return id
}

// SetRule stores (or replaces) a rule.
func (e *Engine) SetRule(id uuid.UUID, status, dsl string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC3339)
	e.rules[id.String()] = map[string]any{
		"id": id.String(), "name": "rule " + id.String()[:8], "description": "", "dsl_content": dsl,
		"status": status, "priority": "MEDIUM", "version": 1, "category": "targeting",
		"tags": []string{}, "created_by": "tests", "created_at": now, "updated_at": now,
	}
}

func (e *Engine) serve(w http.ResponseWriter, r *http.Request) {
	n := e.inFlight.Add(1)
	defer e.inFlight.Add(-1)
	for m := e.MaxInFlight.Load(); n > m && !e.MaxInFlight.CompareAndSwap(m, n); m = e.MaxInFlight.Load() {
	}
	if d := time.Duration(e.Delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	auth, rid := r.Header.Get("Authorization"), r.Header.Get("X-Request-ID")
	e.Authorization.Store(&auth)
	e.RequestID.Store(&rid)
	if e.Failures.Add(-1) >= 0 {
		status := int(e.FailureStatus.Load())
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		http.Error(w, `{"error":"failure"}`, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/rules/"):
		e.Gets.Add(1)
		if body := e.RuleBody.Load(); body != nil {
			_, _ = w.Write([]byte(*body))
			return
		}
		e.mu.Lock()
		rule, ok := e.rules[strings.TrimPrefix(r.URL.Path, "/api/v1/rules/")]
		e.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"rule not found"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(rule)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/evaluate":
		e.Evaluations.Add(1)
		if body := e.EvalBody.Load(); body != nil {
			_, _ = w.Write([]byte(*body))
			return
		}
		var req struct {
			RuleCategory string         `json:"rule_category"`
			DSLContent   string         `json:"dsl_content"`
			Context      map[string]any `json:"context"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.DSLContent == "" {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		key, want, _ := strings.Cut(req.DSLContent, " == ")
		got, _ := req.Context[strings.TrimSpace(key)].(string)
		eligible := got == strings.TrimSpace(want)
		_ = json.NewEncoder(w).Encode(map[string]any{"result": map[string]any{
			"eligible": eligible, "matched": req.DSLContent, "discount": 10,
		}})
	default:
		http.NotFound(w, r)
	}
}

// BenchmarkRoundTrip is the baseline of the eligibility benchmarks: one evaluation at a time
// on a keep-alive connection, reported as round-trips/s.
func (e *Engine) BenchmarkRoundTrip(b *testing.B) {
	body := []byte(`{"rule_category":"targeting","dsl_content":"segment == vip","context":{"segment":"vip"}}`)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		resp, err := client.Post(e.URL+"/v1/evaluate", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "round-trips/s")
}
