package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/campaigns"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/observability"
	"github.com/engine-rules-sp/campaigns/platform/ratelimit"
)

// newObservability returns the Prometheus instruments of one instance ("api" or "worker").
func newObservability(component string, logger *slog.Logger) *observability.Metrics {
	m := observability.New(component, observability.Config{Logger: logger})
	m.InitCampaignEvents(campaign.EventTypes())
	return m
}

// watchDependencies exposes the database pool and the NATS connection.
func watchDependencies(m *observability.Metrics, db *bun.DB, nc *natsx.Conn) {
	m.WatchDB(db.DB, "campaigns")
	m.WatchNATS(nc.NC.IsConnected, func() uint64 { return nc.NC.Stats().Reconnects })
}

// watchBackground exposes the state of the background work: the outbox backlog and the
// aggregator's consumer lag. Only the process that runs the worker registers them.
func watchBackground(m *observability.Metrics, c *campaigns.Client) {
	m.WatchOutboxBacklog(c.OutboxBacklog)
	m.WatchOutboxOldest(c.OutboxOldest)
	m.WatchAutomation(c.Automation().LastTick)
	m.WatchPartitions(c.Aggregator().Partitions, c.Aggregator().Held)
	m.WatchConsumerLag("partitions", func(context.Context) (observability.ConsumerState, error) {
		return observability.ConsumerState{Pending: c.Aggregator().Pending()}, nil
	})
	m.WatchPacing(func(ctx context.Context) (map[string]float64, error) {
		got, err := c.Campaigns().PacingIndexes(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]float64, len(got))
		for _, p := range got {
			out[p.Campaign.ID().String()] = p.Index
		}
		return out, nil
	})
}

// mountMetrics serves the registry at GET /metrics.
func mountMetrics(e *echo.Echo, m *observability.Metrics) {
	h := m.Handler()
	e.GET("/metrics", func(c echo.Context) error {
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}, httpx.Query())
}

// newAuthenticator checks the auth configuration and returns the authenticator of policy.
func newAuthenticator(cfg *config.Config, policy auth.Policy, m *observability.Metrics, logger *slog.Logger) (*auth.Authenticator, error) {
	a, err := auth.New(policy, auth.Config{
		Settings: authSettings(cfg.Auth), Logger: logger, HTTPClient: &http.Client{}, OnFailure: m.AuthFailure, OnJWKSFetch: m.JWKSFetch,
	})
	if err != nil {
		return nil, authConfigError(err)
	}
	a.Warm() // the first requests find the signing keys fetched
	return a, nil
}

// authSettings is the auth section as platform/auth takes it.
func authSettings(a config.Auth) auth.Settings {
	keys := make([]auth.APIKey, len(a.APIKeys))
	for i, k := range a.APIKeys {
		keys[i] = auth.APIKey{Name: k.Name, SHA256: k.SHA256, Roles: k.Roles, Owner: k.Owner, Subject: k.Subject}
	}
	return auth.Settings{
		Mode: a.Mode, AllowAnonymous: a.AllowAnonymous, JWTSecret: a.JWTSecret, JWKSURL: a.JWKSURL,
		JWKSRefreshInterval: a.JWKSRefreshInterval, JWKSFetchTimeout: a.JWKSFetchTimeout,
		JWKSMinRefetchInterval: a.JWKSMinRefetchInterval, Algorithms: a.Algorithms, Issuer: a.Issuer,
		Audience: a.Audience, Leeway: a.Leeway, RolesClaim: a.RolesClaim, APIKeys: keys,
	}
}

// checkExposure is auth.CheckExposure of the configuration.
func checkExposure(cfg *config.Config) error {
	return authConfigError(auth.CheckExposure(authSettings(cfg.Auth), cfg.HTTP.Host))
}

// authConfigError turns a setting platform/auth refuses into the *config.Error of its key (the
// binaries print it and exit 2); other errors pass as they are.
func authConfigError(err error) error {
	var aerr *auth.ConfigError
	if errors.As(err, &aerr) {
		return &config.Error{Key: aerr.Key, Reason: aerr.Reason}
	}
	return err
}

// echoConfig is the middleware configuration of an Echo instance: request metrics, CORS,
// trusted proxies, and the identity chain (authenticate, rate-limit, authorise). policy is the
// instance's route table (it gives each route's rate-limit class); routes lists the instance's
// routes (Authorize refuses a registered route the table lacks). now is the rate limiters'
// clock (nil: the wall clock).
func echoConfig(cfg *config.Config, m *observability.Metrics, logger *slog.Logger, authn *auth.Authenticator,
	policy auth.Policy, routes func() []*echo.Route, now func() time.Time) (httpx.EchoConfig, error) {
	proxies, err := trustedProxies(cfg.HTTP.TrustedProxies)
	if err != nil {
		return httpx.EchoConfig{}, err
	}
	identify := []echo.MiddlewareFunc{authn.Authenticate()}
	if rl := cfg.RateLimit; rl.Enabled {
		// One limiter per class: a caller's serving traffic and its editing traffic draw on
		// separate buckets. Each request passes exactly one of them.
		classes := []struct {
			class config.RateClass
			is    auth.RateClass
		}{
			{config.RateClass{RequestsPerSecond: rl.RequestsPerSecond, Burst: rl.Burst}, auth.ClassDefault},
			{rl.Serving, auth.ClassServing},
		}
		for _, cl := range classes {
			is := cl.is
			lim := ratelimit.New(ratelimit.Config{Rate: cl.class.RequestsPerSecond, Burst: cl.class.Burst,
				IdleTimeout: rl.IdleTimeout, MaxClients: rl.MaxClients, Now: now,
				Key: callerKey, OnLimited: m.RateLimited,
				Skip: func(c echo.Context) bool {
					return authn.IsPublic(c) || policy.Class(c.Request().Method, c.Path()) != is
				},
			})
			identify = append(identify, lim.Middleware())
		}
	}
	identify = append(identify, authn.Authorize(routes))
	crossOrigin, err := httpx.CrossOrigin(cfg.CORS.AllowedOrigins)
	if err != nil {
		return httpx.EchoConfig{}, &config.Error{Key: "cors.allowed_origins", Reason: err.Error()}
	}
	return httpx.EchoConfig{
		BodyLimit: cfg.HTTP.BodyLimit, HeaderLimit: cfg.HTTP.HeaderLimit, RequestTimeout: cfg.HTTP.RequestTimeout,
		Logger: logger, Observe: m.Middleware(), Identify: identify, TrustedProxies: proxies,
		Routes: transferRoutes(cfg), CrossOrigin: crossOrigin, ListenHost: cfg.HTTP.Host,
		CORS: httpx.CORSConfig{AllowOrigins: cfg.CORS.AllowedOrigins,
			AllowCredentials: cfg.CORS.AllowCredentials, MaxAge: cfg.CORS.MaxAge},
	}, nil
}

// callerKey is the rate-limit key of an authenticated caller; "" (its address) otherwise.
func callerKey(c echo.Context) string {
	if p := auth.PrincipalFrom(c.Request().Context()); p != nil {
		return p.Name
	}
	return ""
}

func trustedProxies(list []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range list {
		if _, n, err := net.ParseCIDR(s); err == nil {
			out = append(out, n)
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, &config.Error{Key: "http.trusted_proxies", Reason: fmt.Sprintf("%q is not an IP address or CIDR", s)}
		}
		bits := 128
		if ip.To4() != nil {
			ip, bits = ip.To4(), 32
		}
		out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
	}
	return out, nil
}
