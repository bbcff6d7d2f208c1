package httpx_test

import (
	"io"
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
