package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
)

const (
	secSecret   = "matrix-secret-0123456789abcdef0123456789"
	secAudience = "campaigns-api"
	secIssuer   = "https://idp.test"
)

func secSHA(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// secKeyName is the API key of a role in the matrix server's configuration.
func secKeyName(r auth.Role) string { return "key-of-" + string(r) + "-0123456789" }

// secKeyOwner is the user who holds the key of a role: a person of its own per role.
func secKeyOwner(r auth.Role) string {
	return uuid.NewSHA1(uuid.MustParse("9a7e3c1d-2b4f-4e6a-8c0d-1f2e3a4b5c6d"), []byte(r)).String()
}

// secIdP is an identity provider: an HS256 secret, and an RSA key served as a JWKS by an
// httptest server.
type secIdP struct {
	rsa  *rsa.PrivateKey
	jwks *httptest.Server
}

func newSecIdP(t *testing.T) *secIdP {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	idp := &secIdP{rsa: k}
	set := map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}}}
	idp.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(idp.jwks.Close)
	return idp
}

// configure turns authentication on: JWT (HS256 secret + the JWKS) and an API key per role.
func (idp *secIdP) configure(cfg *config.Config) {
	cfg.Auth.Mode = config.AuthJWTOrAPIKey
	cfg.Auth.JWTSecret = secSecret
	cfg.Auth.JWKSURL = idp.jwks.URL
	cfg.Auth.Audience, cfg.Auth.Issuer = secAudience, secIssuer
	for _, r := range auth.Roles() {
		cfg.Auth.APIKeys = append(cfg.Auth.APIKeys, config.APIKey{
			Name: string(r), SHA256: secSHA(secKeyName(r)), Roles: []string{string(r)}, Owner: secKeyOwner(r)})
	}
}

func secClaims(roles ...auth.Role) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": uuid.NewString(), "iss": secIssuer, "aud": secAudience,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": roles}
}

func secSign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// secCase is one way of calling: its headers, and the roles it authenticates with (nil: it
// must not authenticate).
type secCase struct {
	name    string
	headers func(t *testing.T) []string
	roles   []auth.Role
}

func (idp *secIdP) cases() []secCase {
	hs := func(c jwt.MapClaims) func(t *testing.T) []string {
		return func(t *testing.T) []string {
			return []string{"Authorization", "Bearer " + secSign(t, jwt.SigningMethodHS256, []byte(secSecret), c, "")}
		}
	}
	out := []secCase{{name: "no credentials", headers: func(*testing.T) []string { return nil }}}
	for _, r := range auth.Roles() {
		out = append(out,
			secCase{name: "jwt " + string(r), headers: hs(secClaims(r)), roles: []auth.Role{r}},
			secCase{name: "apikey " + string(r), roles: []auth.Role{r},
				headers: func(*testing.T) []string { return []string{auth.HeaderAPIKey, secKeyName(r)} }})
	}
	expired := secClaims(auth.RoleAdmin)
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	wrongAud := secClaims(auth.RoleAdmin)
	wrongAud["aud"] = "another-api"
	out = append(out,
		secCase{name: "jwt RS256 from the JWKS, admin", roles: []auth.Role{auth.RoleAdmin}, headers: func(t *testing.T) []string {
			return []string{"Authorization", "Bearer " + secSign(t, jwt.SigningMethodRS256, idp.rsa, secClaims(auth.RoleAdmin), "rsa-1")}
		}},
		secCase{name: "bad signature", headers: func(t *testing.T) []string {
			return []string{"Authorization", "Bearer " + secSign(t, jwt.SigningMethodHS256, []byte(secSecret+"-forged"), secClaims(auth.RoleAdmin), "")}
		}},
		secCase{name: "expired", headers: hs(expired)},
		secCase{name: "alg none", headers: func(t *testing.T) []string {
			return []string{"Authorization", "Bearer " + secSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, secClaims(auth.RoleAdmin), "")}
		}},
		secCase{name: "alg not allowed (HS384)", headers: func(t *testing.T) []string {
			return []string{"Authorization", "Bearer " + secSign(t, jwt.SigningMethodHS384, []byte(secSecret), secClaims(auth.RoleAdmin), "")}
		}},
		secCase{name: "wrong audience", headers: hs(wrongAud)},
		secCase{name: "unknown api key", headers: func(*testing.T) []string { return []string{auth.HeaderAPIKey, "not-a-key-we-issued"} }},
	)
	return out
}

// secRequest is a request to one route: built for a caller who may (ok) or may not use it.
type secRequest func(t *testing.T, s *apptest.Server, ok bool) (path string, body any, headers []string)

// secRequests has one well-formed request per route of the table, which succeeds (2xx) when
// the caller has the route's permission. A route of the table without a request here fails
// the matrix: add one.
func secRequests(shared func() string, fresh func(t *testing.T) string) map[string]secRequest {
	static := func(path string) secRequest {
		return func(*testing.T, *apptest.Server, bool) (string, any, []string) { return path, nil, nil }
	}
	onShared := func(suffix string, body any) secRequest {
		return func(*testing.T, *apptest.Server, bool) (string, any, []string) {
			return "/api/v1/campaigns/" + shared() + suffix, body, nil
		}
	}
	reason := map[string]any{"reason": "route matrix"}
	reqs := map[string]secRequest{
		"GET /health":                   static("/health"),
		"GET /ready":                    static("/ready"),
		"GET /openapi.yaml":             static("/openapi.yaml"),
		"GET /":                         static("/"),
		"GET /docs":                     static("/docs"),
		"GET /docs/":                    static("/docs/"),
		"GET /docs/redoc.standalone.js": static("/docs/redoc.standalone.js"),
		"GET /metrics":                  static("/metrics"),
		// The console's files are not API operations: sent without the OpenAPI check.
		"GET /console":   static("/console"),
		"GET /console/*": static("/console/campaigns/" + uuid.NewString()),
		"POST /api/v1/campaigns": func(*testing.T, *apptest.Server, bool) (string, any, []string) {
			return "/api/v1/campaigns", validBody("Matrix " + uuid.NewString()[:8]), nil
		},
		"GET /api/v1/campaigns":        static("/api/v1/campaigns?limit=5"),
		"GET /api/v1/campaigns/export": static("/api/v1/campaigns/export?format=csv"),
		// A dry run: the file is checked in full, nothing is written.
		"POST /api/v1/campaigns/import": func(t *testing.T, _ *apptest.Server, _ bool) (string, any, []string) {
			line := string(mustJSON(t, validBody("Matrix import "+uuid.NewString()[:8])))
			return "/api/v1/campaigns/import?dryRun=true", line, []string{"Content-Type", "application/x-ndjson"}
		},
		"GET /api/v1/campaigns/:id": onShared("", nil),
		"PUT /api/v1/campaigns/:id": func(*testing.T, *apptest.Server, bool) (string, any, []string) {
			return "/api/v1/campaigns/" + shared(), validBody("Matrix shared"), []string{"If-Match", "*"}
		},
		"DELETE /api/v1/campaigns/:id": func(t *testing.T, _ *apptest.Server, ok bool) (string, any, []string) {
			if ok { // it will be deleted: a campaign of its own
				return "/api/v1/campaigns/" + fresh(t), nil, nil
			}
			return "/api/v1/campaigns/" + shared(), nil, nil
		},
		"GET /api/v1/campaigns/:id/transitions": onShared("/transitions", nil),
		"GET /api/v1/campaigns/:id/events":      onShared("/events", nil),
		"POST /api/v1/campaigns/:id/track":      onShared("/track", map[string]any{"type": "IMPRESSION", "channel": "EMAIL"}),
		"GET /api/v1/campaigns/:id/metrics":     onShared("/metrics", nil),
		"GET /api/v1/campaigns/:id/performance": onShared("/performance", nil),
		"GET /api/v1/campaigns/:id/audience":    onShared("/audience", nil),
		"GET /api/v1/campaigns/:id/experiment":  onShared("/experiment", nil),
		// A real rollout on the shared DRAFT campaign (its A/B test is on); PUT resets the weights.
		"POST /api/v1/campaigns/:id/experiment/conclude": onShared("/experiment/conclude", map[string]any{"winner": "A"}),
		"GET /api/v1/targeting/rules":                    static("/api/v1/targeting/rules?id=" + uuid.NewString()),
		// Targeting evaluation: the body follows targeting's contract; see targeting/README.md.
		"POST /api/v1/targeting/evaluate": func(*testing.T, *apptest.Server, bool) (string, any, []string) {
			return "/api/v1/targeting/evaluate", map[string]any{"customerId": "c-1", "context": map[string]any{}}, nil
		},
		"POST /api/v1/campaigns/:id/evaluate": onShared("/evaluate", map[string]any{"customerId": "c-1", "context": map[string]any{}}),
	}
	reqs["POST /api/v1/campaigns/:id/duplicate"] = onShared("/duplicate", nil)
	// Bulk actions as dry runs on the shared campaign: a 200 whatever each verdict.
	for _, a := range []string{"activate", "pause", "resume", "complete", "cancel", "delete"} {
		reqs["POST /api/v1/campaigns/bulk/"+a] = func(*testing.T, *apptest.Server, bool) (string, any, []string) {
			body := map[string]any{"ids": []string{shared()}}
			if a != "delete" {
				body["reason"] = "route matrix"
			}
			return "/api/v1/campaigns/bulk/" + a + "?dryRun=true", body, nil
		}
	}
	// Approval steps: on a campaign of their own (above the matrix server's EUR threshold),
	// written by someone else than the caller, REQUIRED to submit, PENDING to decide.
	// A decision names the version its decider read (If-Match is required).
	approvalStep := func(suffix string, pending bool, body any) secRequest {
		return func(t *testing.T, s *apptest.Server, ok bool) (string, any, []string) {
			if !ok {
				return "/api/v1/campaigns/" + shared() + suffix, body, []string{"If-Match", `"1"`}
			}
			id := approvalCampaign(t, s, pending)
			c, err := s.API.Campaigns.Get(context.Background(), campaign.ID(uuid.MustParse(id)))
			require.NoError(t, err)
			return "/api/v1/campaigns/" + id + suffix, body, []string{"If-Match", `"` + strconv.FormatInt(c.Version(), 10) + `"`}
		}
	}
	reqs["POST /api/v1/campaigns/:id/submit-for-approval"] = approvalStep("/submit-for-approval", false, nil)
	reqs["POST /api/v1/campaigns/:id/approve"] = approvalStep("/approve", true, nil)
	reqs["POST /api/v1/campaigns/:id/reject"] = approvalStep("/reject", true, map[string]any{"reason": "route matrix"})
	// Lifecycle actions as dry runs: the verdict is a 200 whatever the campaign's status.
	for _, a := range []string{"activate", "pause", "resume", "complete", "stop", "cancel"} {
		reqs["POST /api/v1/campaigns/:id/"+a] = onShared("/"+a+"?dryRun=true", reason)
	}
	return reqs
}

func TestRouteAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	idp := newSecIdP(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(cfg *config.Config) {
		idp.configure(cfg)
		cfg.Approval.Thresholds = map[string]string{"EUR": "5000"}
	}})
	admin := []string{auth.HeaderAPIKey, secKeyName(auth.RoleAdmin)}
	newCampaign := func(t *testing.T, name string) string {
		r := s.Do(http.MethodPost, "/api/v1/campaigns", validBody(name), admin...)
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		return r.Map(t)["id"].(string)
	}
	sharedID := newCampaign(t, "Matrix shared")
	reqs := secRequests(func() string { return sharedID },
		func(t *testing.T) string { return newCampaign(t, "Matrix doomed "+uuid.NewString()[:8]) })

	_, documented := documentedPermissions(t)
	policy := app.RoutePolicy(s.API.Config)
	routes := s.API.Echo.Routes()
	require.NoError(t, policy.Verify(routes), "every registered route has a permission (NewAPI checks it too)")
	unserved := map[string]bool{}
	for _, e := range policy.Unregistered(routes) {
		unserved[e.Method+" "+e.Path] = true
		t.Logf("the route table lists %s %s, which this instance does not serve (capability not mounted): not exercised", e.Method, e.Path)
	}

	for _, route := range policy {
		key := route.Method + " " + route.Path
		build, ok := reqs[key]
		if !ok {
			t.Errorf("the matrix has no request for %s: add one to secRequests", key)
			continue
		}
		if unserved[key] {
			continue
		}
		doc, ok := documented[key]
		if !ok {
			t.Errorf("configs/README.md's route table lacks %s", key)
			continue
		}
		t.Run(key, func(t *testing.T) {
			for _, c := range idp.cases() {
				t.Run(c.name, func(t *testing.T) {
					// What the Security table of configs/README.md says: public, or a yes in a role's column.
					allowed := doc.permission == auth.Public
					for _, r := range c.roles {
						allowed = allowed || doc.allows[r]
					}
					path, body, extra := build(t, s, allowed)
					var r *apptest.Response
					if strings.HasPrefix(route.Path, "/console") {
						r = sendOutsideTheDocument(t, s, route.Method, path, c.headers(t))
					} else {
						r = s.Do(route.Method, path, body, append(extra, c.headers(t)...)...)
					}
					switch {
					case allowed && (route.Path == "/" || route.Path == "/docs/"):
						assert.True(t, r.Status >= 300 && r.Status < 400, "%s as %s: want a redirect, got %d: %s", key, c.name, r.Status, r.Body)
					case allowed:
						assert.True(t, r.Status >= 200 && r.Status < 300, "%s as %s: want 2xx, got %d: %s", key, c.name, r.Status, r.Body)
					case c.roles == nil:
						requireProblem(t, r, http.StatusUnauthorized)
						assert.NotEmpty(t, r.Header.Get("WWW-Authenticate"))
					default:
						requireProblem(t, r, http.StatusForbidden)
						assert.Empty(t, r.Header.Get("WWW-Authenticate"))
					}
				})
			}
		})
	}
}

// sendOutsideTheDocument sends a request to a route that is not an API operation (the
// console's files), which apptest would refuse to check against the OpenAPI document.
func sendOutsideTheDocument(t *testing.T, s *apptest.Server, method, path string, header []string) *apptest.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func TestProtectedMetricsEndpoint(t *testing.T) {
	t.Parallel()
	idp := newSecIdP(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(cfg *config.Config) {
		idp.configure(cfg)
		cfg.Auth.PublicMetrics = false
	}})
	requireProblem(t, s.Do(http.MethodGet, "/metrics", nil), http.StatusUnauthorized)
	requireProblem(t, s.Do(http.MethodGet, "/metrics", nil, auth.HeaderAPIKey, secKeyName(auth.RoleViewer)), http.StatusForbidden)
	for _, r := range []auth.Role{auth.RoleMonitor, auth.RoleAdmin} {
		got := s.Do(http.MethodGet, "/metrics", nil, auth.HeaderAPIKey, secKeyName(r))
		require.Equal(t, http.StatusOK, got.Status, string(r))
		assert.Contains(t, string(got.Body), "campaigns_build_info")
	}
	// The probes and the spec stay public.
	for _, p := range []string{"/health", "/ready", "/openapi.yaml", "/docs", "/docs/redoc.standalone.js"} {
		assert.Equal(t, http.StatusOK, s.Do(http.MethodGet, p, nil).Status, p)
	}
}

func TestAuthenticatedCallerIsTheActor(t *testing.T) {
	t.Parallel()
	idp := newSecIdP(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: idp.configure})
	sub := uuid.NewString()
	c := secClaims(auth.RoleEditor, auth.RoleManager)
	c["sub"] = sub
	bearer := []string{"Authorization", "Bearer " + secSign(t, jwt.SigningMethodHS256, []byte(secSecret), c, "")}
	// X-User-ID is ignored once authentication is on; a createdBy in the body is refused.
	body := validBody("Actor check")
	body["createdBy"] = uuid.NewString()
	p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", body, bearer...), http.StatusBadRequest)
	assert.Equal(t, []string{"createdBy"}, fieldsOf(p))
	delete(body, "createdBy")
	r := s.Do(http.MethodPost, "/api/v1/campaigns", body, append(bearer, "X-User-ID", uuid.NewString())...)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	got := r.Map(t)
	assert.Equal(t, sub, got["createdBy"])
	id := got["id"].(string)
	requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate", nil, bearer...), http.StatusOK)
	tr := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/transitions", nil, bearer...), http.StatusOK)
	items, _ := tr["transitions"].([]any)
	require.NotEmpty(t, items, "%v", tr)
	assert.Equal(t, sub, items[len(items)-1].(map[string]any)["actor"])
	ev := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/events", nil, bearer...), http.StatusOK)
	events, _ := ev["events"].([]any)
	require.Len(t, events, 2)
	for _, e := range events {
		assert.Equal(t, sub, e.(map[string]any)["actor"])
	}
}

func TestAnonymousModeRefusesPublicListener(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"0.0.0.0", "", "::", "192.0.2.10"} {
		t.Run("host "+host, func(t *testing.T) {
			cfg := apptest.Config(t, dbtest.SQLiteTarget(t))
			cfg.HTTP.Host = host
			a, err := app.NewAPI(context.Background(), cfg, discardLogger(), app.APIConfig{})
			if a != nil {
				_ = a.Close()
			}
			var cerr *config.Error
			require.True(t, errors.As(err, &cerr), "want a *config.Error, got %v", err)
			assert.Equal(t, "auth.mode", cerr.Key)
			assert.Contains(t, err.Error(), "not loopback")
			assert.Contains(t, err.Error(), "auth.allow_anonymous")
		})
	}
	t.Run("allowed explicitly", func(t *testing.T) {
		cfg := apptest.Config(t, dbtest.SQLiteTarget(t))
		cfg.HTTP.Host, cfg.Auth.AllowAnonymous = "0.0.0.0", true
		a, err := app.NewAPI(context.Background(), cfg, discardLogger(), app.APIConfig{})
		require.NoError(t, err)
		require.NoError(t, a.Close())
	})
	t.Run("authentication on", func(t *testing.T) {
		cfg := apptest.Config(t, dbtest.SQLiteTarget(t))
		cfg.HTTP.Host = "0.0.0.0"
		cfg.Auth.Mode, cfg.Auth.JWTSecret = config.AuthJWT, secSecret
		a, err := app.NewAPI(context.Background(), cfg, discardLogger(), app.APIConfig{})
		require.NoError(t, err)
		require.NoError(t, a.Close())
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Now())
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(cfg *config.Config) {
		cfg.RateLimit.Enabled = true
		cfg.RateLimit.RequestsPerSecond, cfg.RateLimit.Burst = 0.5, 3 // a token every 2 s
	}, Now: clk.Now})
	list := func(h ...string) *apptest.Response { return s.Do(http.MethodGet, "/api/v1/campaigns", nil, h...) }
	for i := range 3 {
		require.Equal(t, http.StatusOK, list(asUserA...).Status, "request %d is within the burst", i)
	}
	r := list(asUserA...)
	p := requireProblem(t, r, http.StatusTooManyRequests)
	assert.Equal(t, "urn:campaigns:problem:rate-limited", p["type"])
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds")
	assert.Equal(t, 2, retry, "a token every 2 s: retry after 2 s")
	assert.EqualValues(t, retry, p["retryAfter"])

	// Another caller has its own budget; probes are never limited.
	assert.Equal(t, http.StatusOK, list("X-User-ID", userB).Status)
	for range 5 {
		assert.Equal(t, http.StatusOK, s.Do(http.MethodGet, "/health", nil, asUserA...).Status)
	}
	// Anonymous callers share their address's budget.
	anonymous := 0
	for range 5 {
		if list().Status == http.StatusTooManyRequests {
			anonymous++
		}
	}
	assert.Equal(t, 2, anonymous, "the address's burst of 3 is spent, then 429")

	// Until Retry-After has passed the caller waits; then it is served again.
	clk.advance(time.Duration(retry)*time.Second - time.Millisecond)
	requireProblem(t, list(asUserA...), http.StatusTooManyRequests)
	clk.advance(time.Millisecond)
	assert.Equal(t, http.StatusOK, list(asUserA...).Status)
	fams := scrape(t, s)
	assert.GreaterOrEqual(t, counter(t, fams, "campaigns_http_rate_limited_total", nil), 3.0)
	assert.GreaterOrEqual(t, counter(t, fams, "campaigns_http_request_duration_seconds",
		map[string]string{"route": "/api/v1/campaigns", "method": "GET", "status": "429"}), 3.0)
}

func TestSecurityHeadersAndCORS(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(cfg *config.Config) {
		cfg.CORS.AllowedOrigins = []string{"https://app.example.com"}
	}})
	for _, path := range []string{"/api/v1/campaigns", "/api/v1/campaigns/not-a-uuid", "/health"} {
		r := s.Do(http.MethodGet, path, nil)
		assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"), path)
		assert.Equal(t, "DENY", r.Header.Get("X-Frame-Options"), path)
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"), path)
		assert.Contains(t, r.Header.Get("Content-Security-Policy"), "default-src 'none'", path)
	}
	preflight := func(origin string) *http.Response {
		req, err := http.NewRequest(http.MethodOptions, s.URL+"/api/v1/campaigns", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := s.Client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://app.example.com")
	assert.Equal(t, http.StatusNoContent, ok.StatusCode)
	assert.Equal(t, "https://app.example.com", ok.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, strings.ToLower(ok.Header.Get("Access-Control-Allow-Headers")), "authorization")
	assert.Empty(t, preflight("https://evil.example.com").Header.Get("Access-Control-Allow-Origin"))

	// CORS is off by default.
	plain := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	req, err := http.NewRequest(http.MethodGet, plain.URL+"/api/v1/campaigns", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := plain.Client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// scrape reads GET /metrics.
func scrape(t *testing.T, s *apptest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	r := s.Do(http.MethodGet, "/metrics", nil)
	require.Equal(t, http.StatusOK, r.Status)
	return parseMetrics(t, r.Body)
}

func parseMetrics(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	return fams
}

// series finds the series of family name whose labels include want; nil when there is none.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// counter is the value of a counter or gauge series, or the count of a histogram's.
func counter(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := series(fams, name, labels)
	if m == nil {
		t.Errorf("no series %s%v", name, labels)
		return -1
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return -1
}

func TestPrometheusMetrics(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) { testPrometheusMetrics(t, target) })
}

func testPrometheusMetrics(t *testing.T, target dbtest.Target) {
	t.Parallel()
	s := apptest.New(t, target, apptest.ServerConfig{})
	// The scenario: create, activate, pause, track (two good events and one bad), publish the
	// events, aggregate.
	id := create(t, s, validBody("Observed"))["id"].(string)
	requireStatus(t, action(s, id, "activate", nil), http.StatusOK)
	requireStatus(t, action(s, id, "pause", nil), http.StatusOK)
	requireStatus(t, track(s, id, map[string]any{"events": []any{
		map[string]any{"type": "IMPRESSION", "channel": "EMAIL"},
		map[string]any{"type": "CLICK", "channel": "EMAIL"},
	}}), http.StatusAccepted)
	_, err := s.API.NATS.JS.Publish(context.Background(), "campaigns.tracking."+id, []byte(`{"type": "CLICK",`))
	require.NoError(t, err)
	drain(t, s)
	aggregate(t, s)

	fams := scrape(t, s)
	counts := map[string]float64{"CampaignCreated": 1, "CampaignActivated": 1, "CampaignPaused": 1,
		"CampaignCompleted": 0, "CampaignCancelled": 0, "CampaignResumed": 0}
	for typ, want := range counts {
		assert.InDelta(t, want, counter(t, fams, "campaigns_campaign_events_total", map[string]string{"type": typ}), 0, typ)
	}
	assert.InDelta(t, 1, counter(t, fams, "campaigns_http_request_duration_seconds",
		map[string]string{"route": "/api/v1/campaigns", "method": "POST", "status": "201"}), 0)
	assert.InDelta(t, 1, counter(t, fams, "campaigns_http_request_duration_seconds",
		map[string]string{"route": "/api/v1/campaigns/:id/activate", "method": "POST", "status": "200"}), 0)
	assert.InDelta(t, 1, counter(t, fams, "campaigns_http_request_duration_seconds",
		map[string]string{"route": "/api/v1/campaigns/:id/track", "method": "POST", "status": "202"}), 0)
	assert.Equal(t, dto.MetricType_HISTOGRAM, fams["campaigns_http_request_duration_seconds"].GetType())
	assert.InDelta(t, 1, counter(t, fams, "campaigns_http_requests_in_flight", nil), 0, "the scrape itself")

	assert.InDelta(t, 2, counter(t, fams, "campaigns_tracking_events_ingested_total", nil), 0)
	assert.InDelta(t, 2, counter(t, fams, "campaigns_tracking_events_aggregated_total", nil), 0)
	assert.InDelta(t, 1, counter(t, fams, "campaigns_tracking_events_dead_lettered_total", nil), 0)
	assert.InDelta(t, 0, counter(t, fams, "campaigns_tracking_consumer_pending_messages", map[string]string{"consumer": "partitions"}), 0)
	assert.GreaterOrEqual(t, counter(t, fams, "campaigns_outbox_published_total", nil), 3.0)
	assert.GreaterOrEqual(t, counter(t, fams, "campaigns_outbox_publish_latency_seconds", nil), 3.0)
	assert.InDelta(t, 0, counter(t, fams, "campaigns_outbox_backlog_events", nil), 0)
	assert.InDelta(t, 1, counter(t, fams, "campaigns_nats_connected", nil), 0)
	assert.GreaterOrEqual(t, counter(t, fams, "go_sql_max_open_connections", map[string]string{"db_name": "campaigns"}), 1.0)
	assert.NotNil(t, series(fams, "go_sql_in_use_connections", map[string]string{"db_name": "campaigns"}))
	assert.InDelta(t, 1, counter(t, fams, "campaigns_build_info", map[string]string{"component": "api"}), 0)
	bi := series(fams, "campaigns_build_info", nil)
	require.NotNil(t, bi)
	labels := map[string]bool{}
	for _, l := range bi.GetLabel() {
		labels[l.GetName()] = true
	}
	assert.Equal(t, map[string]bool{"component": true, "version": true, "revision": true, "go_version": true}, labels)
	assert.NotNil(t, fams["go_goroutines"], "Go runtime collector")

	// An unmatched path is one series, whatever the path.
	s.Do(http.MethodGet, "/no/such/"+uuid.NewString(), nil)
	s.Do(http.MethodGet, "/no/such/"+uuid.NewString(), nil)
	// (A request is observed just after its response is sent: wait for the second one.)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		m := series(scrapeNow(c, s), "campaigns_http_request_duration_seconds",
			map[string]string{"route": "unmatched", "method": "GET", "status": "404"})
		require.NotNil(c, m, "no series for the unmatched route")
		assert.EqualValues(c, 2, m.GetHistogram().GetSampleCount())
	}, 5*time.Second, 10*time.Millisecond)
}

// scrapeNow is scrape for the conditions of EventuallyWithT, which run on another goroutine:
// it reports to c, never to the test.
func scrapeNow(c *assert.CollectT, s *apptest.Server) map[string]*dto.MetricFamily {
	resp, err := s.Client.Get(s.URL + "/metrics")
	require.NoError(c, err)
	defer resp.Body.Close()
	require.Equal(c, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(c, err)
	return parseMetricsNow(c, body)
}

// parseMetricsNow is parseMetrics for the conditions of EventuallyWithT.
func parseMetricsNow(c *assert.CollectT, body []byte) map[string]*dto.MetricFamily {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(c, err)
	return fams
}

func TestMetricsRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	one := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	two := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	create(t, one, validBody("Only in one"))
	assert.InDelta(t, 1, counter(t, scrape(t, one), "campaigns_campaign_events_total", map[string]string{"type": "CampaignCreated"}), 0)
	assert.InDelta(t, 0, counter(t, scrape(t, two), "campaigns_campaign_events_total", map[string]string{"type": "CampaignCreated"}), 0)
}

func secFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestWorkerServesMetricsAndHealth(t *testing.T) {
	t.Parallel()
	cfg := apptest.Config(t, dbtest.SQLiteTarget(t))
	cfg.Worker.Port = secFreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, app.Migrate(ctx, cfg, "up", io.Discard))
	done := make(chan error, 1)
	go func() { done <- app.RunWorker(ctx, cfg, discardLogger()) }()
	base := "http://" + cfg.Worker.Addr()
	get := func(path string) (int, []byte) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	require.Eventually(t, func() bool { code, _ := get("/health"); return code == http.StatusOK }, 20*time.Second, 20*time.Millisecond)
	var fams map[string]*dto.MetricFamily
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		code, body := get("/metrics")
		require.Equal(c, http.StatusOK, code)
		fams = parseMetricsNow(c, body)
		// The consumer lag appears once the aggregator has created its consumer.
		assert.NotNil(c, series(fams, "campaigns_tracking_consumer_pending_messages", nil), "consumer lag")
	}, 20*time.Second, 50*time.Millisecond)
	assert.InDelta(t, 1, counter(t, fams, "campaigns_build_info", map[string]string{"component": "worker"}), 0)
	assert.NotNil(t, series(fams, "campaigns_outbox_backlog_events", nil))
	assert.NotNil(t, series(fams, "campaigns_nats_connected", nil))
	assert.NotNil(t, series(fams, "go_sql_open_connections", map[string]string{"db_name": "campaigns"}))
	assert.NotNil(t, series(fams, "campaigns_campaign_events_total", map[string]string{"type": "CampaignCompleted"}))
	assert.NotNil(t, series(fams, "campaigns_http_request_duration_seconds", map[string]string{"route": "/health", "status": "200"}))
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not stop")
	}
}

// jsonLines is the JSON log lines in out, each as a map.
func jsonLines(out *logtest.Buffer) []map[string]any {
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

func TestLogsCarryTheRequestIDAndNoSecrets(t *testing.T) {
	t.Parallel()
	idp := newSecIdP(t)
	cfg := apptest.Config(t, dbtest.SQLiteTarget(t))
	idp.configure(cfg)
	cfg.Log.Level = "debug"
	var out logtest.Buffer
	logger := app.NewLogger(cfg.Log, &out)
	a, err := app.NewAPI(context.Background(), cfg, logger, app.APIConfig{})
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); _ = a.Close() })

	good := secSign(t, jwt.SigningMethodHS256, []byte(secSecret), secClaims(auth.RoleAdmin), "")
	expiredClaims := secClaims(auth.RoleAdmin)
	expiredClaims["exp"] = time.Now().Add(-time.Hour).Unix()
	expired := secSign(t, jwt.SigningMethodHS256, []byte(secSecret), expiredClaims, "")
	send := func(reqID string, h ...string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/campaigns/"+uuid.NewString(), nil)
		require.NoError(t, err)
		req.Header.Set("X-Request-ID", reqID)
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	send("req-good", "Authorization", "Bearer "+good)
	send("req-expired", "Authorization", "Bearer "+expired)
	send("req-key", auth.HeaderAPIKey, secKeyName(auth.RoleViewer))
	send("req-badkey", auth.HeaderAPIKey, "a-wrong-key-0123456789")

	wanted := []string{"req-good http request", "req-expired http request", "req-expired authentication failed",
		"req-key http request", "req-badkey http request", "req-badkey authentication failed"}
	// The access log line is written just after the response: wait for the last one.
	require.Eventually(t, func() bool {
		seen := map[string]bool{}
		for _, line := range jsonLines(&out) {
			id, _ := line["request_id"].(string)
			msg, _ := line["msg"].(string)
			seen[id+" "+msg] = true
		}
		for _, want := range wanted {
			if !seen[want] {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond, "log lines %v in\n%s", wanted, &out)
	for _, line := range jsonLines(&out) {
		if msg, _ := line["msg"].(string); msg == "http request" || msg == "authentication failed" {
			assert.NotEmpty(t, line["request_id"], "every line of a request carries its id: %v", line)
		}
	}
	logs := out.String()
	for _, secret := range []string{good, expired, secSecret, secKeyName(auth.RoleViewer), "a-wrong-key-0123456789",
		secSHA(secKeyName(auth.RoleViewer))} {
		assert.NotContains(t, logs, secret, "a credential leaked into the logs")
	}
	assert.Contains(t, logs, `"reason":"expired"`)
}

// The API's own server answers oversized headers with a documented 431 problem carrying the
// security headers, not Go's plain-text answer: 2 MB of headers, as a hostile client sends.
func TestOversizedHeadersAreProblems(t *testing.T) {
	t.Parallel()
	s := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	send := func(padding int) *apptest.Response {
		req, err := http.NewRequest(http.MethodGet, s.URL+"/api/v1/campaigns", nil)
		require.NoError(t, err)
		req.Header.Set("X-Padding", strings.Repeat("p", padding))
		return s.Send(req, nil)
	}
	assert.Equal(t, http.StatusOK, send(60<<10).Status, "within the default 64 KiB")
	for _, padding := range []int{65 << 10, 2 << 20} {
		r := send(padding)
		p := requireProblem(t, r, http.StatusRequestHeaderFieldsTooLarge)
		assert.Equal(t, "urn:campaigns:problem:headers-too-large", p["type"])
		assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
		assert.Equal(t, "DENY", r.Header.Get("X-Frame-Options"))
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		assert.Contains(t, r.Header.Get("Content-Security-Policy"), "default-src 'none'")
	}
	// The limit is configurable.
	small := apptest.Serve(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(c *config.Config) { c.HTTP.HeaderLimit = 4096 }})
	req, err := http.NewRequest(http.MethodGet, small.URL+"/health", nil)
	require.NoError(t, err)
	req.Header.Set("X-Padding", strings.Repeat("p", 5000))
	requireProblem(t, small.Send(req, nil), http.StatusRequestHeaderFieldsTooLarge)
}

// An API key acts as its owner: what it writes names the owner, and the approval rules judge
// the owner. The author of a campaign (with a token) cannot approve it with the admin key
// they also hold; another user's admin key can.
func TestAPIKeyActsAsItsOwner(t *testing.T) {
	t.Parallel()
	idp := newSecIdP(t)
	author, other := uuid.NewString(), uuid.NewString()
	const authorKey, otherKey = "admin-key-of-the-author-0123456789", "admin-key-of-another-user-0123456789"
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(cfg *config.Config) {
		idp.configure(cfg)
		cfg.Approval.Thresholds = map[string]string{"EUR": "10000.00"}
		cfg.Auth.APIKeys = append(cfg.Auth.APIKeys,
			config.APIKey{Name: "author-admin", SHA256: secSHA(authorKey), Roles: []string{"admin"}, Owner: author},
			config.APIKey{Name: "other-admin", SHA256: secSHA(otherKey), Roles: []string{"admin"}, Owner: other})
	}})
	c := secClaims(auth.RoleEditor)
	c["sub"] = author
	asAuthor := []string{"Authorization", "Bearer " + secSign(t, jwt.SigningMethodHS256, []byte(secSecret), c, "")}
	// The key, and If-Match naming the version it read (a decision requires one).
	withKey := func(id, key string) []string {
		r := s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil, auth.HeaderAPIKey, key)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		return []string{auth.HeaderAPIKey, key, "If-Match", r.Header.Get("ETag")}
	}

	id := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", bigBody("Owner check"), asAuthor...), http.StatusCreated)["id"].(string)
	requireStatus(t, step(s, id, "submit-for-approval", nil, asAuthor...), http.StatusOK)
	for _, name := range []string{"approve", "reject"} {
		var body any
		if name == "reject" {
			body = map[string]any{"reason": "my own"}
		}
		p := requireProblem(t, step(s, id, name, body, withKey(id, authorKey)...), http.StatusForbidden)
		assert.Equal(t, "urn:campaigns:problem:approver-is-author", p["type"], name)
	}
	assert.Equal(t, "PENDING", approvalOf(t, requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id, nil, asAuthor...), http.StatusOK))["status"])
	a := approvalOf(t, requireStatus(t, step(s, id, "approve", nil, withKey(id, otherKey)...), http.StatusOK))
	assert.Equal(t, "APPROVED", a["status"])
	assert.Equal(t, other, a["decidedBy"], "the decision names the key's owner")

	// What a key writes names its owner: the author's key writes as the author.
	byKey := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", bigBody("Owner check 2"), auth.HeaderAPIKey, authorKey), http.StatusCreated)
	assert.Equal(t, author, byKey["createdBy"])
	kid := byKey["id"].(string)
	// Submitted with the other user's key, it is that user's submission: they cannot decide it.
	requireStatus(t, step(s, kid, "submit-for-approval", nil, auth.HeaderAPIKey, otherKey), http.StatusOK)
	p := requireProblem(t, step(s, kid, "approve", nil, withKey(kid, otherKey)...), http.StatusForbidden)
	assert.Equal(t, "urn:campaigns:problem:approver-is-submitter", p["type"])
	ev := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+kid+"/events", nil, asAuthor...), http.StatusOK)
	for _, e := range ev["events"].([]any) {
		m := e.(map[string]any)
		want := author
		if m["type"] == "CampaignSubmittedForApproval" {
			want = other
		}
		assert.Equal(t, want, m["actor"], "%s", m["type"])
	}
}

// The reproductions: a viewer (by token or by key) neither reads the customers a campaign
// reached nor exports the campaigns, with or without their metrics; the 403 names the
// permission it lacks. An analyst reads the audience; editors, managers and analysts export.
func TestPersonalDataAndExportNeedTheirOwnPermissions(t *testing.T) {
	t.Parallel()
	idp := newSecIdP(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: idp.configure})
	key := func(r auth.Role) []string { return []string{auth.HeaderAPIKey, secKeyName(r)} }
	token := func(r auth.Role) []string {
		return []string{"Authorization", "Bearer " + secSign(t, jwt.SigningMethodHS256, []byte(secSecret), secClaims(r), "")}
	}
	id := requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns", validBody("Personal data"), key(auth.RoleAdmin)...), http.StatusCreated)["id"].(string)
	requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/activate", nil, key(auth.RoleAdmin)...), http.StatusOK)
	requireStatus(t, s.Do(http.MethodPost, "/api/v1/campaigns/"+id+"/track",
		map[string]any{"type": "IMPRESSION", "channel": "EMAIL", "customerId": "c-42"}, key(auth.RoleTracker)...), http.StatusAccepted)
	aggregate(t, s)

	audience := "/api/v1/campaigns/" + id + "/audience"
	exports := []string{"/api/v1/campaigns/export", "/api/v1/campaigns/export?format=csv",
		"/api/v1/campaigns/export?format=jsonl&includeMetrics=true", "/api/v1/campaigns/export?format=csv&includeMetrics=true"}
	for name, viewer := range map[string][]string{"key": key(auth.RoleViewer), "token": token(auth.RoleViewer)} {
		r := s.Do(http.MethodGet, audience, nil, viewer...)
		p := requireProblem(t, r, http.StatusForbidden)
		assert.Contains(t, p["detail"], "customers:read", "viewer by %s", name)
		assert.NotContains(t, string(r.Body), `"c-42"`, "no customer id (a random request id may hold the letters c-42)")
		for _, path := range exports {
			r := s.Do(http.MethodGet, path, nil, viewer...)
			p := requireProblem(t, r, http.StatusForbidden)
			assert.Contains(t, p["detail"], "campaigns:export", "viewer by %s: %s", name, path)
			assert.NotContains(t, string(r.Body), "Personal data")
		}
		// What a viewer still reads: the campaign and its reach as a count.
		m := requireStatus(t, s.Do(http.MethodGet, "/api/v1/campaigns/"+id+"/metrics", nil, viewer...), http.StatusOK)
		assert.NotNil(t, m)
	}

	for _, r := range []auth.Role{auth.RoleEditor, auth.RoleManager, auth.RoleTracker, auth.RoleMonitor} {
		requireProblem(t, s.Do(http.MethodGet, audience, nil, key(r)...), http.StatusForbidden)
	}
	for _, r := range []auth.Role{auth.RoleAnalyst, auth.RoleAdmin} {
		got := requireStatus(t, s.Do(http.MethodGet, audience, nil, key(r)...), http.StatusOK)
		require.Len(t, got["customers"], 1, "%s", r)
		assert.Equal(t, "c-42", got["customers"].([]any)[0].(map[string]any)["customerId"], "%s", r)
	}
	for _, r := range []auth.Role{auth.RoleEditor, auth.RoleManager, auth.RoleAnalyst, auth.RoleAdmin} {
		for _, path := range exports {
			got := s.Do(http.MethodGet, path, nil, key(r)...)
			require.Equal(t, http.StatusOK, got.Status, "%s %s: %s", r, path, got.Body)
			assert.Contains(t, string(got.Body), "Personal data", "%s %s", r, path)
		}
	}
}
