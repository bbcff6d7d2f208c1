package httpx

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/engine-rules-sp/campaigns/platform/audit"
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

// limits applies the default body limit and request deadline to every route but those of
// cfg.Routes, which get only the default deadline: their own limits come from routeLimits,
// after the caller is known, so that an unauthenticated client never gets a route's longer
// deadline (nor its connection deadlines moved).
func limits(cfg EchoConfig) echo.MiddlewareFunc {
	body := middleware.BodyLimit(strconv.FormatInt(cfg.BodyLimit, 10) + "B")
	timeout := middleware.ContextTimeout(cfg.RequestTimeout)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		plain := body(timeout(next))
		own := timeout(next)
		return func(c echo.Context) error {
			if _, ok := cfg.Routes[RouteKey(c.Request().Method, c.Path())]; !ok {
				return plain(c)
			}
			c.Set(requestContextKey, c.Request().Context()) // before the default deadline
			return own(c)
		}
	}
}

// requestContextKey holds, in the echo.Context of a route of EchoConfig.Routes, the request's
// context as it was before the default deadline: it is cancelled when the client goes away.
const requestContextKey = "httpx.requestContext"

// routeLimits gives the routes of cfg.Routes their own body limit and deadline. It runs after
// cfg.Identify, and only for a request whose caller is known.
func routeLimits(cfg EchoConfig) echo.MiddlewareFunc {
	type route struct {
		body    echo.MiddlewareFunc
		timeout time.Duration
	}
	own := make(map[string]route, len(cfg.Routes))
	for key, rl := range cfg.Routes {
		if rl.BodyLimit <= 0 {
			rl.BodyLimit = cfg.BodyLimit
		}
		if rl.Timeout <= 0 {
			rl.Timeout = cfg.RequestTimeout
		}
		own[key] = route{body: middleware.BodyLimit(strconv.FormatInt(rl.BodyLimit, 10) + "B"), timeout: rl.Timeout}
	}
	defBody := middleware.BodyLimit(strconv.FormatInt(cfg.BodyLimit, 10) + "B")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			rt, ok := own[RouteKey(c.Request().Method, c.Path())]
			if !ok {
				return next(c)
			}
			if _, known := audit.Actor(c.Request().Context()); !known {
				// An Identify that lets anonymous callers through (HeaderIdentity without
				// X-User-ID): they keep the defaults.
				return defBody(next)(c)
			}
			// The route's deadline replaces the default one (a context's deadline can only be
			// shortened, hence WithoutCancel), keeping the values the middleware before added
			// (the caller) and the cancellation when the client leaves.
			req := c.Request()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), rt.timeout)
			defer cancel()
			if orig, ok := c.Get(requestContextKey).(context.Context); ok {
				defer context.AfterFunc(orig, cancel)()
			}
			c.SetRequest(req.WithContext(ctx))
			extendDeadlines(c, rt.timeout)
			return rt.body(next)(c)
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
