// Package enginetest is a fake ENGINE-RULES-SP Rules Engine for tests: an httptest server that
// speaks the real contract (GET /api/v1/rules/{id}, POST /v1/evaluate). Its rules' DSL is a
// tiny stand-in: "<key> == <value>" holds when the evaluation context has that member.
package enginetest

import (
	"encoding/json"
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

	// Failures, when positive, makes that many next requests answer 503.
	Failures atomic.Int32
	// Delay holds every answer this long.
	Delay atomic.Int64
	// RuleBody, when set, replaces the body of every rule answer (malformed answers).
	RuleBody atomic.Pointer[string]
	// Gets and Evaluations count the requests served.
	Gets, Evaluations atomic.Int64
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
	if d := time.Duration(e.Delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if e.Failures.Add(-1) >= 0 {
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
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
