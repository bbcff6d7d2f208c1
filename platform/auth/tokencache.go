package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// A caller sends the same bearer token with every request until it expires; checking its
// signature and claims again each time costs more than the rest of the identity chain. The
// token cache remembers the tokens that passed, by their SHA-256, for at most tokenCacheTTL
// and never past their exp. Refused tokens are never remembered: each is checked, counted and
// logged. A key removed from the JWKS stops admitting the tokens it signed within
// tokenCacheTTL.
const (
	tokenCacheTTL  = 30 * time.Second
	tokenCacheSize = 10_000
)

type cachedToken struct {
	p     Principal
	until time.Time
}

type tokenCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cachedToken
}

func newTokenCache() *tokenCache {
	return &tokenCache{entries: make(map[[sha256.Size]byte]cachedToken)}
}

// get returns a copy of the Principal of raw if it passed within the last tokenCacheTTL and
// has not expired at now.
func (c *tokenCache) get(raw string, now time.Time) (*Principal, bool) {
	key := sha256.Sum256([]byte(raw))
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	p := e.p
	return &p, true
}

// put remembers that raw passed at now as p, until exp at the latest.
func (c *tokenCache) put(raw string, p *Principal, exp, now time.Time) {
	until := now.Add(tokenCacheTTL)
	if exp.Before(until) {
		until = exp
	}
	if !now.Before(until) {
		return
	}
	key := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= tokenCacheSize {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= tokenCacheSize {
			clear(c.entries) // more live callers than the cache holds: start again
		}
	}
	c.entries[key] = cachedToken{p: *p, until: until}
}

// Warm fetches the signing keys (auth.jwks_url) in the background, so that the first requests
// after a start find them instead of all waiting for the first fetch. Without a key set it
// does nothing.
func (a *Authenticator) Warm() {
	if a.keys != nil {
		a.keys.warm()
	}
}
