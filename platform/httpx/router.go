package httpx

import "github.com/labstack/echo/v4"

// Router is where a capability's handler registers its routes: an *echo.Group or an
// *echo.Echo, or a wrapper that puts middleware of its own in front of each route (the
// permissions, body limits and request ids platform/campaigns applies when it mounts them).
type Router interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	POST(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	PUT(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	DELETE(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// Both of Echo's route holders are Routers.
var (
	_ Router = (*echo.Echo)(nil)
	_ Router = (*echo.Group)(nil)
)
