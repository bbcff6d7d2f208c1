// Package enginetest is a fake ENGINE-RULES-SP Rules Engine for tests: an httptest server that
// speaks the real contract (GET /api/v1/rules/{id}, POST /v1/evaluate) as the real services
// answer it:
//
//   - a rule it does not know: 404 with the JSON {"error": "Resource not found", "message": ...};
//     a path it does not serve: 404 with the plain text "404 page not found" (what a wrong base
//     URL gets);
//   - evaluation by rule_category: PROMOTIONS answers {"eligible": ...}: the real DSL
//     "IF order.amount > 100 THEN discount.percentage = 10" holds when the context's
//     order_amount (a number) is above the threshold ({"eligible": true,
//     "discount_percentage": 10}; without order_amount {"eligible": false, "reason": ...});
//     as a stand-in for tests, "<key> == <value>" holds when the context has that member.
//     TAXES answers {"tax_rate": 0.21} (no eligible). Any other category: 500, as the real
//     engine has no strategy for it.
package enginetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
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
	// zero); EvalFailures, that many next evaluations only.
	Failures      atomic.Int32
	EvalFailures  atomic.Int32
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

// The rule categories of the Rules Engine.
const (
	Promotions = "PROMOTIONS"
	Taxes      = "TAXES"
)

// AddRule stores a PROMOTIONS rule with a status and a DSL ("segment == vip"), and returns its
// id.
func (e *Engine) AddRule(status, dsl string) uuid.UUID {
	return e.AddRuleIn(Promotions, status, dsl)
}

// AddRuleIn stores a rule of a category and returns its id.
func (e *Engine) AddRuleIn(category, status, dsl string) uuid.UUID {
	id := uuid.New()
	e.SetRuleIn(id, category, status, dsl)
	return id
}

// SetRule stores (or replaces) a PROMOTIONS rule.
func (e *Engine) SetRule(id uuid.UUID, status, dsl string) {
	e.SetRuleIn(id, Promotions, status, dsl)
}

// SetRuleIn stores (or replaces) a rule of a category.
func (e *Engine) SetRuleIn(id uuid.UUID, category, status, dsl string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC3339)
	e.rules[id.String()] = map[string]any{
		"id": id.String(), "name": "rule " + id.String()[:8], "description": "", "dsl_content": dsl,
		"status": status, "priority": "MEDIUM", "version": 1, "category": category,
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
	isEval := r.Method == http.MethodPost && r.URL.Path == "/v1/evaluate"
	if e.Failures.Add(-1) >= 0 || isEval && e.EvalFailures.Add(-1) >= 0 {
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
			_, _ = w.Write([]byte(`{"error":"Resource not found","message":"rule not found"}`))
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
		result, status := evaluate(req.RuleCategory, req.DSLContent, req.Context)
		if status != http.StatusOK {
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(result)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"result": result})
	default:
		w.Header().Del("Content-Type")
		http.NotFound(w, r) // text/plain "404 page not found", as the real services' router
	}
}

// evaluate answers an evaluation as the real engine's strategies do (see the package comment).
func evaluate(category, dsl string, evalContext map[string]any) (map[string]any, int) {
	switch category {
	case Promotions:
		if strings.Contains(dsl, "order.amount >") {
			return promotion(dsl, evalContext)
		}
		key, want, _ := strings.Cut(dsl, " == ")
		got, _ := evalContext[strings.TrimSpace(key)].(string)
		return map[string]any{"eligible": got == strings.TrimSpace(want), "matched": dsl, "discount": 10}, http.StatusOK
	case Taxes:
		return map[string]any{"tax_rate": 0.21}, http.StatusOK
	default:
		return map[string]any{"error": "no evaluation strategy for category " + category}, http.StatusInternalServerError
	}
}

// promotion evaluates "IF order.amount > <threshold> THEN discount.percentage = <n>".
func promotion(dsl string, evalContext map[string]any) (map[string]any, int) {
	amount, ok := evalContext["order_amount"].(float64)
	if !ok {
		return map[string]any{"eligible": false, "reason": "Missing order_amount in context"}, http.StatusOK
	}
	_, rest, _ := strings.Cut(dsl, "order.amount >")
	threshold, err := strconv.ParseFloat(strings.Fields(rest + " x")[0], 64)
	if err != nil {
		return map[string]any{"error": "invalid promotions DSL"}, http.StatusInternalServerError
	}
	if amount <= threshold {
		return map[string]any{"eligible": false}, http.StatusOK
	}
	discount := 0.0
	if _, d, found := strings.Cut(dsl, "= "); found {
		discount, _ = strconv.ParseFloat(strings.TrimSpace(d), 64)
	}
	return map[string]any{"eligible": true, "discount_percentage": discount}, http.StatusOK
}

// BenchmarkRoundTrip is the baseline of the eligibility benchmarks: one evaluation at a time
// on a keep-alive connection, reported as round-trips/s.
func (e *Engine) BenchmarkRoundTrip(b *testing.B) {
	body := []byte(`{"rule_category":"PROMOTIONS","dsl_content":"segment == vip","context":{"segment":"vip"}}`)
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
