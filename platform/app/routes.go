package app

import (
	"net/http"

	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"

	"github.com/engine-rules-sp/campaigns/platform/apidocs"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/config"
)

// RoutePolicy is the one table of every route the API serves and the permission it requires.
// NewAPI refuses to start when a registered route is missing from it, and the route matrix test
// checks every entry against every role; a new route must be added here.
//
// Class marks the serving and tracking routes, which have their own rate limit
// (rate_limit.serving): a storefront or a messaging service calls them once per page view or
// send.
//
// Roles (platform/auth): viewer reads, editor creates/replaces/deletes, manager runs lifecycle
// actions, tracker sends tracking events, monitor scrapes /metrics, admin does everything.
func RoutePolicy(cfg *config.Config) auth.Policy {
	const v1 = "/api/v1"
	return auth.Policy{
		{Method: http.MethodGet, Path: "/health", Permission: auth.Public},
		{Method: http.MethodGet, Path: "/ready", Permission: auth.Public},
		{Method: http.MethodGet, Path: "/openapi.yaml", Permission: auth.Public},
		{Method: http.MethodGet, Path: apidocs.PagePath, Permission: auth.Public},
		{Method: http.MethodGet, Path: apidocs.ScriptPath, Permission: auth.Public},
		{Method: http.MethodGet, Path: "/metrics", Permission: metricsPermission(cfg)},
		// The web console's page and assets: public files; the console calls the API below
		// with the user's own credentials.
		{Method: http.MethodGet, Path: "/console", Permission: auth.Public},
		{Method: http.MethodGet, Path: "/console/*", Permission: auth.Public},

		{Method: http.MethodPost, Path: v1 + "/campaigns", Permission: auth.CampaignsWrite},
		// Export reads, import creates: the permissions of list and create.
		{Method: http.MethodGet, Path: v1 + campaignapi.ExportPath, Permission: auth.CampaignsRead},
		{Method: http.MethodPost, Path: v1 + campaignapi.ImportPath, Permission: auth.CampaignsWrite},
		{Method: http.MethodGet, Path: v1 + "/campaigns", Permission: auth.CampaignsRead},
		{Method: http.MethodGet, Path: v1 + "/campaigns/:id", Permission: auth.CampaignsRead},
		{Method: http.MethodPut, Path: v1 + "/campaigns/:id", Permission: auth.CampaignsWrite},
		{Method: http.MethodDelete, Path: v1 + "/campaigns/:id", Permission: auth.CampaignsWrite},

		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/activate", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/pause", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/resume", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/complete", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/stop", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/cancel", Permission: auth.CampaignsLifecycle},
		// Approval above the budget threshold: editors and managers submit; managers (not the
		// campaign's author, which the handler checks) approve or reject.
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/submit-for-approval", Permission: auth.CampaignsSubmit},
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/approve", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/reject", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodGet, Path: v1 + "/campaigns/:id/transitions", Permission: auth.CampaignsRead},
		// A copy is a new campaign: as create.
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/duplicate", Permission: auth.CampaignsWrite},
		// Each bulk action needs the permission of its single action.
		{Method: http.MethodPost, Path: v1 + "/campaigns/bulk/activate", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/bulk/pause", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/bulk/resume", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/bulk/complete", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/bulk/cancel", Permission: auth.CampaignsLifecycle},
		{Method: http.MethodPost, Path: v1 + "/campaigns/bulk/delete", Permission: auth.CampaignsWrite},
		{Method: http.MethodGet, Path: v1 + "/campaigns/:id/events", Permission: auth.CampaignsRead},

		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/track", Permission: auth.TrackingWrite, Class: auth.ClassServing},
		{Method: http.MethodGet, Path: v1 + "/campaigns/:id/metrics", Permission: auth.CampaignsRead},
		{Method: http.MethodGet, Path: v1 + "/campaigns/:id/performance", Permission: auth.CampaignsRead},
		{Method: http.MethodGet, Path: v1 + "/campaigns/:id/audience", Permission: auth.CampaignsRead},
		{Method: http.MethodGet, Path: v1 + "/campaigns/:id/experiment", Permission: auth.CampaignsRead},
		// Rolling the winner out changes who sees what, like a lifecycle action: managers.
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/experiment/conclude", Permission: auth.CampaignsLifecycle},

		{Method: http.MethodPost, Path: v1 + "/targeting/evaluate", Permission: auth.TargetingEvaluate, Class: auth.ClassServing},
		{Method: http.MethodPost, Path: v1 + "/campaigns/:id/evaluate", Permission: auth.TargetingEvaluate, Class: auth.ClassServing},
	}
}

// WorkerRoutePolicy is the table of the worker's own listener.
func WorkerRoutePolicy(cfg *config.Config) auth.Policy {
	return auth.Policy{
		{Method: http.MethodGet, Path: "/health", Permission: auth.Public},
		{Method: http.MethodGet, Path: "/ready", Permission: auth.Public},
		{Method: http.MethodGet, Path: "/metrics", Permission: metricsPermission(cfg)},
	}
}

// metricsPermission: /metrics is public unless auth.public_metrics is false.
func metricsPermission(cfg *config.Config) auth.Permission {
	if cfg.Auth.PublicMetrics {
		return auth.Public
	}
	return auth.MetricsRead
}
