package app

import (
	"net/http"

	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// transferRoutes are the routes that move many campaigns in one request: the export and the
// import. They get http.transfer_timeout instead of the request, read and write timeouts, and
// the import gets http.import_body_limit.
func transferRoutes(cfg *config.Config) map[string]httpx.RouteLimits {
	return map[string]httpx.RouteLimits{
		httpx.RouteKey(http.MethodGet, apiPrefix+campaignapi.ExportPath): {Timeout: cfg.HTTP.TransferTimeout},
		httpx.RouteKey(http.MethodPost, apiPrefix+campaignapi.ImportPath): {
			Timeout: cfg.HTTP.TransferTimeout, BodyLimit: cfg.HTTP.ImportBodyLimit,
		},
	}
}
