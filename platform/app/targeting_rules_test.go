package app_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// TestTargetingRuleNames: GET /targeting/rules?id=... names the rules the Rules Engine knows,
// without their DSL, and lists the other ids as unresolved (all of them without a Rules
// Engine); bad ids are a 400, an engine that cannot answer a 503 with Retry-After.
func TestTargetingRuleNames(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: withEngine(e)})
	id := e.AddRule("ACTIVE", enginetest.PromotionDSL)
	e.Rename(id, "Loyal customers in Spain")
	unknown := uuid.NewString()

	r := s.Do(http.MethodGet, "/api/v1/targeting/rules?id="+unknown+"&id="+id.String(), nil, asUserA...)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, map[string]any{
		"rules":      []any{map[string]any{"id": id.String(), "name": "Loyal customers in Spain", "status": "ACTIVE", "category": "PROMOTIONS"}},
		"unresolved": []any{unknown},
	}, r.Map(t))

	for _, q := range []string{"", "?id=not-a-uuid", "?id=" + id.String() + "&full=true"} {
		requireProblem(t, s.Do(http.MethodGet, "/api/v1/targeting/rules"+q, nil, asUserA...), http.StatusBadRequest)
	}
	many := ""
	for range 101 {
		many += "&id=" + uuid.NewString()
	}
	requireProblem(t, s.Do(http.MethodGet, "/api/v1/targeting/rules?"+many[1:], nil, asUserA...), http.StatusBadRequest)

	e.Failures.Store(1000)
	down := s.Do(http.MethodGet, "/api/v1/targeting/rules?id="+uuid.NewString(), nil, asUserA...)
	p := requireProblem(t, down, http.StatusServiceUnavailable)
	assert.Equal(t, "urn:campaigns:problem:rules-engine-unavailable", p["type"])
	assert.NotEmpty(t, down.Header.Get("Retry-After"))

	none := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	r = none.Do(http.MethodGet, "/api/v1/targeting/rules?id="+id.String(), nil, asUserA...)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, map[string]any{"rules": []any{}, "unresolved": []any{id.String()}}, r.Map(t))
}
