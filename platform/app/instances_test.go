package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Two instances in one process share nothing: no globals, no shared registries or stores.
func TestTwoIndependentInstances(t *testing.T) {
	t.Parallel()
	one := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	two := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(c *config.Config) { c.HTTP.BodyLimit = 1024 }})

	c := create(t, one, validBody("Only In One"))
	requireProblem(t, two.Do(http.MethodGet, "/api/v1/campaigns/"+c["id"].(string), nil), http.StatusNotFound)

	// The same name is free in the other instance.
	r := two.Do(http.MethodPost, "/api/v1/campaigns", validBody("Only In One"), asUserA...)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)

	// Each instance keeps its own configuration.
	big := validBody("Big Body")
	big["description"] = strings.Repeat("x", 900)
	for i := range 5 {
		big["settings"].(map[string]any)["targetAudience"] = append(big["settings"].(map[string]any)["targetAudience"].([]string), "segment-padding-padding-padding-"+string(rune('a'+i)))
	}
	requireProblem(t, two.Do(http.MethodPost, "/api/v1/campaigns", big, asUserA...), http.StatusRequestEntityTooLarge)
	assert.NotEqual(t, http.StatusRequestEntityTooLarge, one.Do(http.MethodPost, "/api/v1/campaigns", big, asUserA...).Status)
}
