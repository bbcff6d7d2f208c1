// Package ratelimit is a per-caller token bucket (golang.org/x/time/rate) with bounded memory,
// and the Echo middleware that answers 429 with Retry-After when a caller's bucket is empty.
package ratelimit

import (
	"hash/maphash"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// Config tunes a Limiter and its middleware. Zero fields take the defaults noted.
type Config struct {
	Rate        float64       // tokens added per second (50)
	Burst       int           // bucket size (100)
	IdleTimeout time.Duration // a bucket unused this long is forgotten, as it would be full again (10m)
	// MaxClients is how many buckets are kept at most (100,000; at least 16); beyond, new
	// callers share one bucket per shard.
	MaxClients int
	// Now is the clock that refills the buckets (default: time.Now).
	Now func() time.Time

	// Key names the caller of a request (default: its client address, ClientKey); "" falls
	// back to the client address too.
	Key func(c echo.Context) string
	// Skip exempts requests (probes) from the limit (default: none is exempt).
	Skip func(c echo.Context) bool
	// OnLimited learns of each refused request (a metric; default: none).
	OnLimited func()
}

const shards = 16

// Limiter holds one token bucket per key (a principal, else a client address).
type Limiter struct {
	cfg    Config
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu        sync.Mutex
	buckets   map[string]*bucket
	overflow  *rate.Limiter
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 50
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 100
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 100_000
	}
	cfg.MaxClients = max(cfg.MaxClients, shards)
	if cfg.Key == nil {
		cfg.Key = func(echo.Context) string { return "" }
	}
	if cfg.Skip == nil {
		cfg.Skip = func(echo.Context) bool { return false }
	}
	if cfg.OnLimited == nil {
		cfg.OnLimited = func() {}
	}
	l := &Limiter{cfg: cfg, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*bucket)
		l.shards[i].overflow = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst)
	}
	return l
}

// Allow takes a token from key's bucket. When there is none it returns false and how long
// until there is one.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.cfg.Now()
	s := &l.shards[maphash.String(l.seed, key)%shards]
	s.mu.Lock()
	b := s.buckets[key]
	if b == nil {
		s.sweep(now, l.cfg.IdleTimeout, false)
		if len(s.buckets) >= l.cfg.MaxClients/shards {
			s.sweep(now, l.cfg.IdleTimeout, true)
		}
		if len(s.buckets) < l.cfg.MaxClients/shards {
			b = &bucket{lim: rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)}
			s.buckets[key] = b
		}
	}
	lim := s.overflow
	if b != nil {
		b.seen = now
		lim = b.lim
	}
	s.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // the request is refused: give the token back
		return false, d
	}
	return true, 0
}

// Len is how many callers have a bucket.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// sweep forgets the buckets idle for longer than idle. It runs at most once per idle/2, or, when
// the shard is full, once per second, so that a flood of new callers cannot make every request
// scan the shard. s.mu is held.
func (s *shard) sweep(now time.Time, idle time.Duration, full bool) {
	every := idle / 2
	if full {
		every = min(every, time.Second)
	}
	if now.Sub(s.lastSweep) < every {
		return
	}
	s.lastSweep = now
	for k, b := range s.buckets {
		if now.Sub(b.seen) >= idle {
			delete(s.buckets, k)
		}
	}
}

// Middleware refuses a request whose caller's bucket is empty with a 429 problem and
// Retry-After (whole seconds, at least 1).
func (l *Limiter) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if l.cfg.Skip(c) {
				return next(c)
			}
			key := l.cfg.Key(c)
			if key == "" {
				key = ClientKey(c.RealIP())
			}
			ok, wait := l.Allow(key)
			if ok {
				return next(c)
			}
			l.cfg.OnLimited()
			secs := int(math.Ceil(wait.Seconds()))
			secs = max(secs, 1)
			p := httpx.NewProblem(http.StatusTooManyRequests, "rate-limited", "Too many requests",
				"the caller sent more requests than its rate limit allows; retry after Retry-After seconds")
			p.Headers = map[string]string{"Retry-After": strconv.Itoa(secs)}
			p.Extra = map[string]any{"retryAfter": secs}
			return p
		}
	}
}

// ClientKey is the bucket key of a client address: the address itself for IPv4, its /64
// network for IPv6 (one host usually holds a whole /64).
func ClientKey(ip string) string {
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return "ip:" + ip
	}
	if v4 := parsed.To4(); v4 != nil {
		return "ip:" + v4.String()
	}
	return "ip:" + parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
