// Package console serves the campaigns web console: a small single-page app for marketers
// that calls the public API with the user's own credentials. Its pages:
//   - the campaign list (/console/): filters, keyset pages, each campaign's impressions, CTR,
//     spend and budget used (GET /campaigns?includeMetrics=true; the column buttons sort the
//     page shown, since the API sorts pages by name, creation or start date only), and a
//     selection the bulk actions act on (dry run first, then each campaign's own answer);
//   - a campaign's page: lifecycle actions judged by a dry run, submit for approval,
//     duplicate with a date shift (an ISO 8601 duration), KPIs, performance over time, the A/B
//     verdict with plan-the-test (GET .../experiment?mde=&power=), settings and history;
//   - the approvals queue (/console/approvals): pending campaigns, by default those the
//     caller may decide (neither wrote nor submitted), approved or rejected with If-Match;
//   - import and export (/console/transfer): the import's dry run lists each line's
//     problems before the real import is offered; exports download as JSON Lines or CSV.
//
// Ids the API cannot name (rules, other users) show their first 8 characters, the whole id
// on hover; the caller's own id shows as "You". Its sources are in web/;
// the built files in dist/ are committed and embedded, so the API binary needs no Node.js.
// Rebuild them with `task console` (npm ci && npm run build in web/).
package console

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

//go:embed all:dist
var dist embed.FS

// Prefix is where the console is mounted.
const Prefix = "/console"

// contentSecurityPolicy lets the console load its own scripts, styles and data (the API, on
// the same origin) and nothing else. uPlot sets element styles from script (CSSOM), which
// this allows without 'unsafe-inline'.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes are the types of the files the build makes.
var contentTypes = map[string]string{
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".woff2": "font/woff2",
}

// Register mounts the console on e: GET /console and GET /console/* answer the app's page
// (index.html, for every path the app routes itself), and /console/assets/... its
// content-hashed scripts and styles, cached for good. Unknown assets are 404 problems. The
// page takes any query string: the app reads its own (the list's filters), the server none.
func Register(e *echo.Echo) error {
	files, err := fs.Sub(dist, "dist")
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		return fmt.Errorf("console: the build is missing (dist/index.html; run `task console`): %w", err)
	}
	page := func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set(echo.HeaderCacheControl, "no-cache")
		return c.Blob(http.StatusOK, echo.MIMETextHTMLCharsetUTF8, index)
	}
	e.GET(Prefix, page)
	e.GET(Prefix+"/*", func(c echo.Context) error {
		name := c.Param("*")
		if !strings.HasPrefix(name, "assets/") {
			return page(c)
		}
		clean := path.Clean(name)
		if clean != name || !fs.ValidPath(clean) {
			return httpx.NotFound("no such console file")
		}
		body, err := fs.ReadFile(files, clean)
		if err != nil {
			return httpx.NotFound("no such console file")
		}
		ctype, ok := contentTypes[path.Ext(clean)]
		if !ok {
			ctype = echo.MIMEOctetStream
		}
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
		return c.Blob(http.StatusOK, ctype, body)
	})
	return nil
}
