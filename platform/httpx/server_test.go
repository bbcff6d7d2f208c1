package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func serverConfig(shutdown time.Duration) httpx.ServerConfig {
	return httpx.ServerConfig{
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		IdleTimeout: 5 * time.Second, ShutdownTimeout: shutdown, Logger: discardLogger(),
	}
}

type result struct {
	status int
	body   string
	err    error
}

func get(client *http.Client, url string) result {
	resp, err := client.Get(url)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: string(b), err: err}
}

func TestServeDrainsInFlightRequestOnCancel(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()

	started := make(chan struct{})
	var once sync.Once
	var finished atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		select {
		case <-time.After(300 * time.Millisecond):
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "done")
		case <-r.Context().Done():
			// Shutdown must not cancel the requests it is draining.
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "request context cancelled")
		}
		finished.Store(true)
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serveDone := make(chan error, 1)
	go func() { serveDone <- httpx.Serve(ctx, ln, h, serverConfig(5*time.Second)) }()

	client := &http.Client{Timeout: 5 * time.Second}
	resc := make(chan result, 1)
	go func() { resc <- get(client, "http://"+addr+"/slow") }()

	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the handler")
	}
	cancel()

	select {
	case err := <-serveDone:
		require.NoError(t, err)
		assert.True(t, finished.Load(), "Serve returned before the in-flight request finished")
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}

	res := <-resc
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "done", res.body)

	// The listener is closed: a new connection is refused.
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		_ = conn.Close()
	}
	require.Error(t, err, "a new connection was accepted after shutdown")
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "want connection refused, got %v", err)
}

func TestServeShutdownGraceExpires(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()

	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	var once sync.Once
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		<-release // a handler that outlives the grace period
		w.WriteHeader(http.StatusOK)
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serveDone := make(chan error, 1)
	go func() { serveDone <- httpx.Serve(ctx, ln, h, serverConfig(100*time.Millisecond)) }()

	resc := make(chan result, 1)
	go func() { resc <- get(&http.Client{Timeout: 10 * time.Second}, "http://"+addr+"/stuck") }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the handler")
	}
	begin := time.Now()
	cancel()

	select {
	case err := <-serveDone:
		require.ErrorIs(t, err, context.DeadlineExceeded, "Serve reported success although a request was cut short")
		assert.Contains(t, err.Error(), "shutdown")
		assert.Less(t, time.Since(begin), 3*time.Second)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve waited past its shutdown grace period")
	}

	// Once the grace period is over the remaining connections are closed, not left running
	// behind a Serve that has already returned.
	select {
	case res := <-resc:
		assert.ErrorIs(t, res.err, io.EOF, "the stuck request got a response (%d) after Serve returned", res.status)
	case <-time.After(3 * time.Second):
		t.Fatal("the stuck connection was left open after Serve returned")
	}
}

func TestServeReportsListenerFailure(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close())

	done := make(chan error, 1)
	go func() {
		done <- httpx.Serve(context.Background(), ln, http.NotFoundHandler(), serverConfig(time.Second))
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, net.ErrClosed)
		assert.Contains(t, err.Error(), "http serve")
	case <-time.After(5 * time.Second):
		t.Fatal("Serve on a closed listener did not return")
	}
}

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	dbDown := errors.New("dial tcp 10.0.0.7:5432: secret-host unreachable")
	var healthy atomic.Bool
	healthy.Store(true)
	var sawDeadline atomic.Bool

	var logs logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	e := echo.New()
	httpx.RegisterHealth(e, logger,
		httpx.Check{Name: "database", Fn: func(ctx context.Context) error {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= 2*time.Second {
				sawDeadline.Store(true)
			}
			if healthy.Load() {
				return nil
			}
			return dbDown
		}},
		httpx.Check{Name: "nats", Fn: func(context.Context) error { return nil }},
	)

	do := func(path string) (int, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), "body %q", rec.Body.String())
		assert.NotContains(t, rec.Body.String(), "secret-host", "a check's error text leaked")
		return rec.Code, body
	}

	code, body := do("/health")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", body["status"])

	code, body = do("/ready")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, map[string]any{
		"status": "ready",
		"checks": map[string]any{"database": "ok", "nats": "ok"},
	}, body)
	assert.True(t, sawDeadline.Load(), "readiness checks run without a deadline")

	healthy.Store(false)

	code, body = do("/ready")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, map[string]any{
		"status": "unavailable",
		"checks": map[string]any{"database": "unavailable", "nats": "ok"},
	}, body)

	// Liveness does not depend on the checks.
	code, body = do("/health")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", body["status"])

	assert.Contains(t, logs.String(), "readiness check failed")
	assert.Contains(t, logs.String(), "database")
}

func TestReadyWithoutChecks(t *testing.T) {
	t.Parallel()
	e := echo.New()
	httpx.RegisterHealth(e, discardLogger())
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ready", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"status":"ready","checks":{}}`, rec.Body.String())
}

// Headers over the limit get a 431 problem with the headers of every answer, from the
// service's own middleware: the server reads well past the limit (HeaderReadLimit) so that Go's
// plain-text 431 is not what a client sees, for 2 MB of headers too.
func TestHeaderLimitThroughTheServer(t *testing.T) {
	t.Parallel()
	const limit = 8 << 10
	e := httpx.NewEcho(httpx.EchoConfig{Logger: discardLogger(), BodyLimit: 1024, HeaderLimit: limit, RequestTimeout: 5 * time.Second})
	e.GET("/ok", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := serverConfig(5 * time.Second)
	cfg.HeaderLimit = limit
	go func() { done <- httpx.Serve(ctx, ln, e, cfg) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	send := func(padding int) *http.Response {
		req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/ok", nil)
		require.NoError(t, err)
		req.Header.Set("X-Padding", strings.Repeat("p", padding))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	assert.Equal(t, http.StatusOK, send(limit-500).StatusCode, "headers within the limit")
	for _, padding := range []int{limit + 1, 2 << 20} {
		resp := send(padding)
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode, "padding %d", padding)
		assert.Equal(t, httpx.ProblemContentType, resp.Header.Get("Content-Type"))
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		assert.NotEmpty(t, resp.Header.Get("X-Request-ID"))
		var p problemBody
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, p.Status)
		assert.Equal(t, httpx.ProblemTypePrefix+"headers-too-large", p.Type)
		assert.Contains(t, p.Detail, "8192 bytes")
	}
	assert.Equal(t, 4<<20, httpx.HeaderReadLimit(limit), "the server reads at least 4 MiB")
	assert.Equal(t, 64<<20, httpx.HeaderReadLimit(16<<20), "and four times a larger limit")
}

// A zero EchoConfig is a working instance with the documented defaults: a 1 MiB body limit
// and a 15 s deadline on each request.
func TestEchoConfigZeroFieldsAreTheDefaults(t *testing.T) {
	t.Parallel()
	e := httpx.NewEcho(httpx.EchoConfig{})
	var deadlineIn atomic.Int64
	e.POST("/body", func(c echo.Context) error {
		if dl, ok := c.Request().Context().Deadline(); ok {
			deadlineIn.Store(int64(time.Until(dl)))
		}
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	send := func(size int) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/body", bytes.NewReader(make([]byte, size)))
		e.ServeHTTP(rec, req)
		return rec.Code
	}
	assert.Equal(t, http.StatusNoContent, send(httpx.DefaultBodyLimit))
	assert.InDelta(t, float64(httpx.DefaultRequestTimeout), float64(deadlineIn.Load()), float64(time.Second))
	assert.Equal(t, http.StatusRequestEntityTooLarge, send(httpx.DefaultBodyLimit+1))
}

func TestReadyDegradedByAnOptionalDependency(t *testing.T) {
	t.Parallel()
	brokerDown := errors.New("broker down")
	dbUp, natsUp := atomic.Bool{}, atomic.Bool{}
	dbUp.Store(true)
	check := func(up *atomic.Bool) func(context.Context) error {
		return func(context.Context) error {
			if up.Load() {
				return nil
			}
			return brokerDown
		}
	}
	e := echo.New()
	httpx.RegisterHealth(e, discardLogger(),
		httpx.Check{Name: "database", Fn: check(&dbUp)},
		httpx.Check{Name: "nats", Fn: check(&natsUp), Degrades: true})
	ready := func() (int, string) {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ready", nil))
		return rec.Code, rec.Body.String()
	}

	code, body := ready()
	assert.Equal(t, http.StatusOK, code, "an optional dependency down keeps the instance in service")
	assert.JSONEq(t, `{"status":"degraded","checks":{"database":"ok","nats":"unavailable"}}`, body)

	dbUp.Store(false)
	code, body = ready()
	assert.Equal(t, http.StatusServiceUnavailable, code, "a required dependency down takes it out")
	assert.JSONEq(t, `{"status":"unavailable","checks":{"database":"unavailable","nats":"unavailable"}}`, body)

	dbUp.Store(true)
	natsUp.Store(true)
	code, body = ready()
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ready","checks":{"database":"ok","nats":"ok"}}`, body)
}

// A warning raised by work that a stop (or a departed caller) cancelled is not one to act on:
// it is logged at debug level, and not at all at info.
func TestWarningsOfCancelledWorkAreDebug(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		level slog.Level
		want  string
	}{{slog.LevelInfo, ""}, {slog.LevelDebug, `"level":"DEBUG"`}} {
		var out bytes.Buffer
		logger := slog.New(httpx.LogHandler(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: c.level})))
		logger.WarnContext(ctx, "renew lease", slog.Any("error", context.Canceled))
		if c.want == "" {
			assert.Empty(t, out.String())
		} else {
			assert.Contains(t, out.String(), c.want)
		}
		out.Reset()
		logger.WarnContext(context.Background(), "a real warning")
		assert.Contains(t, out.String(), `"level":"WARN"`)
	}
}
