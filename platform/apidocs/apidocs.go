// Package apidocs serves the API reference page: the OpenAPI document rendered by Redoc, whose
// standalone bundle is vendored from the npm registry (vendor.sh) and embedded in the binary,
// so the page loads nothing from a CDN.
package apidocs

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// RedocVersion is the vendored Redoc release (vendor.sh pins the same).
const RedocVersion = "2.5.4"

// The routes Register mounts.
const (
	PagePath   = "/docs"
	SlashPath  = "/docs/" // redirects to the page
	ScriptPath = "/docs/redoc.standalone.js"
)

// ContentSecurityPolicy is the page's policy: scripts, the spec and images from this origin
// only (checked in a headless Chromium: the page renders every operation under it). Redoc
// needs inline styles (styled-components) and a blob: worker for its search. The bundle's one
// external image (the Redocly logo, from a CDN) is replaced by an empty inline image when it is
// vendored (vendor.sh), so the page neither asks the CDN nor shows a broken image.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed index.html
var page []byte

//go:embed assets/redoc.standalone.js
var redocScript []byte

// Register mounts GET /docs (the page; it reads the spec from /openapi.yaml, which the caller
// serves), GET /docs/ (a redirect to the page: its relative links are resolved against
// /docs) and GET /docs/redoc.standalone.js on e, with the given route middleware.
func Register(e *echo.Echo, mw ...echo.MiddlewareFunc) {
	e.GET(PagePath, func(c echo.Context) error {
		c.Response().Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		return c.HTMLBlob(http.StatusOK, page)
	}, mw...)
	e.GET(SlashPath, func(c echo.Context) error {
		// Relative, so that it stays right behind a proxy that mounts the API under a prefix.
		return c.Redirect(http.StatusMovedPermanently, "../docs")
	}, mw...)
	e.GET(ScriptPath, func(c echo.Context) error {
		// The bundle changes only with the binary: a day of caching is safe.
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=86400")
		return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", redocScript)
	}, mw...)
}
