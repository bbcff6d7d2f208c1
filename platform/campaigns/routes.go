package campaigns

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// Caller is who sends a request, as Config.Identify tells it.
type Caller struct {
	// ID is the caller's user id: the author of what it creates and the actor of every
	// domain event and history row. A UUID is the actor as it is; any other text (a username,
	// an email, a numeric id) is mapped to one by ActorID. Empty: an anonymous caller.
	ID string
	// Roles are what the caller may do under the default Authorize (auth.Grants).
	Roles []auth.Role
}

// actorNamespace derives the actor UUID of a caller id that is not one (ActorID).
var actorNamespace = uuid.MustParse("5b3f1e0a-9c4d-4f6e-8a2b-7d1c0e9f3a55")

// ActorID is the actor a caller id stands for in the campaigns' records: the id itself when
// it is a UUID, else a name-based UUID (version 5) of it, the same for the same id in every
// process. A host whose user ids are not UUIDs finds its users' records with ActorID(userID).
func ActorID(id string) uuid.UUID {
	if u, err := uuid.Parse(id); err == nil && len(id) == 36 && u != uuid.Nil {
		return u
	}
	return uuid.NewSHA1(actorNamespace, []byte(id))
}

// Route is one route the client serves, relative to where it is mounted, with the permission
// it requires and its rate-limit class (hosts that rate-limit serving traffic apart use it).
type Route = auth.Route

// Routes lists every route Mount registers, under prefix (the mount point's path, such as
// "/api/v1"), with the permission each requires. A host that authorizes or rate-limits on its
// own merges it into its table.
func Routes(prefix string) []Route {
	out := make([]Route, len(routeTable))
	for i, r := range routeTable {
		out[i] = r.Route
		out[i].Path = prefix + r.Path
	}
	return out
}

// KeyedRoutes lists, under prefix, the routes whose POSTs Mount serves with Idempotency-Key
// (platform/idempotency): every POST but the import, which streams its body.
func KeyedRoutes(prefix string) []Route {
	var out []Route
	for _, r := range routeTable {
		if r.idempotent {
			rt := r.Route
			rt.Path = prefix + r.Path
			out = append(out, rt)
		}
	}
	return out
}

// route is one entry of the table: the route and what Mount applies to it besides.
type route struct {
	auth.Route
	// idempotent routes keep the answer of a POST sent with an Idempotency-Key. The import
	// streams its body (and refuses the header itself).
	idempotent bool
	// transfer routes take HTTPConfig.ImportBodyLimit instead of BodyLimit.
	transfer bool
}

// routeTable is the one table of the routes Mount serves and the permission each requires;
// TestRouteTableCoversEveryRoute fails on a route it lacks.
//
// Roles (platform/auth): viewer reads, editor creates/replaces/deletes, manager runs lifecycle
// actions, analyst reads customer-level data, tracker sends tracking events, admin does
// everything. Every role that may export also reads; the Security table of configs/README.md is this
// table, and TestRouteAuthorizationMatrix holds the two together.
var routeTable = func() []route {
	post := func(path string, p auth.Permission) route {
		return route{Route: auth.Route{Method: http.MethodPost, Path: path, Permission: p}, idempotent: true}
	}
	get := func(path string, p auth.Permission) route {
		return route{Route: auth.Route{Method: http.MethodGet, Path: path, Permission: p}}
	}
	serving := func(r route) route { r.Class = auth.ClassServing; return r }
	t := []route{
		post("/campaigns", auth.CampaignsWrite),
		// Export takes every campaign (author ids, revenue and cost on request) in one
		// request: a permission of its own that viewers lack. Import creates, as create.
		get(campaignapi.ExportPath, auth.CampaignsExport),
		{Route: auth.Route{Method: http.MethodPost, Path: campaignapi.ImportPath, Permission: auth.CampaignsWrite}, transfer: true},
		get("/campaigns", auth.CampaignsRead),
		get("/campaigns/:id", auth.CampaignsRead),
		{Route: auth.Route{Method: http.MethodPut, Path: "/campaigns/:id", Permission: auth.CampaignsWrite}},
		{Route: auth.Route{Method: http.MethodDelete, Path: "/campaigns/:id", Permission: auth.CampaignsWrite}},
	}
	for _, action := range []string{"activate", "pause", "resume", "complete", "stop", "cancel"} {
		t = append(t, post("/campaigns/:id/"+action, auth.CampaignsLifecycle))
	}
	t = append(t,
		// Approval above the budget threshold: editors and managers submit; managers (not the
		// campaign's author, which the handler checks) approve or reject.
		post("/campaigns/:id/submit-for-approval", auth.CampaignsSubmit),
		post("/campaigns/:id/approve", auth.CampaignsLifecycle),
		post("/campaigns/:id/reject", auth.CampaignsLifecycle),
		get("/campaigns/:id/transitions", auth.CampaignsRead),
		// A copy is a new campaign: as create.
		post("/campaigns/:id/duplicate", auth.CampaignsWrite),
	)
	// Each bulk action needs the permission of its single action.
	for _, action := range campaignapi.BulkActions() {
		p := auth.CampaignsLifecycle
		if action == "delete" {
			p = auth.CampaignsWrite
		}
		t = append(t, post("/campaigns/bulk/"+action, p))
	}
	t = append(t,
		get("/campaigns/:id/events", auth.CampaignsRead),
		serving(post("/campaigns/:id/track", auth.TrackingWrite)),
		get("/campaigns/:id/metrics", auth.CampaignsRead),
		get("/campaigns/:id/performance", auth.CampaignsRead),
		// Customer ids and when each saw the campaign: personal data, not for viewers.
		get("/campaigns/:id/audience", auth.CustomersRead),
		get("/campaigns/:id/experiment", auth.CampaignsRead),
		// Rolling the winner out changes who sees what, like a lifecycle action: managers.
		post("/campaigns/:id/experiment/conclude", auth.CampaignsLifecycle),
		// A rule's name and status, to label the ids campaigns list: as reading a campaign.
		get("/targeting/rules", auth.CampaignsRead),
		serving(post("/targeting/evaluate", auth.TargetingEvaluate)),
		serving(post("/campaigns/:id/evaluate", auth.TargetingEvaluate)),
	)
	return t
}()

// Mount registers every route of the service on g (usually the host's /api/v1 group), each
// behind the client's own middleware: problem+json errors whatever the host's error handler,
// a request id (the one the host's middleware set, else X-Request-ID, else a new one), the
// refusal of writes a browser sent from another origin (HTTPConfig.TrustedOrigins), the
// body limit, the caller's identity (Config.Identify) and its authorization
// (Config.Authorize, else the role table), and Idempotency-Key on POSTs. Mounted on a host's
// Echo, the routes are as guarded as in the binaries. Mount panics when Config.Identify is
// nil: no route is open to anonymous callers.
func (c *Client) Mount(g *echo.Group) {
	c.mount(g)
}

// Handler serves the routes under prefix (such as "/api/v1") on an Echo of their own, for a
// host on another router: mount it there at prefix without stripping it. It panics as Mount
// does when Config.Identify is nil.
func (c *Client) Handler(prefix string) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpx.ErrorHandler(c.logger)
	c.mount(e.Group(strings.TrimSuffix(prefix, "/")))
	return e
}

func (c *Client) mount(g httpx.Router) {
	if c.cfg.Identify == nil {
		panic("campaigns: Config.Identify is nil: the routes need to know who calls them")
	}
	r := &guarded{next: g, c: c}
	c.campaignsAPI.Register(r)
	c.transferAPI.Register(r)
	c.metricsAPI.Register(r)
	c.targetingAPI.Register(r)
}

// guarded registers each route behind the client's middleware for it.
type guarded struct {
	next httpx.Router
	c    *Client
}

func (g *guarded) GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return named(g.next.GET(path, g.c.handler(http.MethodGet, path, h, m)), h)
}

func (g *guarded) POST(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return named(g.next.POST(path, g.c.handler(http.MethodPost, path, h, m)), h)
}

func (g *guarded) PUT(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return named(g.next.PUT(path, g.c.handler(http.MethodPut, path, h, m)), h)
}

func (g *guarded) DELETE(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return named(g.next.DELETE(path, g.c.handler(http.MethodDelete, path, h, m)), h)
}

// named gives r the name of its handler h, which Echo names a route after (e.Routes), rather
// than the name of the outermost middleware h is composed in.
func named(r *echo.Route, h echo.HandlerFunc) *echo.Route {
	r.Name = runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
	return r
}

// handler is h behind the route's middleware, composed here once: Echo would compose a
// route's own middleware again at every request.
func (c *Client) handler(method, path string, h echo.HandlerFunc, m []echo.MiddlewareFunc) echo.HandlerFunc {
	chain := c.middleware(method, path, m)
	for i := len(chain) - 1; i >= 0; i-- {
		h = chain[i](h)
	}
	return h
}

// middleware is the client's chain for the route method path, then the route's own m. A
// route the table lacks is refused to everyone (403): nothing is served unguarded.
func (c *Client) middleware(method, path string, m []echo.MiddlewareFunc) []echo.MiddlewareFunc {
	var rt *route
	for i := range routeTable {
		if routeTable[i].Method == method && routeTable[i].Path == path {
			rt = &routeTable[i]
			break
		}
	}
	chain := []echo.MiddlewareFunc{httpx.Problems(c.logger), requestID, c.crossOrigin}
	if rt == nil {
		return append(chain, refuse(method, path))
	}
	limit := c.cfg.HTTP.BodyLimit
	if rt.transfer {
		limit = c.cfg.HTTP.ImportBodyLimit
	}
	chain = append(chain, middleware.BodyLimit(strconv.FormatInt(limit, 10)+"B"), c.guard(rt.Permission))
	if rt.idempotent {
		chain = append(chain, c.idempotency.Middleware())
	}
	return append(chain, m...)
}

// requestID keeps the request id a host's middleware put in the context (the binaries'
// does), or takes the caller's X-Request-ID or makes one, as httpx.RequestIDs does.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	ids := httpx.RequestIDs()(next)
	return func(c echo.Context) error {
		if audit.CorrelationID(c.Request().Context()) != "" {
			return next(c)
		}
		return ids(c)
	}
}

// refuse answers 403 to every request of a route the table lacks.
func refuse(method, path string) echo.MiddlewareFunc {
	return func(echo.HandlerFunc) echo.HandlerFunc {
		return func(echo.Context) error {
			return httpx.NewProblem(http.StatusForbidden, "forbidden", "Forbidden",
				fmt.Sprintf("route %s %s has no permission in the service's route table", method, path))
		}
	}
}

// guard identifies the caller (Config.Identify), names it as the request's actor, and
// authorizes it for perm (Config.Authorize, else the role table).
func (c *Client) guard(perm auth.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			req := ec.Request()
			caller, err := c.cfg.Identify(req)
			if err != nil {
				var p *httpx.Problem
				if errors.As(err, &p) {
					return p
				}
				return httpx.NewProblem(http.StatusUnauthorized, "unauthorized", "Unauthorized",
					"the request's credentials were refused: "+err.Error())
			}
			ctx := req.Context()
			if caller.ID != "" {
				if _, known := audit.Actor(ctx); !known {
					ctx = audit.WithActor(ctx, ActorID(caller.ID))
					ec.SetRequest(req.WithContext(ctx))
				}
			}
			if c.cfg.Authorize != nil {
				err = c.cfg.Authorize(ec.Request(), caller, perm)
			} else {
				err = byRole(caller, perm)
			}
			if err != nil {
				var p *httpx.Problem
				if errors.As(err, &p) {
					return p
				}
				return httpx.NewProblem(http.StatusForbidden, "forbidden", "Forbidden", err.Error())
			}
			return next(ec)
		}
	}
}

// byRole is the default Authorize: one of the caller's roles grants perm (auth.Grants).
func byRole(caller Caller, perm auth.Permission) error {
	p := auth.Principal{Roles: caller.Roles}
	if p.Can(perm) {
		return nil
	}
	if caller.ID == "" && len(caller.Roles) == 0 {
		return httpx.NewProblem(http.StatusUnauthorized, "unauthorized", "Unauthorized",
			"this route needs an authenticated caller")
	}
	return httpx.NewProblem(http.StatusForbidden, "forbidden", "Forbidden",
		fmt.Sprintf("this route needs the %s permission, which none of the caller's roles grants", perm))
}
