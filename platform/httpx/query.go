package httpx

import (
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// Param is one query parameter a route accepts.
type Param struct {
	Name string
	// Many: the parameter may be repeated (a list filter); otherwise it takes one value.
	Many bool
}

// One is a parameter that takes a single value.
func One(name string) Param { return Param{Name: name} }

// Many is a parameter that may be repeated.
func Many(name string) Param { return Param{Name: name, Many: true} }

// Query declares the query string of a route, and every route declares one (an empty Query
// for a route that takes no parameter). The middleware answers 400 for a malformed query
// string, a parameter the route does not declare and a single-valued parameter given more than
// once, listing every bad parameter, before the handler runs: handlers parse only what they
// declared, and a typo such as ?limt=5 is never silently ignored.
func Query(params ...Param) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			raw := c.Request().URL.RawQuery
			if raw == "" {
				return next(c)
			}
			// url.Values drops the pairs it cannot decode; parse again to see them.
			q, err := url.ParseQuery(raw)
			if err != nil {
				return BadRequest("the query string is malformed: use name=value pairs separated by &, percent-encoded")
			}
			if errs := checkQuery(q, params); len(errs) > 0 {
				return BadRequest("the query string is invalid", errs...)
			}
			return next(c)
		}
	}
}

func checkQuery(q url.Values, params []Param) []FieldError {
	var errs []FieldError
	for _, k := range slices.Sorted(maps.Keys(q)) { // a stable order for the problem
		i := slices.IndexFunc(params, func(p Param) bool { return p.Name == k })
		switch {
		case i < 0:
			errs = append(errs, FieldError{Field: k, Message: "unknown query parameter" + known(params)})
		case !params[i].Many && len(q[k]) > 1:
			errs = append(errs, FieldError{Field: k, Message: "must be given once"})
		}
	}
	return errs
}

func known(params []Param) string {
	if len(params) == 0 {
		return " (this endpoint takes none)"
	}
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
	}
	return " (this endpoint takes " + strings.Join(names, ", ") + ")"
}
