package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/auth"
)

// A token that passed once is remembered, but never past its exp, never for another token
// (a tampered copy), and never beyond what its roles grant.
func TestRememberedTokens(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Now()}
	failures := map[string]int{}
	a, err := auth.New(policy(), auth.Config{Settings: baseConfig(), Now: clk.Now,
		OnFailure: func(reason string) { failures[reason]++ }})
	require.NoError(t, err)
	e := server(t, a)
	c := claims("viewer")
	c["iat"], c["exp"] = clk.Now().Unix(), clk.Now().Add(10*time.Second).Unix()
	tok := hs(t, c, secret)

	for range 3 {
		require.Equal(t, http.StatusOK, do(e, http.MethodGet, "/things", bearer(tok)...).Code)
	}
	assert.Equal(t, http.StatusForbidden, do(e, http.MethodPost, "/things", bearer(tok)...).Code,
		"a remembered viewer token still cannot write")
	tampered := tok[:len(tok)-2] + "xx"
	assert.Equal(t, http.StatusUnauthorized, do(e, http.MethodGet, "/things", bearer(tampered)...).Code)
	assert.Equal(t, 1, failures[auth.ReasonSignature], "a refused token is checked (and counted)")

	// Past exp and the leeway (30s): refused, whatever was remembered.
	clk.Add(45 * time.Second)
	rec := do(e, http.MethodGet, "/things", bearer(tok)...)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Contains(t, rec.Body.String(), "expired")
	assert.Equal(t, 1, failures[auth.ReasonExpired])
}

// Warm fetches the key set before the first token needs it.
func TestWarmFetchesTheKeySet(t *testing.T) {
	t.Parallel()
	ks := newKeyServer(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ks.serve(rsaJWK("k1", key))
	cfg := baseConfig()
	cfg.JWTSecret, cfg.JWKSURL = "", ks.srv.URL
	a, err := auth.New(policy(), auth.Config{Settings: cfg})
	require.NoError(t, err)
	require.EqualValues(t, 0, ks.fetches.Load())
	a.Warm()
	require.Eventually(t, func() bool { return ks.fetches.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	a.Warm() // once only
	tok := signed(t, jwt.SigningMethodRS256, "k1", key, claims("viewer"))
	require.Equal(t, http.StatusOK, do(server(t, a), http.MethodGet, "/things", bearer(tok)...).Code)
	require.EqualValues(t, 1, ks.fetches.Load())
}
