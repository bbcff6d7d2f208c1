package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"time"
)

var (
	// errUnknownKey: the key set (fetched successfully) has no key for the token's kid and alg.
	errUnknownKey = errors.New("no signing key matches the token")
	// errKeysUnavailable: the key set could not be fetched, so the token cannot be judged.
	errKeysUnavailable = errors.New("the signing keys could not be fetched")
)

// maxJWKSBytes bounds the key set document.
const maxJWKSBytes = 1 << 20

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// jwk is one usable verification key.
type jwk struct {
	kid string
	alg string // the JWK's own "alg", if it names one
	key crypto.PublicKey
}

// jwksConfig tunes the key set cache.
type jwksConfig struct {
	URL        string
	Refresh    time.Duration // the set is refetched (in the background) once older than this
	MinRefetch time.Duration // an unknown kid refetches at most this often
	Timeout    time.Duration // bound of one fetch
	Client     *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
	OnFetch    func(ok bool) // optional: counts fetches
}

// jwks caches a JSON Web Key Set fetched from a URL. Keys are served from memory; a set older
// than Refresh is refetched in the background while the old one keeps serving; a token whose
// kid is not in the set refetches it at once, at most once per MinRefetch, so that a key
// rotation is picked up without letting random kids hammer the identity provider. A failed
// fetch keeps the keys already known.
type jwks struct {
	cfg jwksConfig

	mu        sync.Mutex
	keys      []jwk
	fetchedAt time.Time     // last successful fetch
	attempt   time.Time     // last fetch started
	lastErr   error         // outcome of the last fetch
	inflight  chan struct{} // non-nil while a fetch runs; closed when it ends
}

func newJWKS(cfg jwksConfig) *jwks {
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &jwks{cfg: cfg}
}

// key returns the public key that verifies a token signed with alg and naming kid ("" when it
// names none).
func (s *jwks) key(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	s.mu.Lock()
	now := s.cfg.Now()
	k, found := s.lookup(kid, alg)
	if found {
		if now.Sub(s.fetchedAt) >= s.cfg.Refresh && s.inflight == nil {
			s.startFetch(now)
		}
		s.mu.Unlock()
		return k, nil
	}
	// Not known: fetch now, unless a fetch ran very recently (then its answer stands).
	wait := s.inflight
	if wait == nil {
		gap := s.cfg.MinRefetch
		if len(s.keys) == 0 {
			gap = min(gap, time.Second) // nothing to serve yet: retry sooner
		}
		if !s.attempt.IsZero() && now.Sub(s.attempt) < gap {
			err := s.missErr()
			s.mu.Unlock()
			return nil, err
		}
		wait = s.startFetch(now)
	}
	s.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, errKeysUnavailable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, found := s.lookup(kid, alg); found {
		return k, nil
	}
	return nil, s.missErr()
}

// missErr is why a key was not found: the set could not be fetched (the key may exist, we
// cannot tell), or it was and has no such key. s.mu is held.
func (s *jwks) missErr() error {
	if s.lastErr != nil {
		return errKeysUnavailable
	}
	return errUnknownKey
}

// lookup finds the key for kid usable with alg. A token without kid is accepted only when
// exactly one key fits its algorithm. s.mu is held.
func (s *jwks) lookup(kid, alg string) (crypto.PublicKey, bool) {
	var match crypto.PublicKey
	n := 0
	for _, k := range s.keys {
		if (kid != "" && k.kid != kid) || (k.alg != "" && k.alg != alg) || !keyFits(k.key, alg) {
			continue
		}
		if kid != "" {
			return k.key, true
		}
		match = k.key
		n++
	}
	return match, n == 1
}

// startFetch fetches the set in the background and returns a channel closed when it is done.
// s.mu is held.
func (s *jwks) startFetch(now time.Time) chan struct{} {
	done := make(chan struct{})
	s.inflight, s.attempt = done, now
	go func() {
		keys, err := s.fetch()
		s.mu.Lock()
		s.lastErr = err
		if err == nil {
			s.keys, s.fetchedAt = keys, s.cfg.Now()
		}
		s.inflight = nil
		close(done)
		s.mu.Unlock()
		if s.cfg.OnFetch != nil {
			s.cfg.OnFetch(err == nil)
		}
		if err != nil && s.cfg.Logger != nil {
			s.cfg.Logger.Warn("auth: JWKS fetch failed; keeping the keys already known", slog.Any("error", err))
		}
	}()
	return done
}

// fetch downloads and parses the key set, within the fetch timeout.
func (s *jwks) fetch() ([]jwk, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		// The URL may hold credentials: report the failure without it.
		return nil, fmt.Errorf("jwks: fetch failed: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: fetch answered %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: read: %w", unwrapURLError(err))
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("jwks: the key set is larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// unwrapURLError drops the URL (which may hold credentials) from an HTTP client error.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads the RSA and EC signature keys of a set; other keys (encryption keys,
// symmetric or unknown types) are skipped. A set without any usable key is an error.
func parseJWKS(body []byte) ([]jwk, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("jwks: not a JSON key set: %w", err)
	}
	var out []jwk
	var skipped []error
	for i, raw := range doc.Keys {
		var k rawJWK
		if err := json.Unmarshal(raw, &k); err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var pub crypto.PublicKey
		var err error
		switch k.Kty {
		case "RSA":
			pub, err = rsaKey(k)
		case "EC":
			pub, err = ecKey(k)
		default:
			continue
		}
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %q: %w", k.Kid, err))
			continue
		}
		out = append(out, jwk{kid: k.Kid, alg: k.Alg, key: pub})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("jwks: no usable RSA or EC signature key in the set: %w", errors.Join(skipped...))
	}
	return out, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func rsaKey(k rawJWK) (*rsa.PublicKey, error) {
	n, err := b64(k.N)
	if err != nil || len(n) == 0 {
		return nil, errors.New("bad modulus")
	}
	e, err := b64(k.E)
	if err != nil || len(e) == 0 || len(e) > 4 {
		return nil, errors.New("bad exponent")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if pub.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("RSA key of %d bits; at least %d required", pub.N.BitLen(), minRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return nil, errors.New("bad exponent")
	}
	return pub, nil
}

func ecKey(k rawJWK) (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch k.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("unsupported curve %q", k.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	x, errX := b64(k.X)
	y, errY := b64(k.Y)
	if errX != nil || errY != nil || len(x) != size || len(y) != size {
		return nil, errors.New("bad coordinates")
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point) // checks the point is on the curve
	if err != nil {
		return nil, fmt.Errorf("bad point: %w", err)
	}
	return pub, nil
}

// keyFits reports whether key can verify alg: RSA keys for RS*/PS*, and EC keys of the
// algorithm's own curve for ES*.
func keyFits(key crypto.PublicKey, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return len(alg) == 5 && (alg[:2] == "RS" || alg[:2] == "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	}
	return false
}

// warm starts the first fetch of the set unless one ran or runs.
func (s *jwks) warm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight == nil && s.attempt.IsZero() {
		s.startFetch(s.cfg.Now())
	}
}
