package main

import (
	"bytes"
	"context"
	"io"
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

	"github.com/engine-rules-sp/campaigns/platform/datadir"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
)

// legacyVars are the seed service's variables the configuration also reads.
var legacyVars = []string{
	"PORT", "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME", "DB_SSLMODE",
	"NATS_URL", "NATS_USERNAME", "NATS_PASSWORD", "NATS_TOKEN",
	"RULES_SERVICE_URL", "RULES_EVALUATION_URL",
}

// cleanEnv blanks every configuration variable of the surrounding environment (an empty value
// counts as unset), points the worker at a SQLite file in a fresh data directory and gives it
// free ports. It returns the worker's port.
func cleanEnv(t *testing.T) int {
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
	t.Setenv("CAMPAIGNS_DATA_DIR", t.TempDir())
	t.Setenv("CAMPAIGNS_DATABASE_DRIVER", "sqlite")
	t.Setenv("CAMPAIGNS_HTTP_PORT", strconv.Itoa(freePort(t)))
	port := freePort(t)
	t.Setenv("CAMPAIGNS_WORKER_PORT", strconv.Itoa(port))
	return port
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

func TestWorkerServesHealthAndStopsOnCancel(t *testing.T) {
	port := cleanEnv(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr logtest.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, io.Discard, &stderr) }()

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.After(20 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for serving := false; !serving; {
		resp, err := client.Get(base + "/health")
		if err == nil {
			_ = resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			serving = true
			continue
		}
		select {
		case code := <-done:
			t.Fatalf("worker exited with %d before serving: %s", code, stderr.String())
		case <-deadline:
			t.Fatalf("no answer on %s/health: %v; stderr: %s", base, err, stderr.String())
		case <-poll.C:
		}
	}

	resp, err := client.Get(base + "/ready")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// The container HEALTHCHECK probes the worker's own port, from the same config.
	var probeErr bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), []string{"healthcheck"}, io.Discard, &probeErr), probeErr.String())

	// The worker's listener is its own: the API port stays free.
	apiPort := os.Getenv("CAMPAIGNS_HTTP_PORT")
	_, err = client.Get("http://127.0.0.1:" + apiPort + "/health")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the worker serves on the API port")

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "stderr: %s", stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not return after its context was cancelled")
	}
	assert.Contains(t, stderr.String(), "starting campaigns worker")

	_, err = client.Get(base + "/health")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the worker still answers after run returned")

	probeErr.Reset()
	assert.Equal(t, 1, run(context.Background(), []string{"healthcheck"}, io.Discard, &probeErr))
	assert.Contains(t, probeErr.String(), "health probe")
}

func TestWorkerBadConfigExits2(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) []string
		key   string
	}{
		{"worker port not a number", func(t *testing.T) []string {
			t.Setenv("CAMPAIGNS_WORKER_PORT", "abc")
			return nil
		}, "worker.port"},
		{"worker port out of range", func(t *testing.T) []string {
			t.Setenv("CAMPAIGNS_WORKER_PORT", "0")
			return nil
		}, "worker.port"},
		{"bad value in the --config file", func(t *testing.T) []string {
			p := filepath.Join(t.TempDir(), "worker.yaml")
			require.NoError(t, os.WriteFile(p, []byte("log:\n  format: xml\n"), 0o600))
			return []string{"--config", p}
		}, "log.format"},
		{"missing CAMPAIGNS_CONFIG file", func(t *testing.T) []string {
			t.Setenv("CAMPAIGNS_CONFIG", "/nonexistent/worker.yaml")
			return nil
		}, "/nonexistent/worker.yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			var stderr bytes.Buffer
			code := run(context.Background(), tc.setup(t), io.Discard, &stderr)
			assert.Equal(t, 2, code)
			out := stderr.String()
			assert.Equal(t, 1, strings.Count(out, "\n"), "want exactly one line, got %q", out)
			assert.Contains(t, out, "invalid config")
			assert.Contains(t, out, tc.key)
		})
	}
}

func TestWorkerUsage(t *testing.T) {
	cleanEnv(t)
	var stderr bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"extra"}, io.Discard, &stderr))
	assert.Contains(t, stderr.String(), "usage: campaigns-worker")

	stderr.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"--bogus"}, io.Discard, &stderr))
	assert.Contains(t, stderr.String(), "bogus")

	stderr.Reset()
	assert.Equal(t, 0, run(context.Background(), []string{"-help"}, io.Discard, &stderr))
	assert.Contains(t, stderr.String(), "-config")
	assert.Contains(t, stderr.String(), "healthcheck", "the subcommands")
	assert.Contains(t, stderr.String(), "CAMPAIGNS_", "the variables' prefix")

	var stdout bytes.Buffer
	assert.Equal(t, 0, run(context.Background(), []string{"--version"}, &stdout, io.Discard))
	assert.True(t, strings.HasPrefix(stdout.String(), "campaigns-worker "), stdout.String())
	assert.Contains(t, stdout.String(), "go1.", "the Go version from the build information")
}

func TestWorkerFailsWhenPortTaken(t *testing.T) {
	cleanEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	t.Setenv("CAMPAIGNS_WORKER_PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	assert.Equal(t, 1, run(ctx, nil, io.Discard, &stderr))
	assert.Contains(t, stderr.String(), "listen")
}

// A data dir another process holds (an API running the worker) is refused at once, with a
// message that names it and says what to do.
func TestWorkerRefusesAHeldDataDir(t *testing.T) {
	cleanEnv(t)
	dir := os.Getenv("CAMPAIGNS_DATA_DIR")
	held, err := datadir.Acquire(dir)
	require.NoError(t, err)
	defer held.Release()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	assert.Equal(t, 1, run(ctx, nil, io.Discard, &stderr))
	out := stderr.String()
	assert.Contains(t, out, "data dir "+dir+" is in use")
	assert.Contains(t, out, "worker.embedded")
	assert.NoFileExists(t, filepath.Join(dir, "campaigns.db"), "a refused worker touched the database")
}
