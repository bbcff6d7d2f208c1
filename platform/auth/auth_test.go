package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

const secret = "0123456789abcdef0123456789abcdef-test-secret"

var user = uuid.MustParse("7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11")

func baseConfig() auth.Settings {
	return auth.Settings{
		Mode: auth.ModeJWT, JWTSecret: secret, Algorithms: []string{"RS256", "ES256", "HS256"},
		Leeway: 30 * time.Second, RolesClaim: "roles", JWKSRefreshInterval: 15 * time.Minute,
		JWKSFetchTimeout: 2 * time.Second, JWKSMinRefetchInterval: 30 * time.Second,
	}
}

func policy() auth.Policy {
	return auth.Policy{
		{Method: http.MethodGet, Path: "/health", Permission: auth.Public},
		{Method: http.MethodGet, Path: "/things", Permission: auth.CampaignsRead},
		{Method: http.MethodPost, Path: "/things", Permission: auth.CampaignsWrite},
	}
}

// server mounts policy's routes behind the Authenticator; each answers the actor it saw.
func server(t *testing.T, a *auth.Authenticator) *echo.Echo {
	t.Helper()
	var e *echo.Echo
	e = httpx.NewEcho(httpx.EchoConfig{Logger: discard(), BodyLimit: 1 << 20, RequestTimeout: 5 * time.Second,
		Identify: []echo.MiddlewareFunc{a.Authenticate(), a.Authorize(func() []*echo.Route { return e.Routes() })}})
	h := func(c echo.Context) error {
		actor, _ := audit.Actor(c.Request().Context())
		return c.String(http.StatusOK, actor.String())
	}
	e.GET("/health", h)
	e.GET("/things", h)
	e.POST("/things", h)
	return e
}

func do(e *echo.Echo, method, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func claims(roles ...string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": user.String(), "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "roles": roles}
}

func hs(t *testing.T, c jwt.MapClaims, key string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(key))
	require.NoError(t, err)
	return s
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestJWTAuthentication(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.Issuer, cfg.Audience = "https://idp.example.com", "campaigns-api"
	var failures []string
	a, err := auth.New(policy(), auth.Config{Settings: cfg, OnFailure: func(r string) { failures = append(failures, r) }})
	require.NoError(t, err)
	e := server(t, a)
	good := func() jwt.MapClaims {
		c := claims("viewer")
		c["iss"], c["aud"] = "https://idp.example.com", "campaigns-api"
		return c
	}
	tests := []struct {
		name   string
		token  func() string
		status int
		reason string
	}{
		{"valid", func() string { return hs(t, good(), secret) }, 200, ""},
		{"audience in a list", func() string {
			c := good()
			c["aud"] = []string{"other", "campaigns-api"}
			return hs(t, c, secret)
		}, 200, ""},
		{"bad signature", func() string { return hs(t, good(), secret+"x") }, 401, auth.ReasonSignature},
		{"expired beyond the leeway", func() string {
			c := good()
			c["exp"] = time.Now().Add(-time.Minute).Unix()
			return hs(t, c, secret)
		}, 401, auth.ReasonExpired},
		{"expired within the leeway", func() string {
			c := good()
			c["exp"] = time.Now().Add(-10 * time.Second).Unix()
			return hs(t, c, secret)
		}, 200, ""},
		{"no exp", func() string {
			c := good()
			delete(c, "exp")
			return hs(t, c, secret)
		}, 401, auth.ReasonMissingClaim},
		{"not yet valid", func() string {
			c := good()
			c["nbf"] = time.Now().Add(time.Hour).Unix()
			return hs(t, c, secret)
		}, 401, auth.ReasonNotYetValid},
		{"wrong audience", func() string {
			c := good()
			c["aud"] = "another-api"
			return hs(t, c, secret)
		}, 401, auth.ReasonAudience},
		{"wrong issuer", func() string {
			c := good()
			c["iss"] = "https://evil.example.com"
			return hs(t, c, secret)
		}, 401, auth.ReasonIssuer},
		{"alg none", func() string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
			require.NoError(t, err)
			return s
		}, 401, auth.ReasonAlgorithm},
		{"alg not allowed (HS512 with the right secret)", func() string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodHS512, good()).SignedString([]byte(secret))
			require.NoError(t, err)
			return s
		}, 401, auth.ReasonAlgorithm},
		{"RS256 without a key set", func() string {
			k, _ := rsa.GenerateKey(rand.Reader, 2048)
			s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, good()).SignedString(k)
			require.NoError(t, err)
			return s
		}, 401, auth.ReasonAlgorithm},
		{"sub not a UUID", func() string {
			c := good()
			c["sub"] = "alice"
			return hs(t, c, secret)
		}, 401, auth.ReasonSubject},
		{"malformed", func() string { return "not.a.jwt" }, 401, auth.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failures = nil
			tok := tt.token()
			rec := do(e, http.MethodGet, "/things", bearer(tok)...)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			if tt.status == 200 {
				assert.Equal(t, user.String(), rec.Body.String(), "the subject is the actor")
				return
			}
			assert.Equal(t, []string{tt.reason}, failures)
			assert.Equal(t, httpx.ProblemContentType, rec.Header().Get("Content-Type"))
			assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `Bearer realm="campaigns", error="invalid_token"`)
			assert.NotContains(t, rec.Body.String(), tok, "the token is never echoed")
			var p map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			assert.Equal(t, "urn:campaigns:problem:unauthorized", p["type"])
		})
	}
}

func TestRolesAndForbidden(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.RolesClaim = "realm_access.roles"
	a, err := auth.New(policy(), auth.Config{Settings: cfg})
	require.NoError(t, err)
	e := server(t, a)
	nested := func(roles any) string {
		c := claims()
		delete(c, "roles")
		c["realm_access"] = map[string]any{"roles": roles}
		return hs(t, c, secret)
	}
	assert.Equal(t, 200, do(e, http.MethodGet, "/things", bearer(nested([]string{"offline_access", "Viewer"}))...).Code)
	rec := do(e, http.MethodPost, "/things", bearer(nested([]string{"viewer"}))...)
	assert.Equal(t, 403, rec.Code)
	assert.Contains(t, rec.Body.String(), "urn:campaigns:problem:forbidden")
	assert.Empty(t, rec.Header().Get("WWW-Authenticate"), "403 is not a challenge")
	assert.Equal(t, 200, do(e, http.MethodPost, "/things", bearer(nested("viewer editor"))...).Code, "a space-separated string")
	assert.Equal(t, 403, do(e, http.MethodGet, "/things", bearer(nested([]string{"superuser"}))...).Code, "unknown roles grant nothing")

	// No credentials: 401 with a plain challenge; public routes need none.
	rec = do(e, http.MethodGet, "/things")
	assert.Equal(t, 401, rec.Code)
	assert.Equal(t, `Bearer realm="campaigns"`, rec.Header().Get("WWW-Authenticate"))
	assert.Equal(t, 200, do(e, http.MethodGet, "/health").Code)
	assert.Equal(t, 200, do(e, http.MethodGet, "/health", bearer("garbage")...).Code)
	// Not a route: 404/405 as usual, whoever asks.
	assert.Equal(t, 404, do(e, http.MethodGet, "/nowhere").Code)
	assert.Equal(t, 405, do(e, http.MethodDelete, "/things").Code)
	// Other schemes are refused.
	assert.Equal(t, 401, do(e, http.MethodGet, "/things", "Authorization", "Basic dXNlcjpwdw==").Code)
}

func TestRouteWithoutPermissionIsRefused(t *testing.T) {
	t.Parallel()
	a, err := auth.New(policy(), auth.Config{Settings: baseConfig()})
	require.NoError(t, err)
	e := server(t, a)
	e.DELETE("/things", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	rec := do(e, http.MethodDelete, "/things", bearer(hs(t, claims("admin"), secret))...)
	assert.Equal(t, 403, rec.Code, "a route missing from the table is never served")
	err = policy().Verify(e.Routes())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DELETE /things has no permission")
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.Mode = auth.ModeJWTOrAPIKey
	owner, subject := uuid.New(), uuid.New()
	cfg.APIKeys = []auth.APIKey{
		{Name: "reader", SHA256: sha("reader-key-1"), Roles: []string{"viewer"}, Owner: owner.String()},
		// subject is the older name of owner.
		{Name: "ops", SHA256: strings.ToUpper(sha("ops-key-2")), Roles: []string{"admin"}, Subject: subject.String()},
	}
	a, err := auth.New(policy(), auth.Config{Settings: cfg})
	require.NoError(t, err)
	e := server(t, a)
	rec := do(e, http.MethodGet, "/things", auth.HeaderAPIKey, "reader-key-1")
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, owner.String(), rec.Body.String(), "a key acts as its owner")
	assert.Equal(t, 403, do(e, http.MethodPost, "/things", auth.HeaderAPIKey, "reader-key-1").Code)
	rec = do(e, http.MethodPost, "/things", auth.HeaderAPIKey, "ops-key-2")
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, subject.String(), rec.Body.String())

	rec = do(e, http.MethodGet, "/things", auth.HeaderAPIKey, "nope")
	assert.Equal(t, 401, rec.Code)
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `APIKey realm="campaigns", header="X-API-Key"`)
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `Bearer realm="campaigns"`)
	// Both at once is ambiguous, even if each is valid.
	assert.Equal(t, 401, do(e, http.MethodGet, "/things", append(bearer(hs(t, claims("viewer"), secret)), auth.HeaderAPIKey, "reader-key-1")...).Code)

	// In jwt mode, API keys are not accepted; in apikey mode, tokens are not.
	cfg.Mode = auth.ModeJWT
	jwtOnly, err := auth.New(policy(), auth.Config{Settings: cfg})
	require.NoError(t, err)
	assert.Equal(t, 401, do(server(t, jwtOnly), http.MethodGet, "/things", auth.HeaderAPIKey, "reader-key-1").Code)
	cfg.Mode = auth.ModeAPIKey
	keyOnly, err := auth.New(policy(), auth.Config{Settings: cfg})
	require.NoError(t, err)
	assert.Equal(t, 401, do(server(t, keyOnly), http.MethodGet, "/things", bearer(hs(t, claims("viewer"), secret))...).Code)
}

func TestModeNoneKeepsHeaderIdentity(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.Mode = auth.ModeNone
	a, err := auth.New(policy(), auth.Config{Settings: cfg})
	require.NoError(t, err)
	e := server(t, a)
	rec := do(e, http.MethodPost, "/things", httpx.HeaderUserID, user.String())
	assert.Equal(t, 200, rec.Code)
	assert.Equal(t, user.String(), rec.Body.String())
	assert.Equal(t, 200, do(e, http.MethodPost, "/things").Code, "anonymous callers may do everything")
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*auth.Settings)
		key    string
	}{
		{"short secret", func(c *auth.Settings) { c.JWTSecret = "short" }, "auth.jwt_secret"},
		{"no key source", func(c *auth.Settings) { c.JWTSecret = "" }, "auth.jwks_url"},
		{"HS only allowed, JWKS only configured", func(c *auth.Settings) {
			c.JWTSecret, c.JWKSURL, c.Algorithms = "", "https://idp.example.com/jwks", []string{"HS256"}
		}, "auth.jwks_url"},
		{"alg none", func(c *auth.Settings) { c.Algorithms = []string{"HS256", "none"} }, "auth.algorithms"},
		{"no algorithms", func(c *auth.Settings) { c.Algorithms = nil }, "auth.algorithms"},
		{"apikey mode without keys", func(c *auth.Settings) { c.Mode = auth.ModeAPIKey }, "auth.api_keys"},
		{"plain key instead of hash", func(c *auth.Settings) {
			c.APIKeys = []auth.APIKey{{Name: "x", SHA256: "my-plain-key", Roles: []string{"viewer"}}}
		}, "auth.api_keys[0].sha256"},
		{"unknown role", func(c *auth.Settings) {
			c.APIKeys = []auth.APIKey{{Name: "x", SHA256: sha("k"), Roles: []string{"root"}}}
		}, "auth.api_keys[0].roles"},
		{"no roles", func(c *auth.Settings) {
			c.APIKeys = []auth.APIKey{{Name: "x", SHA256: sha("k")}}
		}, "auth.api_keys[0].roles"},
		{"duplicate name", func(c *auth.Settings) {
			c.APIKeys = []auth.APIKey{{Name: "x", SHA256: sha("k"), Roles: []string{"viewer"}, Owner: user.String()},
				{Name: "x", SHA256: sha("l"), Roles: []string{"viewer"}, Owner: user.String()}}
		}, "auth.api_keys[1].name"},
		{"duplicate key", func(c *auth.Settings) {
			c.APIKeys = []auth.APIKey{{Name: "x", SHA256: sha("k"), Roles: []string{"viewer"}, Owner: user.String()},
				{Name: "y", SHA256: sha("k"), Roles: []string{"admin"}, Owner: user.String()}}
		}, "auth.api_keys[1].sha256"},
		{"bad subject", func(c *auth.Settings) {
			c.APIKeys = []auth.APIKey{{Name: "x", SHA256: sha("k"), Roles: []string{"viewer"}, Subject: "bob"}}
		}, "auth.api_keys[0].subject"},
		{"bad owner", func(c *auth.Settings) {
			c.APIKeys = []auth.APIKey{{Name: "x", SHA256: sha("k"), Roles: []string{"viewer"}, Owner: "bob"}}
		}, "auth.api_keys[0].owner"},
		{"no owner", func(c *auth.Settings) {
			c.APIKeys = []auth.APIKey{{Name: "x", SHA256: sha("k"), Roles: []string{"viewer"}, Owner: user.String()},
				{Name: "pos-tracker", SHA256: sha("l"), Roles: []string{"tracker"}}}
		}, "auth.api_keys[1].owner"},
		{"owner and subject name two users", func(c *auth.Settings) {
			c.APIKeys = []auth.APIKey{{Name: "x", SHA256: sha("k"), Roles: []string{"viewer"},
				Owner: user.String(), Subject: uuid.NewString()}}
		}, "auth.api_keys[0].subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			tt.mutate(&cfg)
			_, err := auth.New(policy(), auth.Config{Settings: cfg})
			var cerr *auth.ConfigError
			require.True(t, errors.As(err, &cerr), "want *auth.ConfigError, got %v", err)
			assert.Equal(t, tt.key, cerr.Key, cerr.Error())
		})
	}
}

// A mode that is none of the four (the zero Settings' "", say) is refused, never served with
// every credential failing.
func TestUnknownModeIsRefused(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"", "oauth", "JWT"} {
		cfg := baseConfig()
		cfg.Mode = mode
		_, err := auth.New(policy(), auth.Config{Settings: cfg})
		var cerr *auth.ConfigError
		require.True(t, errors.As(err, &cerr), "mode %q: got %v", mode, err)
		assert.Equal(t, "auth.mode", cerr.Key)
		assert.Equal(t, `invalid config auth.mode: must be "none", "jwt", "apikey" or "jwt+apikey" (got "`+mode+`")`, err.Error())
	}
}

func TestCheckExposure(t *testing.T) {
	t.Parallel()
	none := auth.Settings{Mode: auth.ModeNone}
	for _, host := range []string{"127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.53"} {
		assert.NoError(t, auth.CheckExposure(none, host), host)
	}
	for _, host := range []string{"0.0.0.0", "", "::", "10.0.0.5", "api.example.com"} {
		err := auth.CheckExposure(none, host)
		var cerr *auth.ConfigError
		require.True(t, errors.As(err, &cerr), host)
		assert.Equal(t, "auth.mode", cerr.Key)
		assert.Contains(t, cerr.Reason, "auth.allow_anonymous")
	}
	assert.NoError(t, auth.CheckExposure(auth.Settings{Mode: auth.ModeNone, AllowAnonymous: true}, "0.0.0.0"))
	assert.NoError(t, auth.CheckExposure(auth.Settings{Mode: auth.ModeJWT}, "0.0.0.0"))
}

// A JWKS served by an httptest server, whose keys the test rotates.
type keyServer struct {
	mu      sync.Mutex
	keys    []map[string]any
	fetches atomic.Int32
	fail    atomic.Bool
	srv     *httptest.Server
}

func newKeyServer(t *testing.T) *keyServer {
	ks := &keyServer{}
	ks.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.fetches.Add(1)
		if ks.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ks.mu.Lock()
		defer ks.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": ks.keys})
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

func (ks *keyServer) serve(keys ...map[string]any) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.keys = keys
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PrivateKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]any {
	pub, _ := k.PublicKey.Bytes() // 0x04 || X || Y
	size := (len(pub) - 1) / 2
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(pub[1 : 1+size]), "y": b64(pub[1+size:])}
}

func signed(t *testing.T, m jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestJWKSRotation(t *testing.T) {
	t.Parallel()
	ks := newKeyServer(t)
	old, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ks.serve(rsaJWK("old", old), ecJWK("ec-1", ec))

	clk := &fakeClock{now: time.Now()}
	cfg := baseConfig()
	cfg.JWTSecret, cfg.JWKSURL = "", ks.srv.URL
	a, err := auth.New(policy(), auth.Config{Settings: cfg, Now: clk.Now})
	require.NoError(t, err)
	e := server(t, a)
	get := func(tok string) int { return do(e, http.MethodGet, "/things", bearer(tok)...).Code }
	tokenClaims := func() jwt.MapClaims {
		c := claims("viewer")
		c["iat"], c["exp"] = clk.Now().Unix(), clk.Now().Add(24*time.Hour).Unix()
		return c
	}

	oldTok := signed(t, jwt.SigningMethodRS256, "old", old, tokenClaims())
	require.Equal(t, 200, get(oldTok), "RS256 from the key set")
	require.Equal(t, 200, get(signed(t, jwt.SigningMethodES256, "ec-1", ec, tokenClaims())), "ES256 from the key set")
	require.EqualValues(t, 1, ks.fetches.Load(), "the set is fetched once and cached")
	require.Equal(t, 200, get(oldTok))
	require.EqualValues(t, 1, ks.fetches.Load())

	// Key confusion: an HS256 token "signed" with the RSA public key is refused (no secret,
	// and HS tokens are never checked against key-set keys).
	pubDER := old.N.Bytes()
	require.Equal(t, 401, get(signed(t, jwt.SigningMethodHS256, "old", pubDER, tokenClaims())))
	// An RS256 token naming the EC key's kid: the key does not fit the algorithm.
	require.Equal(t, 401, get(signed(t, jwt.SigningMethodRS256, "ec-1", old, tokenClaims())))

	// The identity provider rotates: the new key replaces the old one.
	next, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ks.serve(rsaJWK("new", next))
	clk.Add(time.Minute) // past the minimum refetch interval
	newTok := signed(t, jwt.SigningMethodRS256, "new", next, tokenClaims())
	require.Equal(t, 200, get(newTok), "an unknown kid refetches the set")
	require.EqualValues(t, 2, ks.fetches.Load())
	require.Equal(t, 401, get(oldTok), "the old kid is rejected after the refresh")
	rec := do(e, http.MethodGet, "/things", bearer(oldTok)...)
	assert.Contains(t, rec.Body.String(), "no known key signed the token")

	// Unknown kids do not hammer the identity provider: one refetch per interval.
	forged := signed(t, jwt.SigningMethodRS256, "forged", old, tokenClaims())
	for range 5 {
		require.Equal(t, 401, get(forged))
	}
	require.EqualValues(t, 2, ks.fetches.Load(), "within the minimum refetch interval the set is not fetched again")
	clk.Add(time.Minute)
	require.Equal(t, 401, get(forged))
	require.EqualValues(t, 3, ks.fetches.Load())

	// Periodic refresh: once the set is older than the refresh interval, it is refetched in
	// the background while the cached keys keep serving.
	clk.Add(16 * time.Minute)
	newTok = signed(t, jwt.SigningMethodRS256, "new", next, tokenClaims())
	require.Equal(t, 200, get(newTok))
	require.Eventually(t, func() bool { return ks.fetches.Load() == 4 }, 5*time.Second, 5*time.Millisecond)

	// The provider goes down: known keys keep working; an unknown kid cannot be judged (503).
	ks.fail.Store(true)
	clk.Add(time.Minute)
	require.Equal(t, 503, get(signed(t, jwt.SigningMethodRS256, "newer", next, tokenClaims())))
	require.Equal(t, 200, get(signed(t, jwt.SigningMethodRS256, "new", next, tokenClaims())))
}

func TestJWKSUnreachableAtFirst(t *testing.T) {
	t.Parallel()
	ks := newKeyServer(t)
	ks.fail.Store(true)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ks.serve(rsaJWK("k1", k))
	clk := &fakeClock{now: time.Now()}
	cfg := baseConfig()
	cfg.JWTSecret, cfg.JWKSURL = "", ks.srv.URL
	a, err := auth.New(policy(), auth.Config{Settings: cfg, Now: clk.Now})
	require.NoError(t, err)
	e := server(t, a)
	c := claims("viewer")
	c["iat"], c["exp"] = clk.Now().Unix(), clk.Now().Add(time.Hour).Unix()
	tok := signed(t, jwt.SigningMethodRS256, "k1", k, c)
	rec := do(e, http.MethodGet, "/things", bearer(tok)...)
	require.Equal(t, 503, rec.Code, "keys unknown: retry later, not a verdict on the token")
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	ks.fail.Store(false)
	clk.Add(2 * time.Second) // without keys, retried after a second
	require.Equal(t, 200, do(e, http.MethodGet, "/things", bearer(tok)...).Code)
}

func TestJWKSRejectsWeakAndForeignKeys(t *testing.T) {
	t.Parallel()
	ks := newKeyServer(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	good, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	enc := rsaJWK("enc", good)
	enc["use"] = "enc"
	ks.serve(rsaJWK("weak", weak), enc, map[string]any{"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
		map[string]any{"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": b64(make([]byte, 32)), "y": b64(make([]byte, 32))},
		rsaJWK("good", good))
	clk := &fakeClock{now: time.Now()}
	cfg := baseConfig()
	cfg.JWTSecret, cfg.JWKSURL = "", ks.srv.URL
	a, err := auth.New(policy(), auth.Config{Settings: cfg, Now: clk.Now})
	require.NoError(t, err)
	e := server(t, a)
	c := claims("viewer")
	c["iat"], c["exp"] = clk.Now().Unix(), clk.Now().Add(time.Hour).Unix()
	assert.Equal(t, 200, do(e, http.MethodGet, "/things", bearer(signed(t, jwt.SigningMethodRS256, "good", good, c))...).Code)
	assert.Equal(t, 401, do(e, http.MethodGet, "/things", bearer(signed(t, jwt.SigningMethodRS256, "weak", weak, c))...).Code)
	assert.Equal(t, 401, do(e, http.MethodGet, "/things", bearer(signed(t, jwt.SigningMethodRS256, "enc", good, c))...).Code)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The 401 names the claim that is missing or wrong, every one of them, and never one that is
// fine (a missing aud used to be reported as a missing exp).
func TestJWTProblemNamesTheClaim(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.Issuer, cfg.Audience = "https://idp.example.com", "campaigns-api"
	a, err := auth.New(policy(), auth.Config{Settings: cfg})
	require.NoError(t, err)
	e := server(t, a)
	good := func() jwt.MapClaims {
		c := claims("viewer")
		c["iss"], c["aud"] = "https://idp.example.com", "campaigns-api"
		return c
	}
	tests := []struct {
		name   string
		mutate func(jwt.MapClaims)
		want   []string // substrings of the detail
		absent []string // claims the detail must not name
	}{
		{"no aud", func(c jwt.MapClaims) { delete(c, "aud") }, []string{"aud is missing"}, []string{"exp", "iss"}},
		{"empty aud", func(c jwt.MapClaims) { c["aud"] = "" }, []string{"aud is missing"}, []string{"exp", "iss"}},
		{"wrong aud", func(c jwt.MapClaims) { c["aud"] = "another-api" }, []string{"aud does not name this API"}, []string{"exp", "iss"}},
		{"no iss", func(c jwt.MapClaims) { delete(c, "iss") }, []string{"iss is missing"}, []string{"exp", "aud"}},
		{"wrong iss", func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }, []string{"iss is not a trusted issuer"}, []string{"exp", "aud"}},
		{"no exp", func(c jwt.MapClaims) { delete(c, "exp") }, []string{"exp is missing"}, []string{"aud", "iss"}},
		{"expired", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }, []string{"exp has passed"}, []string{"aud", "iss"}},
		{"not yet valid", func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }, []string{"nbf is in the future"}, []string{"aud", "iss", "exp"}},
		{"no aud and no iss", func(c jwt.MapClaims) { delete(c, "aud"); delete(c, "iss") }, []string{"aud is missing", "iss is missing"}, []string{"exp"}},
		{"expired with a wrong aud", func(c jwt.MapClaims) {
			c["exp"] = time.Now().Add(-time.Hour).Unix()
			c["aud"] = []string{"other"}
		}, []string{"exp has passed", "aud does not name this API"}, []string{"iss"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.mutate(c)
			rec := do(e, http.MethodGet, "/things", bearer(hs(t, c, secret))...)
			require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
			var p map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			detail, _ := p["detail"].(string)
			for _, w := range tt.want {
				assert.Contains(t, detail, w)
				assert.Contains(t, rec.Header().Get("WWW-Authenticate"), w, "the challenge says it too")
			}
			for _, claim := range tt.absent {
				assert.NotContains(t, detail, claim+" ", "detail %q names %s", detail, claim)
			}
		})
	}
}

// A key without an owner is refused when the service starts, naming the key: a key with an
// identity of its own would let its holder act as a second person (author with their token,
// approver with the key).
func TestAPIKeyWithoutOwnerIsRefused(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.Mode = auth.ModeAPIKey
	cfg.APIKeys = []auth.APIKey{{Name: "pos-tracker", SHA256: sha("k"), Roles: []string{"tracker"}}}
	_, err := auth.New(policy(), auth.Config{Settings: cfg})
	var cerr *auth.ConfigError
	require.ErrorAs(t, err, &cerr)
	assert.Equal(t, "auth.api_keys[0].owner", cerr.Key)
	assert.Contains(t, cerr.Error(), `key "pos-tracker" has no owner`)
	assert.Contains(t, cerr.Error(), "user id (a UUID)")
}
