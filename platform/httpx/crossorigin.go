package httpx

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// CrossOrigin refuses, with a 403 problem, a state-changing request (any method but GET,
// HEAD and OPTIONS) that a browser sent from another origin: its Sec-Fetch-Site is not
// same-origin or none, or, from an older browser, its Origin does not match its Host. It is
// net/http's CrossOriginProtection: a page on another site cannot make a signed-in (or, with
// auth mode none, any) browser change a campaign, even with a no-cors form or fetch. Requests
// without either header (curl, server-to-server clients) pass. trusted lists origins
// ("https://console.example.com") whose pages may write, such as the CORS origins.
//
// "*" in trusted (CORS open to every origin) lets a cross-origin write through only when it
// carries an Authorization or X-API-Key header: a browser sends those cross-origin only after
// a CORS preflight the server approved, never from a no-cors form or fetch, so an anonymous
// write from another site is still refused.
func CrossOrigin(trusted []string) (echo.MiddlewareFunc, error) {
	p := http.NewCrossOriginProtection()
	wildcard := false
	for _, o := range trusted {
		if o == "*" {
			wildcard = true
			continue
		}
		if err := p.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("trusted origin %q: %w", o, err)
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if err := p.Check(r); err != nil && !(wildcard && carriesCredentials(r)) {
				return NewProblem(http.StatusForbidden, "cross-origin", "Cross-origin request refused",
					"a browser sent this "+r.Method+" from a page on another origin; "+
						"only this service's own pages and the configured CORS origins may change data")
			}
			return next(c)
		}
	}, nil
}

func carriesCredentials(r *http.Request) bool {
	return r.Header.Get(echo.HeaderAuthorization) != "" || r.Header.Get("X-API-Key") != ""
}

// IsLoopback reports whether host (a listen host) is on loopback only: "localhost" or a
// loopback address. "" and 0.0.0.0 / :: mean every interface.
func IsLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackHosts refuses, with a 403 problem, a request whose Host header names anything but
// loopback (localhost, a loopback address) or one of extra. A server bound to loopback is
// reached under those names only; any other Host is a page on another site whose name was
// re-pointed at 127.0.0.1 (DNS rebinding), which would otherwise be same-origin to itself.
func LoopbackHosts(extra ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			host := c.Request().Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if IsLoopback(host) || containsFold(extra, host) {
				return next(c)
			}
			return NewProblem(http.StatusForbidden, "forbidden-host", "Host not served",
				fmt.Sprintf("this server listens on loopback and answers to localhost, 127.0.0.1 and [::1] only, not %q", host))
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
