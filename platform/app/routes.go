package app

import (
	"net/http"

	"github.com/engine-rules-sp/campaigns/platform/apidocs"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/campaigns"
	"github.com/engine-rules-sp/campaigns/platform/config"
)

// apiPrefix is where the API's routes are mounted.
const apiPrefix = "/api/v1"

// RoutePolicy is the table of every route the API serves and the permission it requires: the
// binary's own (health, docs, metrics, console) and the service's, under /api/v1
// (campaigns.Routes, the one table the client guards its routes with). NewAPI refuses to
// start when a registered route is missing from it, and the route matrix test checks every
// entry against every role.
//
// Class marks the serving and tracking routes, which have their own rate limit
// (rate_limit.serving): a storefront or a messaging service calls them once per page view or
// send.
//
// Roles (platform/auth): viewer reads, editor creates/replaces/deletes, manager runs lifecycle
// actions, analyst reads customer-level data, tracker sends tracking events, monitor scrapes
// /metrics, admin does everything.
func RoutePolicy(cfg *config.Config) auth.Policy {
	own := auth.Policy{
		{Method: http.MethodGet, Path: "/", Permission: auth.Public}, // to the console
		{Method: http.MethodGet, Path: "/health", Permission: auth.Public},
		{Method: http.MethodGet, Path: "/ready", Permission: auth.Public},
		{Method: http.MethodGet, Path: "/openapi.yaml", Permission: auth.Public},
		{Method: http.MethodGet, Path: apidocs.PagePath, Permission: auth.Public},
		{Method: http.MethodGet, Path: apidocs.SlashPath, Permission: auth.Public},
		{Method: http.MethodGet, Path: apidocs.ScriptPath, Permission: auth.Public},
		{Method: http.MethodGet, Path: "/metrics", Permission: metricsPermission(cfg)},
		// The web console's page and assets: public files; the console calls the API below
		// with the user's own credentials.
		{Method: http.MethodGet, Path: "/console", Permission: auth.Public},
		{Method: http.MethodGet, Path: "/console/*", Permission: auth.Public},
	}
	return append(own, campaigns.Routes(apiPrefix)...)
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
