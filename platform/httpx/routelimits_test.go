package httpx_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// A route of EchoConfig.Routes has its own body limit and deadline; the others keep theirs.
func TestRouteLimits(t *testing.T) {
	e := httpx.NewEcho(httpx.EchoConfig{
		BodyLimit: 1024, RequestTimeout: time.Second,
		Routes: map[string]httpx.RouteLimits{
			httpx.RouteKey(http.MethodPost, "/big"): {BodyLimit: 64 << 10, Timeout: time.Hour},
		},
	})
	deadlines := map[string]time.Duration{}
	handler := func(c echo.Context) error {
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return err
		}
		d, _ := c.Request().Context().Deadline()
		deadlines[c.Path()] = time.Until(d)
		return c.NoContent(http.StatusNoContent)
	}
	e.POST("/big", handler, httpx.Query())
	e.POST("/small", handler, httpx.Query())
	srv := httptest.NewServer(e)
	defer srv.Close()

	for _, c := range []struct {
		path string
		size int
		want int
	}{
		{"/small", 1000, http.StatusNoContent}, {"/small", 5000, http.StatusRequestEntityTooLarge},
		{"/big", 5000, http.StatusNoContent}, {"/big", 70 << 10, http.StatusRequestEntityTooLarge},
	} {
		// No Content-Length: the limit is met while reading.
		body := struct{ io.Reader }{strings.NewReader(strings.Repeat("x", c.size))}
		req, err := http.NewRequest(http.MethodPost, srv.URL+c.path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-User-ID", "7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("POST %s with %d bytes: %d, want %d", c.path, c.size, resp.StatusCode, c.want)
		}
	}
	if d := deadlines["/small"]; d <= 0 || d > time.Second {
		t.Errorf("/small deadline in %s, want the request timeout (1s)", d)
	}
	if d := deadlines["/big"]; d < 59*time.Minute {
		t.Errorf("/big deadline in %s, want the route's hour", d)
	}
}

// A route's longer deadline and body limit apply only once the caller is known: the
// authentication runs under the default deadline, and an anonymous request (HeaderIdentity
// lets it through) keeps the server's read timeout, however slowly its body comes.
func TestRouteLimitsAfterAuthentication(t *testing.T) {
	var identifyDeadline time.Duration
	e := httpx.NewEcho(httpx.EchoConfig{
		BodyLimit: 1024, RequestTimeout: time.Second,
		Routes: map[string]httpx.RouteLimits{
			httpx.RouteKey(http.MethodPost, "/big"): {BodyLimit: 64 << 10, Timeout: time.Hour},
		},
		Identify: []echo.MiddlewareFunc{
			func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					d, _ := c.Request().Context().Deadline()
					identifyDeadline = time.Until(d)
					return next(c)
				}
			},
			httpx.HeaderIdentity(),
		},
	})
	var handlerDeadline time.Duration
	e.POST("/big", func(c echo.Context) error {
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return httpx.BadRequest("the body could not be read")
		}
		d, _ := c.Request().Context().Deadline()
		handlerDeadline = time.Until(d)
		return c.NoContent(http.StatusNoContent)
	}, httpx.Query())
	// The server's read timeout: a route's own deadline moves it, for authenticated callers.
	srv := httptest.NewUnstartedServer(e)
	srv.Config.ReadTimeout = time.Second
	srv.Start()
	defer srv.Close()

	// Unauthenticated, with a body that has barely begun (raw TCP: the client stops there).
	// The server reads what is left of a small body before it answers, up to its read
	// deadline: the server's, not the route's hour.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_, err = io.WriteString(conn, "POST /big HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 60000\r\n\r\nxx")
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the unauthenticated request after %s: %v", time.Since(start), err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || time.Since(start) > 3*time.Second {
		t.Errorf("anonymous: %d after %s, want a prompt 413 (the default body limit)", resp.StatusCode, time.Since(start))
	}
	if identifyDeadline <= 0 || identifyDeadline > time.Second {
		t.Errorf("authentication ran with a deadline in %s, want the default (1s)", identifyDeadline)
	}

	// Authenticated: the route's own limits.
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/big", struct{ io.Reader }{strings.NewReader(strings.Repeat("x", 5000))})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-User-ID", "7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11")
	resp, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("authenticated, 5000 bytes: %d, want 204", resp.StatusCode)
	}
	if handlerDeadline < 59*time.Minute {
		t.Errorf("handler deadline in %s, want the route's hour", handlerDeadline)
	}
}
