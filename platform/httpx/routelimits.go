package httpx

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// RouteLimits overrides, for one route, the body limit and the deadline every other request
// gets: a route that streams large bodies (an import, an export) needs more of both.
type RouteLimits struct {
	// BodyLimit is the route's body limit in bytes (0: EchoConfig.BodyLimit).
	BodyLimit int64
	// Timeout is the route's deadline (0: EchoConfig.RequestTimeout). It bounds the request's
	// context and also moves the connection's read and write deadlines (the server's
	// read_timeout and write_timeout), which would cut a long transfer short.
	Timeout time.Duration
}

// RouteKey is the key of a route in EchoConfig.Routes: its method and path as registered
// ("POST /api/v1/campaigns/import").
func RouteKey(method, path string) string { return method + " " + path }

// limits applies the body limit and the request deadline: the defaults, or a route's own.
func limits(cfg EchoConfig) echo.MiddlewareFunc {
	type chain struct{ body, timeout echo.MiddlewareFunc }
	build := func(body int64, timeout time.Duration) chain {
		return chain{
			body:    middleware.BodyLimit(strconv.FormatInt(body, 10) + "B"),
			timeout: middleware.ContextTimeout(timeout),
		}
	}
	def := build(cfg.BodyLimit, cfg.RequestTimeout)
	own := make(map[string]chain, len(cfg.Routes))
	deadlines := make(map[string]time.Duration, len(cfg.Routes))
	for key, rl := range cfg.Routes {
		if rl.BodyLimit <= 0 {
			rl.BodyLimit = cfg.BodyLimit
		}
		if rl.Timeout <= 0 {
			rl.Timeout = cfg.RequestTimeout
		}
		own[key] = build(rl.BodyLimit, rl.Timeout)
		deadlines[key] = rl.Timeout
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			key := RouteKey(c.Request().Method, c.Path())
			ch, ok := own[key]
			if !ok {
				return def.body(def.timeout(next))(c)
			}
			extendDeadlines(c, deadlines[key])
			return ch.body(ch.timeout(next))(c)
		}
	}
}

// extendDeadlines moves the connection's read and write deadlines to d from now. A writer
// that cannot (HTTP/2 through some proxies, a test recorder) keeps the server's.
func extendDeadlines(c echo.Context, d time.Duration) {
	rc := http.NewResponseController(c.Response())
	at := time.Now().Add(d)
	_ = rc.SetReadDeadline(at)
	_ = rc.SetWriteDeadline(at)
}
