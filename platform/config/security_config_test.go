package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/config"
)

const keyHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")

func TestSecurityDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", noEnv)
	require.NoError(t, err)
	assert.Equal(t, config.AuthNone, cfg.Auth.Mode, "the embedded default stays on loopback without auth")
	assert.False(t, cfg.Auth.AllowAnonymous)
	assert.Equal(t, []string{"RS256", "ES256", "HS256"}, cfg.Auth.Algorithms)
	assert.Equal(t, "roles", cfg.Auth.RolesClaim)
	assert.Equal(t, 30*time.Second, cfg.Auth.Leeway)
	assert.Equal(t, 15*time.Minute, cfg.Auth.JWKSRefreshInterval)
	assert.Equal(t, 5*time.Second, cfg.Auth.JWKSFetchTimeout)
	assert.Equal(t, 30*time.Second, cfg.Auth.JWKSMinRefetchInterval)
	assert.Empty(t, cfg.Auth.APIKeys)
	assert.True(t, cfg.Auth.PublicMetrics)
	assert.True(t, cfg.RateLimit.Enabled)
	assert.InDelta(t, 50, cfg.RateLimit.RequestsPerSecond, 0)
	assert.Equal(t, 100, cfg.RateLimit.Burst)
	assert.Empty(t, cfg.CORS.AllowedOrigins, "CORS is off by default")
	assert.Empty(t, cfg.HTTP.TrustedProxies)
}

func TestSecurityFromEnvironment(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", env(map[string]string{
		"CAMPAIGNS_AUTH_MODE":               "jwt+apikey",
		"CAMPAIGNS_AUTH_JWT_SECRET":         "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t",
		"CAMPAIGNS_AUTH_ALGORITHMS":         "HS256, RS256",
		"CAMPAIGNS_AUTH_AUDIENCE":           "campaigns",
		"CAMPAIGNS_AUTH_API_KEYS":           `[{"name":"ingest","sha256":"` + keyHash + `","roles":["tracker"],"owner":"0c8e3f7a-5b1d-4e2f-8a9c-1d2e3f4a5b6c"}]`,
		"CAMPAIGNS_CORS_ALLOWED_ORIGINS":    "https://app.example.com,http://localhost:3000",
		"CAMPAIGNS_HTTP_TRUSTED_PROXIES":    "10.0.0.0/8",
		"CAMPAIGNS_RATE_LIMIT_BURST":        "7",
		"CAMPAIGNS_RATE_LIMIT_ENABLED":      "false",
		"CAMPAIGNS_AUTH_PUBLIC_METRICS":     "false",
		"CAMPAIGNS_AUTH_JWKS_FETCH_TIMEOUT": "2s",
	}))
	require.NoError(t, err)
	assert.Equal(t, config.AuthJWTOrAPIKey, cfg.Auth.Mode)
	assert.Equal(t, []string{"HS256", "RS256"}, cfg.Auth.Algorithms)
	assert.Equal(t, "campaigns", cfg.Auth.Audience)
	require.Len(t, cfg.Auth.APIKeys, 1)
	assert.Equal(t, config.APIKey{Name: "ingest", SHA256: keyHash, Roles: []string{"tracker"},
		Owner: "0c8e3f7a-5b1d-4e2f-8a9c-1d2e3f4a5b6c"}, cfg.Auth.APIKeys[0])
	assert.Equal(t, []string{"https://app.example.com", "http://localhost:3000"}, cfg.CORS.AllowedOrigins)
	assert.Equal(t, []string{"10.0.0.0/8"}, cfg.HTTP.TrustedProxies)
	assert.Equal(t, 7, cfg.RateLimit.Burst)
	assert.False(t, cfg.RateLimit.Enabled)
	assert.False(t, cfg.Auth.PublicMetrics)
	assert.Equal(t, 2*time.Second, cfg.Auth.JWKSFetchTimeout)
}

func TestSecurityFromFile(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
auth:
  mode: apikey
  api_keys:
    - name: ingest
      sha256: `+keyHash+`
      roles: [tracker]
      owner: 0c8e3f7a-5b1d-4e2f-8a9c-1d2e3f4a5b6c
    - name: ops
      sha256: `+keyHash+`
      roles: [admin]
      subject: 7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11
cors:
  allowed_origins: ["https://app.example.com"]
`)
	cfg, err := config.Load(p, noEnv)
	require.NoError(t, err)
	require.Len(t, cfg.Auth.APIKeys, 2)
	assert.Equal(t, "0c8e3f7a-5b1d-4e2f-8a9c-1d2e3f4a5b6c", cfg.Auth.APIKeys[0].Owner)
	assert.Equal(t, []string{"admin"}, cfg.Auth.APIKeys[1].Roles)
	assert.Equal(t, "7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11", cfg.Auth.APIKeys[1].Subject)
	assert.Equal(t, []string{"https://app.example.com"}, cfg.CORS.AllowedOrigins)
}

func TestSecurityInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env map[string]string
		key string
	}{
		{map[string]string{"CAMPAIGNS_AUTH_MODE": "oauth"}, "auth.mode"},
		{map[string]string{"CAMPAIGNS_AUTH_JWKS_URL": "ftp://idp/jwks"}, "auth.jwks_url"},
		{map[string]string{"CAMPAIGNS_AUTH_LEEWAY": "1h"}, "auth.leeway"},
		{map[string]string{"CAMPAIGNS_AUTH_JWKS_FETCH_TIMEOUT": "0s"}, "auth.jwks_fetch_timeout"},
		{map[string]string{"CAMPAIGNS_AUTH_JWKS_MIN_REFETCH_INTERVAL": "10ms"}, "auth.jwks_min_refetch_interval"},
		{map[string]string{"CAMPAIGNS_AUTH_ROLES_CLAIM": " "}, "auth.roles_claim"},
		{map[string]string{"CAMPAIGNS_AUTH_API_KEYS": "ingest:abc"}, "auth.api_keys"},
		{map[string]string{"CAMPAIGNS_RATE_LIMIT_REQUESTS_PER_SECOND": "0"}, "rate_limit.requests_per_second"},
		{map[string]string{"CAMPAIGNS_RATE_LIMIT_BURST": "0"}, "rate_limit.burst"},
		{map[string]string{"CAMPAIGNS_CORS_ALLOWED_ORIGINS": "app.example.com"}, "cors.allowed_origins"},
		{map[string]string{"CAMPAIGNS_CORS_ALLOWED_ORIGINS": "https://app.example.com/path"}, "cors.allowed_origins"},
		{map[string]string{"CAMPAIGNS_CORS_ALLOWED_ORIGINS": "*", "CAMPAIGNS_CORS_ALLOW_CREDENTIALS": "true"}, "cors.allow_credentials"},
		{map[string]string{"CAMPAIGNS_CORS_ALLOWED_ORIGINS": "*"}, "cors.allowed_origins"}, // with auth.mode none
		{map[string]string{"CAMPAIGNS_HTTP_TRUSTED_PROXIES": "10.0.0.0/33"}, "http.trusted_proxies"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			_, err := config.Load("", env(tt.env))
			requireConfigError(t, err, tt.key)
		})
	}
}

func TestSecurityUnknownAPIKeyField(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "auth:\n  api_keys:\n    - name: x\n      key: plaintext\n")
	_, err := config.Load(p, noEnv)
	cerr := requireConfigError(t, err, "auth.api_keys[0].key")
	assert.Equal(t, "is not a known setting", cerr.Reason)
}

func TestLogValueHidesAuthSecrets(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("", env(map[string]string{
		"CAMPAIGNS_AUTH_JWT_SECRET": secret,
		"CAMPAIGNS_AUTH_JWKS_URL":   "https://idp.example.com/jwks?token=" + secret,
		"CAMPAIGNS_AUTH_API_KEYS":   `[{"name":"ingest","sha256":"` + keyHash + `","roles":["tracker"]}]`,
	}))
	require.NoError(t, err)
	out := logConfig(t, cfg)
	assert.NotContains(t, out, secret)
	assert.NotContains(t, out, keyHash)
	assert.Contains(t, out, `"auth.jwt_secret":"[redacted]"`)
	assert.Contains(t, out, `"auth.api_keys":1`)
}
