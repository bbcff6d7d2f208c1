package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
)

// legacyVars are the seed service's variables the configuration also reads.
var legacyVars = []string{
	"PORT", "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME", "DB_SSLMODE",
	"NATS_URL", "NATS_USERNAME", "NATS_PASSWORD", "NATS_TOKEN",
	"RULES_SERVICE_URL", "RULES_EVALUATION_URL",
}

// cleanEnv blanks every configuration variable of the surrounding environment (an empty value
// counts as unset) and points the service at a SQLite file in a fresh data directory, which it
// returns.
func cleanEnv(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "CAMPAIGNS_") && !strings.HasPrefix(name, "CAMPAIGNS_TEST_") {
			t.Setenv(name, "")
		}
	}
	for _, name := range legacyVars {
		t.Setenv(name, "")
	}
	dir := t.TempDir()
	t.Setenv("CAMPAIGNS_DATA_DIR", dir)
	t.Setenv("CAMPAIGNS_DATABASE_DRIVER", "sqlite")
	// Never the default ports: another test (or a running service) may hold them.
	t.Setenv("CAMPAIGNS_HTTP_PORT", strconv.Itoa(freePort(t)))
	t.Setenv("CAMPAIGNS_WORKER_PORT", strconv.Itoa(freePort(t)))
	return dir
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// runCmd runs the command to completion and returns its exit code, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func requireOneLine(t *testing.T, s string) {
	t.Helper()
	assert.NotEmpty(t, strings.TrimSpace(s))
	assert.Equal(t, 1, strings.Count(s, "\n"), "want exactly one line, got %q", s)
}

func TestInvalidConfigExits2NamingTheKey(t *testing.T) {
	writeYAML := func(t *testing.T, content string) string {
		p := filepath.Join(t.TempDir(), "config.yaml")
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	// setup adjusts the environment and returns the flags to pass.
	cases := []struct {
		name  string
		setup func(t *testing.T) []string
		key   string
	}{
		{"env port not a number", func(t *testing.T) []string {
			t.Setenv("CAMPAIGNS_HTTP_PORT", "abc")
			return nil
		}, "http.port"},
		{"legacy PORT out of range", func(t *testing.T) []string {
			t.Setenv("CAMPAIGNS_HTTP_PORT", "")
			t.Setenv("PORT", "70000")
			return nil
		}, "http.port"},
		{"unknown driver", func(t *testing.T) []string {
			t.Setenv("CAMPAIGNS_DATABASE_DRIVER", "mysql")
			return nil
		}, "database.driver"},
		{"misspelt variable", func(t *testing.T) []string {
			t.Setenv("CAMPAIGNS_HTTP_PROT", "18102")
			return nil
		}, "environment variable CAMPAIGNS_HTTP_PROT"},
		{"bad value in the CAMPAIGNS_CONFIG file", func(t *testing.T) []string {
			t.Setenv("CAMPAIGNS_CONFIG", writeYAML(t, "log:\n  level: loud\n"))
			return nil
		}, "log.level"},
		{"unknown key in the --config file", func(t *testing.T) []string {
			return []string{"--config", writeYAML(t, "http:\n  prot: 9000\n")}
		}, "http.prot"},
		{"missing --config file", func(*testing.T) []string {
			return []string{"--config", "/nonexistent/campaigns.yaml"}
		}, "/nonexistent/campaigns.yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			flags := tc.setup(t)
			for _, sub := range [][]string{nil, {"migrate", "status"}} {
				code, stdout, stderr := runCmd(t, append(append([]string{}, flags...), sub...)...)
				assert.Equal(t, 2, code, "command %v", sub)
				assert.Empty(t, stdout)
				requireOneLine(t, stderr)
				assert.Contains(t, stderr, "invalid config")
				assert.Contains(t, stderr, tc.key)
			}
		})
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	cleanEnv(t)
	for _, args := range [][]string{
		{"serve"},
		{"migrate"},
		{"migrate", "up", "now"},
		{"migrate", "sideways"},
		{"healthcheck", "now"},
	} {
		code, _, stderr := runCmd(t, args...)
		assert.Equal(t, 2, code, "args %v", args)
		assert.Contains(t, stderr, "usage: campaigns-api", "args %v", args)
	}

	code, _, stderr := runCmd(t, "--no-such-flag")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "no-such-flag")

	code, _, stderr = runCmd(t, "-h")
	assert.Equal(t, 0, code, "asking for help is not an error")
	assert.Contains(t, stderr, "-config")
	for _, sub := range []string{"migrate up|down|status", "healthcheck", "loadtest", "CAMPAIGNS_"} {
		assert.Contains(t, stderr, sub, "--help lists the subcommands and the variables' prefix")
	}

	code, stdout, _ := runCmd(t, "--version")
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(stdout, "campaigns-api "), stdout)
	assert.Contains(t, stdout, "go1.", "the Go version from the build information")
}

func TestMigrateCommands(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		dataDir := cleanEnv(t)
		if target.Name == "postgres" {
			t.Setenv("CAMPAIGNS_DATABASE_DRIVER", "postgres")
			t.Setenv("CAMPAIGNS_DATABASE_URL", target.URL)
		}

		code, stdout, stderr := runCmd(t, "migrate", "status")
		require.Equal(t, 0, code, "stderr: %s", stderr)
		assert.Contains(t, stdout, "campaign")
		assert.Contains(t, stdout, "pending")
		assert.NotContains(t, stdout, "applied")

		code, stdout, stderr = runCmd(t, "migrate", "up")
		require.Equal(t, 0, code, "stderr: %s", stderr)
		assert.Equal(t, "migrations applied\n", stdout)

		code, stdout, _ = runCmd(t, "migrate", "status")
		require.Equal(t, 0, code)
		assert.Contains(t, stdout, "applied")
		assert.NotContains(t, stdout, "pending")

		code, stdout, _ = runCmd(t, "migrate", "up")
		require.Equal(t, 0, code, "a second up is a no-op")
		assert.Equal(t, "migrations applied\n", stdout)

		// Each down rolls back one set, the last applied first.
		for _, set := range []string{"idempotency", "metrics", "outbox", "lifecycle", "campaign"} {
			code, stdout, stderr = runCmd(t, "migrate", "down")
			require.Equal(t, 0, code, "stderr: %s", stderr)
			assert.Equal(t, "rolled back the last migration group of "+set+"\n", stdout)
		}

		code, stdout, _ = runCmd(t, "migrate", "status")
		require.Equal(t, 0, code)
		assert.Contains(t, stdout, "pending")
		assert.NotContains(t, stdout, "applied")

		code, stdout, _ = runCmd(t, "migrate", "down")
		require.Equal(t, 0, code)
		assert.Equal(t, "nothing to roll back\n", stdout)

		code, _, stderr = runCmd(t, "migrate", "sideways")
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "usage")

		if target.Name == "sqlite" {
			// The database lives in the configured data directory.
			_, err := os.Stat(filepath.Join(dataDir, "campaigns.db"))
			assert.NoError(t, err)
		}
	})
}

func TestServeUntilCancelled(t *testing.T) {
	cleanEnv(t)
	port := os.Getenv("CAMPAIGNS_HTTP_PORT")
	base := "http://127.0.0.1:" + port

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr logtest.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, &stdout, &stderr) }()

	client := &http.Client{Timeout: 2 * time.Second}
	waitHealthy(t, client, base, done, &stderr)

	// The container HEALTHCHECK: the same config finds the running API.
	code, _, probeErr := runCmd(t, "healthcheck")
	assert.Equal(t, 0, code, "healthcheck of a serving API: %s", probeErr)

	resp, err := client.Get(base + "/ready")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// The schema was migrated on start (auto_migrate): the API answers from the database.
	resp, err = client.Get(base + "/api/v1/campaigns")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "stderr: %s", stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
	assert.Empty(t, stdout.String())
	assert.Contains(t, stderr.String(), "http shutting down")
	// Start-up says where to go; a clean stop warns about nothing.
	for _, where := range []string{base + "/api/v1", base + "/console", base + "/docs"} {
		assert.Contains(t, stderr.String(), `"`+where+`"`, "the start-up log gives %s", where)
	}
	assert.NotContains(t, stderr.String(), `"level":"WARN"`, "a clean stop: %s", stderr.String())

	_, err = client.Get(base + "/health")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the API still answers after run returned")

	code, _, probeErr = runCmd(t, "healthcheck")
	assert.Equal(t, 1, code, "healthcheck with no API running")
	assert.Contains(t, probeErr, "health probe")
}

func TestServeFailsWhenPortTaken(t *testing.T) {
	cleanEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	t.Setenv("CAMPAIGNS_HTTP_PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr logtest.Buffer
	code := run(ctx, nil, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "listen")
	assert.Contains(t, stderr.String(), "CAMPAIGNS_HTTP_PORT", "the setting to change")
	assert.Equal(t, 1, strings.Count(stderr.String(), "address already in use"), "said once: %s", stderr.String())
	assert.Equal(t, 2, strings.Count(stderr.String(), "\n"), "the configuration, then the error: nothing else started: %s", stderr.String())
}

// waitHealthy polls /health until it answers 200, failing early if run exits.
func waitHealthy(t *testing.T, client *http.Client, base string, done <-chan int, stderr fmt.Stringer) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		resp, err := client.Get(base + "/health")
		if err == nil {
			_ = resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			return
		}
		select {
		case code := <-done:
			t.Fatalf("run exited with %d before serving: %s", code, stderr.String())
		case <-deadline:
			t.Fatalf("no answer on %s/health: %v; stderr: %s", base, err, stderr.String())
		case <-poll.C:
		}
	}
}
