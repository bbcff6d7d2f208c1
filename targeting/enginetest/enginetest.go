// Package enginetest is a fake ENGINE-RULES-SP Rules Engine for tests: an httptest server that
// speaks the real contract (GET /api/v1/rules/{id}, POST /api/v1/rules, POST /v1/evaluate) as
// the published services answer it, failures included, so that a test that passes here passes
// against the real engine (targeting's contract test runs the same cases against both):
//
//   - create (POST /api/v1/rules): 201 {"rule_id", "name", "status": "DRAFT", "version": 1};
//     a body that does not bind or a DSL without IF/THEN: 400 {"error", "message"}. The real
//     management service has no route that makes a rule ACTIVE: tests use SetRule.
//   - a rule it does not know: 404 with the JSON {"error": "Resource not found", "message": ...};
//     a path it does not serve: 404 with the plain text "404 page not found" (what a wrong base
//     URL gets). With EmptyRuleGet, GET answers 200 {} as the published rules-management does.
//   - evaluation by rule_category, as the real strategies: PROMOTIONS runs only the DSL
//     "IF order.amount > <threshold> THEN discount.percentage = <n>": without the text
//     "order.amount >" it answers 500 {"error": "invalid promotions DSL: missing 'order.amount >'"}
//     (so "segment == vip" or "IF customer.tier == gold ..." fail); a missing or non-numeric
//     order_amount is 200 {"eligible": false, "reason": "Missing order_amount in context"};
//     above the threshold {"eligible": true, "discount_percentage": n}. TAXES answers
//     {"tax_rate": 0.21} (no eligible). Any other category: 500 {"error": "no evaluation
//     strategy found for category: X"}. A body without rule_category, dsl_content or context:
//     400 {"error": "invalid request body", "message": ...}. 500 bodies carry only "error".
package enginetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
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
	// EmptyRuleGet reproduces the published rules-management's defect: GET of a rule it
	// knows answers 200 {} (its handler serializes a struct whose fields are unexported).
	EmptyRuleGet atomic.Bool
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

// PromotionDSL is a DSL the real PROMOTIONS strategy runs: eligible when the context's
// order_amount is above 100.
const PromotionDSL = "IF order.amount > 100 THEN discount.percentage = 10"

// BigOrderDSL is another runnable PROMOTIONS DSL: eligible when order_amount is above 1000
// (so that an order_amount of 150 meets PromotionDSL and not this one).
const BigOrderDSL = "IF order.amount > 1000 THEN discount.percentage = 20"

// AnyOrderDSL is a runnable PROMOTIONS DSL that holds for any positive order_amount.
const AnyOrderDSL = "IF order.amount > 0 THEN discount.percentage = 5"

// AddRule stores a PROMOTIONS rule with a status and a DSL (PromotionDSL, say), and returns
// its id.
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

// Rename gives a stored rule another name.
func (e *Engine) Rename(id uuid.UUID, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.rules[id.String()]; ok {
		r["name"] = name
	}
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
		if e.EmptyRuleGet.Load() {
			_, _ = w.Write([]byte(`{}`))
			return
		}
		_ = json.NewEncoder(w).Encode(rule)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/rules":
		e.create(w, r)
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
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid request body", "message": err.Error()})
			return
		}
		if field := missingField(map[string]bool{"RuleCategory": req.RuleCategory != "",
			"DSLContent": req.DSLContent != "", "Context": req.Context != nil}); field != "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid request body",
				"message": "Key: 'EvaluationRequest." + field + "' Error:Field validation for '" + field + "' failed on the 'required' tag"})
			return
		}
		result, err := evaluate(req.RuleCategory, req.DSLContent, req.Context)
		if err != "" {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"result": result})
	default:
		w.Header().Del("Content-Type")
		http.NotFound(w, r) // text/plain "404 page not found", as the real services' router
	}
}

// missingField names the first of the gin binding's required fields that is absent.
func missingField(present map[string]bool) string {
	for _, f := range []string{"RuleCategory", "DSLContent", "Context"} {
		if !present[f] {
			return f
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// create stores a DRAFT rule as rules-management's POST /api/v1/rules does.
func (e *Engine) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		DSLContent  string   `json:"dsl_content"`
		Priority    string   `json:"priority"`
		Category    string   `json:"category"`
		Tags        []string `json:"tags"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid request body", "message": err.Error()})
		return
	}
	switch {
	case req.Name == "", req.DSLContent == "", !slices.Contains([]string{"LOW", "MEDIUM", "HIGH", "CRITICAL"}, req.Priority):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid request body",
			"message": "name, dsl_content and priority (LOW, MEDIUM, HIGH or CRITICAL) are required"})
		return
	case !strings.Contains(req.DSLContent, "IF") || !strings.Contains(req.DSLContent, "THEN"):
		// The management validator only looks for IF and THEN: it accepts DSL the evaluator
		// cannot run.
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Validation failed",
			"message": "DSL validation failed: DSL is missing 'IF' or 'THEN' keyword"})
		return
	}
	id := uuid.New()
	e.SetRuleIn(id, req.Category, "DRAFT", req.DSLContent)
	writeJSON(w, http.StatusCreated, map[string]any{"rule_id": id.String(), "name": req.Name, "status": "DRAFT", "version": 1})
}

// evaluate answers an evaluation as the real engine's strategies do (see the package comment):
// a result, or the error text of its 500.
func evaluate(category, dsl string, evalContext map[string]any) (map[string]any, string) {
	switch category {
	case Promotions:
		return promotion(dsl, evalContext)
	case Taxes:
		return map[string]any{"tax_rate": 0.21}, ""
	default:
		return nil, "no evaluation strategy found for category: " + category
	}
}

// promotion runs "IF order.amount > <threshold> THEN discount.percentage = <n>" step by step
// as the real PROMOTIONS strategy does: the DSL check first, then the context, then the
// threshold and the discount (so that a bad threshold only fails with an order_amount).
func promotion(dsl string, evalContext map[string]any) (map[string]any, string) {
	if !strings.Contains(dsl, "order.amount >") {
		return nil, "invalid promotions DSL: missing 'order.amount >'"
	}
	amount, ok := evalContext["order_amount"].(float64)
	if !ok {
		return map[string]any{"eligible": false, "reason": "Missing order_amount in context"}, ""
	}
	_, rest, _ := strings.Cut(dsl, ">")
	var threshold float64
	if _, err := fmt.Sscanf(strings.Split(strings.TrimSpace(rest), " ")[0], "%f", &threshold); err != nil {
		return nil, "invalid threshold in promotions DSL: " + err.Error()
	}
	if amount <= threshold {
		return map[string]any{"eligible": false}, ""
	}
	_, d, found := strings.Cut(dsl, "= ")
	if !found {
		return nil, "invalid promotions DSL: missing discount value"
	}
	var discount float64
	if _, err := fmt.Sscanf(strings.TrimSpace(d), "%f", &discount); err != nil {
		return nil, "invalid discount in promotions DSL: " + err.Error()
	}
	return map[string]any{"eligible": true, "discount_percentage": discount}, ""
}

// BenchmarkRoundTrip is the baseline of the eligibility benchmarks: one evaluation at a time
// on a keep-alive connection, reported as round-trips/s.
func (e *Engine) BenchmarkRoundTrip(b *testing.B) {
	body := []byte(`{"rule_category":"PROMOTIONS","dsl_content":"` + PromotionDSL + `","context":{"order_amount":150}}`)
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
