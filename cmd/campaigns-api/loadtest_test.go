package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// "loadtest" is a client of another deployment: the service's own configuration (invalid
// here) plays no part, and its flags are its own.
func TestLoadtestSubcommand(t *testing.T) {
	cleanEnv(t)
	code, _, stderr := runCmd(t, "serve")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "campaigns-api loadtest [flags]", "the usage names the subcommand")

	t.Setenv("CAMPAIGNS_HTTP_PORT", "not-a-port")
	code, stdout, stderr := runCmd(t, "loadtest", "-url", "ftp://127.0.0.1:8080")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "-url must be an http or https URL")
	assert.NotContains(t, stderr, "http.port")
	assert.Empty(t, stdout)

	code, _, stderr = runCmd(t, "loadtest", "-duration", "1h")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "-duration must be above 0 and at most 10m0s")

	code, _, stderr = runCmd(t, "loadtest", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "usage: campaigns-api loadtest")

	s := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	code, stdout, stderr = runCmd(t, "loadtest", "-url", s.URL, "-duration", "1s", "-rate", "100",
		"-campaigns", "2", "-json")
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var rep struct {
		Total struct {
			Requests    int            `json:"requests"`
			StatusCodes map[string]int `json:"statusCodes"`
			Latency     map[string]any `json:"latencyMs"`
		} `json:"total"`
		Operations []struct {
			Op       string `json:"op"`
			Requests int    `json:"requests"`
		} `json:"operations"`
		Deleted *int `json:"deleted"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), stdout)
	assert.Positive(t, rep.Total.Requests)
	assert.Len(t, rep.Operations, 7)
	for _, k := range []string{"p50", "p90", "p99", "max"} {
		assert.Contains(t, rep.Total.Latency, k)
	}
	require.NotNil(t, rep.Deleted)
	assert.Positive(t, *rep.Deleted)
	assert.Contains(t, stderr, "creating 10 fixture campaigns")
}
