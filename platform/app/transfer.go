package app

import (
	"net/http"

	"github.com/labstack/echo/v4"

	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// transferRoutes are the routes that move many campaigns in one request: the export and the
// import. They get http.transfer_timeout instead of the request, read and write timeouts, and
// the import gets http.import_body_limit.
func transferRoutes(cfg *config.Config) map[string]httpx.RouteLimits {
	const v1 = "/api/v1"
	return map[string]httpx.RouteLimits{
		httpx.RouteKey(http.MethodGet, v1+campaignapi.ExportPath): {Timeout: cfg.HTTP.TransferTimeout},
		httpx.RouteKey(http.MethodPost, v1+campaignapi.ImportPath): {
			Timeout: cfg.HTTP.TransferTimeout, BodyLimit: cfg.HTTP.ImportBodyLimit,
		},
	}
}

// skipIdempotency leaves one route out of the idempotency middleware mw, which reads the whole
// body to fingerprint it: the import streams its body (and refuses Idempotency-Key itself).
func skipIdempotency(mw echo.MiddlewareFunc, method, path string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		with := mw(next)
		return func(c echo.Context) error {
			if c.Request().Method == method && c.Path() == path {
				return next(c)
			}
			return with(c)
		}
	}
}
