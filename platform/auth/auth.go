package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// HeaderAPIKey carries an API key.
const HeaderAPIKey = "X-API-Key"

// Realm is the realm of the WWW-Authenticate challenges.
const Realm = "campaigns"

// maxTokenLen bounds a bearer token or API key read from a request.
const maxTokenLen = 8 << 10

// minSecretLen is the shortest HS256 secret accepted (RFC 7518 3.2: at least the hash size).
const minSecretLen = 32

// supportedAlgorithms may appear in auth.algorithms. "none" never may.
func supportedAlgorithms() []string {
	return []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512"}
}

// The authentication modes (Settings.Mode).
const (
	ModeNone        = "none"       // no authentication: every caller may do everything
	ModeJWT         = "jwt"        // bearer tokens (JWT)
	ModeAPIKey      = "apikey"     // API keys (X-API-Key)
	ModeJWTOrAPIKey = "jwt+apikey" // either
)

// Settings is what the Authenticator checks callers against: the mode, the key sources and
// the API keys (the binaries' auth section). Secrets: JWTSecret; API keys are given as their
// SHA-256 only.
type Settings struct {
	Mode           string // one of the Mode* constants ("" is refused)
	AllowAnonymous bool   // ModeNone on a listener other than loopback is meant (CheckExposure)
	JWTSecret      string // HS256/384/512 shared secret, at least 32 bytes
	JWKSURL        string // where the RS/PS/ES keys are published
	// JWKSRefreshInterval is how old the cached key set may get before it is fetched again.
	JWKSRefreshInterval time.Duration
	JWKSFetchTimeout    time.Duration // bounds one fetch of the key set
	// JWKSMinRefetchInterval bounds how often a token with an unknown kid refetches the set.
	JWKSMinRefetchInterval time.Duration
	Algorithms             []string      // the signing algorithms accepted ("none" never is)
	Issuer                 string        // tokens must carry this iss, when set
	Audience               string        // tokens must carry this aud, when set
	Leeway                 time.Duration // clock skew allowed on exp, nbf and iat
	RolesClaim             string        // the claim holding the roles, a dotted path ("realm_access.roles")
	APIKeys                []APIKey
}

// APIKey is one API key: its SHA-256 (hex), never the key itself, and its owner.
type APIKey struct {
	Name   string
	SHA256 string
	Roles  []string
	// Owner is the user id (a UUID) of the person or service account that holds the key. A
	// request with the key acts as its owner: the actor of what it writes, and the user the
	// approval rules judge (an author's own key cannot approve their campaign). Required: a
	// key with an identity of its own would let its holder act as a second person.
	Owner string
	// Subject is the older name of Owner: accepted when Owner is empty, refused when both
	// are set and differ.
	Subject string
}

// ConfigError is a setting New or CheckExposure refuses. Key names it as the service
// configuration spells it (auth.jwt_secret for Settings.JWTSecret, auth.api_keys[1].roles for
// the Roles of the second API key).
type ConfigError struct {
	Key    string
	Reason string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("invalid config %s: %s", e.Key, e.Reason) }

// Config is what the Authenticator checks and its collaborators. Zero fields take the
// defaults noted.
type Config struct {
	// Settings are the mode, the key sources and the API keys (its zero value is mode "",
	// which New refuses).
	Settings
	// Logger hears about JWKS fetches and refused credentials (default: discard).
	Logger *slog.Logger
	// HTTPClient fetches the JWKS (its own fetch timeout applies on top; default: a client
	// of the key set's own).
	HTTPClient *http.Client
	// Now is the clock that judges exp/nbf/iat and the JWKS cache's age (default: time.Now).
	Now func() time.Time
	// OnFailure learns the reason of each failed authentication (for a metric; default:
	// none). Reasons are a small fixed set: see the Reason* constants.
	OnFailure func(reason string)
	// OnJWKSFetch learns the outcome of each fetch of the key set (for a metric; default:
	// none).
	OnJWKSFetch func(ok bool)
}

// The reasons an authentication fails.
const (
	ReasonMissing          = "missing_credentials"
	ReasonAmbiguous        = "ambiguous_credentials"
	ReasonMalformed        = "malformed_token"
	ReasonAlgorithm        = "invalid_algorithm"
	ReasonSignature        = "invalid_signature"
	ReasonUnknownKey       = "unknown_key"
	ReasonKeysUnavailable  = "keys_unavailable"
	ReasonExpired          = "expired"
	ReasonNotYetValid      = "not_yet_valid"
	ReasonMissingClaim     = "missing_claim"
	ReasonAudience         = "invalid_audience"
	ReasonIssuer           = "invalid_issuer"
	ReasonSubject          = "invalid_subject"
	ReasonInvalidToken     = "invalid_token"
	ReasonUnknownAPIKey    = "unknown_api_key"
	ReasonUnsupportedCreds = "unsupported_credentials"
)

// failure is a failed authentication: why (a Reason*), and what the caller is told.
type failure struct {
	reason string
	detail string
}

type routeKey struct{ method, path string }

type apiKey struct {
	name    string
	hash    [sha256.Size]byte
	roles   []Role
	subject uuid.UUID
}

// Authenticator identifies callers as auth.mode says.
type Authenticator struct {
	mode       string
	perms      map[routeKey]Permission // the policy
	parser     *jwt.Parser
	algorithms []string // allowed and with a key source
	secret     []byte
	keys       *jwks
	rolesPath  []string
	apiKeys    []apiKey
	logger     *slog.Logger
	onFailure  func(string)
	// checkIss and checkAud say the configuration names an issuer and an audience, so that
	// tokens must carry matching iss and aud claims.
	checkIss, checkAud bool
	// tokens remembers the bearer tokens that passed (tokencache.go).
	tokens *tokenCache
	now    func() time.Time
}

// New builds the Authenticator of cfg for the routes of policy. It checks what the
// configuration loader cannot judge alone (algorithms, the key sources the mode needs, API key
// hashes and roles) and reports the first problem as a *ConfigError naming the key.
func New(policy Policy, cfg Config) (*Authenticator, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnFailure == nil {
		cfg.OnFailure = func(string) {}
	}
	if !slices.Contains([]string{ModeNone, ModeJWT, ModeAPIKey, ModeJWTOrAPIKey}, cfg.Mode) {
		return nil, &ConfigError{Key: "auth.mode", Reason: fmt.Sprintf("must be %q, %q, %q or %q (got %q)",
			ModeNone, ModeJWT, ModeAPIKey, ModeJWTOrAPIKey, cfg.Mode)}
	}
	a := &Authenticator{mode: cfg.Mode, perms: make(map[routeKey]Permission, len(policy)), logger: cfg.Logger,
		onFailure: cfg.OnFailure, rolesPath: strings.Split(strings.TrimSpace(cfg.RolesClaim), "."),
		tokens: newTokenCache(), now: cfg.Now}
	for _, r := range policy {
		a.perms[routeKey{r.Method, r.Path}] = r.Permission
	}
	if a.usesJWT() {
		if err := a.setupJWT(cfg); err != nil {
			return nil, err
		}
	}
	if err := a.setupAPIKeys(cfg.APIKeys); err != nil {
		return nil, err
	}
	if a.usesAPIKeys() && len(a.apiKeys) == 0 {
		return nil, &ConfigError{Key: "auth.api_keys", Reason: "must list at least one key when auth.mode is " + cfg.Mode}
	}
	return a, nil
}

func (a *Authenticator) usesJWT() bool {
	return a.mode == ModeJWT || a.mode == ModeJWTOrAPIKey
}

func (a *Authenticator) usesAPIKeys() bool {
	return a.mode == ModeAPIKey || a.mode == ModeJWTOrAPIKey
}

func (a *Authenticator) setupJWT(cfg Config) error {
	if len(cfg.Algorithms) == 0 {
		return &ConfigError{Key: "auth.algorithms", Reason: "must allow at least one algorithm"}
	}
	for _, alg := range cfg.Algorithms {
		if !slices.Contains(supportedAlgorithms(), alg) {
			return &ConfigError{Key: "auth.algorithms", Reason: fmt.Sprintf("%q is not one of %s (\"none\" is never allowed)",
				alg, strings.Join(supportedAlgorithms(), ", "))}
		}
	}
	if cfg.JWTSecret != "" {
		if len(cfg.JWTSecret) < minSecretLen {
			return &ConfigError{Key: "auth.jwt_secret", Reason: fmt.Sprintf("must be at least %d bytes", minSecretLen)}
		}
		a.secret = []byte(cfg.JWTSecret)
	}
	if cfg.JWKSURL != "" {
		a.keys = newJWKS(jwksConfig{
			URL: cfg.JWKSURL, Refresh: cfg.JWKSRefreshInterval, MinRefetch: cfg.JWKSMinRefetchInterval,
			Timeout: cfg.JWKSFetchTimeout, Client: cfg.HTTPClient, Now: cfg.Now, Logger: cfg.Logger,
			OnFetch: cfg.OnJWKSFetch,
		})
	}
	for _, alg := range cfg.Algorithms {
		if (isHMAC(alg) && a.secret != nil) || (!isHMAC(alg) && a.keys != nil) {
			a.algorithms = append(a.algorithms, alg)
		}
	}
	if len(a.algorithms) == 0 {
		return &ConfigError{Key: "auth.jwks_url", Reason: "auth.mode " + cfg.Mode +
			" needs a key source for auth.algorithms: auth.jwks_url (RS*, PS*, ES*) or auth.jwt_secret (HS*)"}
	}
	popts := []jwt.ParserOption{
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(cfg.Issuer))
		a.checkIss = true
	}
	if cfg.Audience != "" {
		popts = append(popts, jwt.WithAudience(cfg.Audience))
		a.checkAud = true
	}
	a.parser = jwt.NewParser(popts...)
	return nil
}

func isHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

func (a *Authenticator) setupAPIKeys(keys []APIKey) error {
	names := map[string]bool{}
	for i, k := range keys {
		key := fmt.Sprintf("auth.api_keys[%d]", i)
		name := strings.TrimSpace(k.Name)
		if name == "" {
			return &ConfigError{Key: key + ".name", Reason: "must not be empty"}
		}
		if names[name] {
			return &ConfigError{Key: key + ".name", Reason: fmt.Sprintf("%q is used by another key", name)}
		}
		names[name] = true
		raw, err := hex.DecodeString(strings.TrimSpace(k.SHA256))
		if err != nil || len(raw) != sha256.Size {
			return &ConfigError{Key: key + ".sha256", Reason: "must be the key's SHA-256 as 64 hex digits (sha256sum), never the key itself"}
		}
		ak := apiKey{name: name}
		copy(ak.hash[:], raw)
		for _, other := range a.apiKeys {
			if other.hash == ak.hash {
				return &ConfigError{Key: key + ".sha256", Reason: fmt.Sprintf("is the same key as %q", other.name)}
			}
		}
		if len(k.Roles) == 0 {
			return &ConfigError{Key: key + ".roles", Reason: "must list at least one role"}
		}
		for _, r := range k.Roles {
			role, ok := ParseRole(r)
			if !ok {
				return &ConfigError{Key: key + ".roles", Reason: fmt.Sprintf("%q is not a role (%s)", r, roleNames())}
			}
			ak.roles = append(ak.roles, role)
		}
		owner, err := keyOwner(key, name, k)
		if err != nil {
			return err
		}
		ak.subject = owner
		a.apiKeys = append(a.apiKeys, ak)
	}
	return nil
}

// keyOwner is the owner of API key k (auth.api_keys[i] is key, its name is name): Owner, or
// its older name Subject. A key without one is refused, naming it.
func keyOwner(key, name string, k APIKey) (uuid.UUID, error) {
	owner, subject := strings.TrimSpace(k.Owner), strings.TrimSpace(k.Subject)
	field := ".owner"
	switch {
	case owner != "" && subject != "" && !strings.EqualFold(owner, subject):
		return uuid.Nil, &ConfigError{Key: key + ".subject", Reason: fmt.Sprintf(
			"key %q names two users: subject is the older name of owner; keep owner only", name)}
	case owner == "" && subject != "":
		owner, field = subject, ".subject"
	case owner == "":
		return uuid.Nil, &ConfigError{Key: key + ".owner", Reason: fmt.Sprintf(
			"key %q has no owner: set owner to the user id (a UUID) of the person or service account that holds it; "+
				"a request with the key acts as that user (authorship, history, the rule that no one approves their own campaign)", name)}
	}
	id, err := uuid.Parse(owner)
	if err != nil || id == uuid.Nil {
		return uuid.Nil, &ConfigError{Key: key + field, Reason: fmt.Sprintf("key %q: must be a user id (a UUID), not %q", name, owner)}
	}
	return id, nil
}

func roleNames() string {
	var out []string
	for _, r := range Roles() {
		out = append(out, string(r))
	}
	return strings.Join(out, ", ")
}

// CheckExposure refuses mode none on a listener other than loopback, unless
// AllowAnonymous (auth.allow_anonymous) says it is meant. host is the listener's host
// (http.host). It reports a *ConfigError.
func CheckExposure(cfg Settings, host string) error {
	if cfg.Mode != ModeNone || cfg.AllowAnonymous || IsLoopback(host) {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "every interface"
	}
	return &ConfigError{Key: "auth.mode", Reason: fmt.Sprintf(
		"is %q (no authentication) but the API listens on %s (http.host), which is not loopback: "+
			"set auth.mode to jwt, apikey or jwt+apikey, or set auth.allow_anonymous: true to serve anonymous callers on purpose",
		ModeNone, shown)}
}

// IsLoopback reports whether host (a listen host) is on loopback only (httpx.IsLoopback).
func IsLoopback(host string) bool { return httpx.IsLoopback(host) }

// permission is the permission of the request's route; false when it is not in the table.
func (a *Authenticator) permission(c echo.Context) (Permission, bool) {
	p, ok := a.perms[routeKey{c.Request().Method, c.Path()}]
	return p, ok
}

// IsPublic reports whether the request's route needs no credentials.
func (a *Authenticator) IsPublic(c echo.Context) bool {
	perm, ok := a.permission(c)
	return ok && perm == Public
}

// Authenticate identifies the caller of every routed, non-public request and records the
// outcome: the Principal (and the actor, for authorship and events), or why it failed. It never
// answers by itself: Authorize does, after the rate limiter had a chance to count the caller.
func (a *Authenticator) Authenticate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			perm, ok := a.permission(c)
			if !ok || perm == Public {
				return next(c)
			}
			ctx := req.Context()
			p, f := a.identify(ctx, req)
			if f != nil {
				ctx = context.WithValue(ctx, failureKey, f)
				a.onFailure(f.reason)
				// The reason only: never the token or key.
				a.logger.InfoContext(ctx, "authentication failed", slog.String("reason", f.reason),
					slog.String("method", req.Method), slog.String("route", c.Path()))
			} else {
				ctx = WithPrincipal(ctx, p)
				if p.Subject != uuid.Nil {
					ctx = audit.WithActor(ctx, p.Subject)
				}
			}
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

// identify reads the credentials the mode accepts.
func (a *Authenticator) identify(ctx context.Context, req *http.Request) (*Principal, *failure) {
	if a.mode == ModeNone {
		// No authentication: every caller may do everything; X-User-ID, when a UUID, names it.
		if id, err := uuid.Parse(req.Header.Get(httpx.HeaderUserID)); err == nil && id != uuid.Nil {
			return &Principal{Subject: id, Method: "header", Name: "user:" + id.String(), Roles: []Role{RoleAdmin}}, nil
		}
		return &Principal{Method: "anonymous", Roles: []Role{RoleAdmin}}, nil
	}
	bearer, hasBearer, bad := bearerToken(req)
	key := req.Header.Get(HeaderAPIKey)
	hasKey := key != ""
	switch {
	case bad:
		return nil, &failure{ReasonUnsupportedCreds, "the Authorization header must hold a bearer token (Bearer <token>)"}
	case hasBearer && hasKey && a.usesJWT() && a.usesAPIKeys():
		return nil, &failure{ReasonAmbiguous, "send either a bearer token or an API key, not both"}
	case hasBearer && a.usesJWT():
		return a.verifyJWT(ctx, bearer)
	case hasKey && a.usesAPIKeys():
		return a.verifyAPIKey(key)
	}
	return nil, &failure{ReasonMissing, "credentials are required: " + a.accepted()}
}

func (a *Authenticator) accepted() string {
	switch a.mode {
	case ModeJWT:
		return "send Authorization: Bearer <token>"
	case ModeAPIKey:
		return "send " + HeaderAPIKey + ": <key>"
	default:
		return "send Authorization: Bearer <token> or " + HeaderAPIKey + ": <key>"
	}
}

// bearerToken reads "Authorization: Bearer <token>". bad: an Authorization header of another
// form.
func bearerToken(req *http.Request) (token string, ok, bad bool) {
	h := req.Header.Get(echo.HeaderAuthorization)
	if h == "" {
		return "", false, false
	}
	scheme, tok, found := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if !found || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > maxTokenLen {
		return "", false, true
	}
	return tok, true, false
}

func (a *Authenticator) verifyAPIKey(key string) (*Principal, *failure) {
	if len(key) > maxTokenLen {
		return nil, &failure{ReasonUnknownAPIKey, "the API key is not valid"}
	}
	sum := sha256.Sum256([]byte(key))
	var match *apiKey
	// Compare with every key, in constant time, whatever matches.
	for i := range a.apiKeys {
		if subtle.ConstantTimeCompare(sum[:], a.apiKeys[i].hash[:]) == 1 && match == nil {
			match = &a.apiKeys[i]
		}
	}
	if match == nil {
		return nil, &failure{ReasonUnknownAPIKey, "the API key is not valid"}
	}
	return &Principal{Subject: match.subject, Method: "apikey", Name: "key:" + match.name, Roles: match.roles}, nil
}

func (a *Authenticator) verifyJWT(ctx context.Context, raw string) (*Principal, *failure) {
	now := a.now()
	if p, ok := a.tokens.get(raw, now); ok {
		return p, nil
	}
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if !slices.Contains(a.algorithms, alg) {
			return nil, errAlgorithm
		}
		if isHMAC(alg) {
			return a.secret, nil
		}
		kid, _ := t.Header["kid"].(string)
		return a.keys.key(ctx, kid, alg)
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenInvalidClaims) {
			if f := a.claimsFailure(err, claims); f != nil {
				return nil, f
			}
		}
		return nil, jwtFailure(err)
	}
	sub, _ := claims.GetSubject()
	id, perr := uuid.Parse(sub)
	if perr != nil || id == uuid.Nil {
		return nil, &failure{ReasonSubject, "the token's sub must be a user id (UUID)"}
	}
	p := &Principal{Subject: id, Method: "jwt", Name: "user:" + id.String(), Roles: a.roles(claims)}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		a.tokens.put(raw, p, exp.Time, now)
	}
	return p, nil
}

var errAlgorithm = errors.New("algorithm not allowed")

// jwtFailure classifies a parse error. The detail tells the caller what to fix without
// echoing anything of the token.
func jwtFailure(err error) *failure {
	switch {
	case errors.Is(err, errAlgorithm):
		return &failure{ReasonAlgorithm, "the token's signing algorithm is not accepted"}
	case errors.Is(err, errKeysUnavailable):
		return &failure{ReasonKeysUnavailable, "the signing keys could not be fetched; retry later"}
	case errors.Is(err, errUnknownKey):
		return &failure{ReasonUnknownKey, "no known key signed the token"}
	case errors.Is(err, jwt.ErrTokenMalformed):
		return &failure{ReasonMalformed, "the token is malformed"}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return &failure{ReasonSignature, "the token's signature is invalid"}
	case errors.Is(err, jwt.ErrTokenExpired):
		return &failure{ReasonExpired, "the token has expired"}
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return &failure{ReasonMissingClaim, "the token lacks a required claim"}
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return &failure{ReasonNotYetValid, "the token is not valid yet"}
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return &failure{ReasonAudience, "the token is not meant for this API (aud)"}
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return &failure{ReasonIssuer, "the token's issuer is not trusted (iss)"}
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return &failure{ReasonAlgorithm, "the token cannot be verified (unsupported algorithm or key)"}
	default:
		return &failure{ReasonInvalidToken, "the token is not valid"}
	}
}

// claimsFailure names every registered claim of a validly signed token that was refused:
// missing (exp always; aud and iss when configured) or wrong (expired, not yet valid, another
// audience or issuer). The reason is the first one's. The library reports a missing claim
// without saying which, so the claims are looked at again here. Nil when none applies.
func (a *Authenticator) claimsFailure(err error, claims jwt.MapClaims) *failure {
	var reasons, problems []string
	add := func(reason, problem string) {
		reasons, problems = append(reasons, reason), append(problems, problem)
	}
	missing := errors.Is(err, jwt.ErrTokenRequiredClaimMissing)
	absent := func(name string) bool {
		v, ok := claims[name]
		return !ok || v == nil || v == ""
	}
	switch {
	case missing && absent("exp"):
		add(ReasonMissingClaim, "exp is missing (an expiry time is required)")
	case errors.Is(err, jwt.ErrTokenExpired):
		add(ReasonExpired, "exp has passed (the token has expired)")
	}
	if errors.Is(err, jwt.ErrTokenNotValidYet) {
		add(ReasonNotYetValid, "nbf is in the future (the token is not valid yet)")
	}
	if errors.Is(err, jwt.ErrTokenUsedBeforeIssued) {
		add(ReasonNotYetValid, "iat is in the future (the token is not valid yet)")
	}
	if aud, aerr := claims.GetAudience(); a.checkAud && aerr == nil && (len(aud) == 0 || len(aud) == 1 && aud[0] == "") {
		add(ReasonMissingClaim, "aud is missing (this API accepts only tokens meant for it)")
	} else if errors.Is(err, jwt.ErrTokenInvalidAudience) {
		add(ReasonAudience, "aud does not name this API")
	}
	if a.checkIss && absent("iss") {
		add(ReasonMissingClaim, "iss is missing (the issuer must be a trusted one)")
	} else if errors.Is(err, jwt.ErrTokenInvalidIssuer) {
		add(ReasonIssuer, "iss is not a trusted issuer")
	}
	if len(problems) == 0 {
		return nil
	}
	return &failure{reasons[0], "the token's claims are refused: " + strings.Join(problems, "; ")}
}

// roles reads the roles claim: a JSON array of strings or one space- or comma-separated string,
// at a dotted path ("realm_access.roles"). Names that are not roles of this API are ignored.
func (a *Authenticator) roles(claims jwt.MapClaims) []Role {
	var v any = map[string]any(claims)
	for _, part := range a.rolesPath {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	var names []string
	switch x := v.(type) {
	case string:
		names = strings.FieldsFunc(x, func(r rune) bool { return r == ' ' || r == ',' })
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				names = append(names, s)
			}
		}
	}
	var out []Role
	for _, n := range names {
		if r, ok := ParseRole(n); ok && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// Authorize answers requests whose route requires a permission: 401 when the caller is not
// authenticated (503 when the signing keys are unreachable), 403 when its roles do not grant
// the permission. routes lists the Echo routes (e.Routes): a registered route missing from the
// table is refused with 403, never served.
func (a *Authenticator) Authorize(routes func() []*echo.Route) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			perm, ok := a.permission(c)
			if !ok {
				if c.Path() != "" && registered(routes(), req.Method, c.Path()) {
					a.logger.ErrorContext(req.Context(), "route has no permission in the route table; refused",
						slog.String("method", req.Method), slog.String("route", c.Path()))
					return forbidden("this route declares no permission")
				}
				return next(c) // not a route: Echo answers 404 or 405
			}
			if perm == Public {
				return next(c)
			}
			if f, _ := req.Context().Value(failureKey).(*failure); f != nil {
				return a.unauthorized(f)
			}
			p := PrincipalFrom(req.Context())
			if p == nil {
				return a.unauthorized(&failure{ReasonMissing, "credentials are required: " + a.accepted()})
			}
			if !p.Can(perm) {
				return forbidden(fmt.Sprintf("the caller's roles do not grant %s", perm))
			}
			return next(c)
		}
	}
}

// unauthorized is the 401 of f, with the challenges of the accepted schemes (RFC 6750 for
// bearer tokens), or a 503 when the keys to judge the token could not be fetched.
func (a *Authenticator) unauthorized(f *failure) error {
	if f.reason == ReasonKeysUnavailable {
		p := httpx.NewProblem(http.StatusServiceUnavailable, "", http.StatusText(http.StatusServiceUnavailable), f.detail)
		p.Type = "about:blank"
		p.Headers = map[string]string{"Retry-After": "5"}
		return p
	}
	var challenges []string
	if a.usesJWT() {
		ch := `Bearer realm="` + Realm + `"`
		if f.reason != ReasonMissing {
			ch += `, error="invalid_token", error_description="` + f.detail + `"`
		}
		challenges = append(challenges, ch)
	}
	if a.usesAPIKeys() {
		challenges = append(challenges, `APIKey realm="`+Realm+`", header="`+HeaderAPIKey+`"`)
	}
	p := httpx.NewProblem(http.StatusUnauthorized, "unauthorized", "Unauthorized", f.detail)
	p.Headers = map[string]string{echo.HeaderWWWAuthenticate: strings.Join(challenges, ", ")}
	return p
}

func forbidden(detail string) error {
	return httpx.NewProblem(http.StatusForbidden, "forbidden", "Forbidden", detail)
}
