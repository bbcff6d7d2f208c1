package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// Route is one route (method and Echo route template, such as /api/v1/campaigns/:id), the
// permission it requires and its rate-limit class.
type Route struct {
	Method     string
	Path       string
	Permission Permission
	Class      RateClass
}

// RateClass groups routes under one rate limit: each caller has a bucket per class.
type RateClass string

// The rate-limit classes.
const (
	// ClassDefault: editing, reading and lifecycle traffic (rate_limit.requests_per_second).
	ClassDefault RateClass = ""
	// ClassServing: the serving and tracking routes (evaluate, track), service-to-service
	// traffic sent once per page view or message (rate_limit.serving).
	ClassServing RateClass = "serving"
)

// Policy is the table of every route an Echo instance serves. A route missing from it is
// refused (Verify reports it at start; at run time it is a 403), never served unguarded.
type Policy []Route

// Lookup returns the permission of a route.
func (p Policy) Lookup(method, path string) (Permission, bool) {
	for _, r := range p {
		if r.Method == method && r.Path == path {
			return r.Permission, true
		}
	}
	return "", false
}

// Class returns the rate-limit class of a route (ClassDefault for one the table lacks).
func (p Policy) Class(method, path string) RateClass {
	for _, r := range p {
		if r.Method == method && r.Path == path {
			return r.Class
		}
	}
	return ClassDefault
}

// Verify checks that every route registered on Echo (e.Routes()) has exactly one entry and
// that every entry names a known permission. Entries for routes not registered are allowed (a
// capability may be left out), see Unregistered.
func (p Policy) Verify(routes []*echo.Route) error {
	var errs []error
	seen := make(map[string]bool, len(p))
	for _, r := range p {
		k := r.Method + " " + r.Path
		if seen[k] {
			errs = append(errs, fmt.Errorf("route %s is listed twice", k))
		}
		seen[k] = true
		if r.Permission != Public && !slices.Contains(Permissions(), r.Permission) {
			errs = append(errs, fmt.Errorf("route %s requires unknown permission %q", k, r.Permission))
		}
	}
	for _, r := range routes {
		if isPseudoMethod(r.Method) {
			continue
		}
		if _, ok := p.Lookup(r.Method, r.Path); !ok {
			errs = append(errs, fmt.Errorf("route %s %s has no permission in the route table", r.Method, r.Path))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("auth: route table: %w", errors.Join(errs...))
	}
	return nil
}

// Unregistered lists the entries of p that routes do not serve (a stale entry, or a
// capability not mounted).
func (p Policy) Unregistered(routes []*echo.Route) []Route {
	var out []Route
	for _, e := range p {
		found := false
		for _, r := range routes {
			if r.Method == e.Method && r.Path == e.Path {
				found = true
				break
			}
		}
		if !found {
			out = append(out, e)
		}
	}
	return out
}

// isPseudoMethod: Echo lists its RouteNotFound handlers with a made-up method.
func isPseudoMethod(m string) bool { return m == echo.RouteNotFound || strings.ToUpper(m) != m }

func registered(routes []*echo.Route, method, path string) bool {
	for _, r := range routes {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}
