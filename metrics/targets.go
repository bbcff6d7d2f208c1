package metrics

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/engine-rules-sp/campaigns/campaign"
)

// DefaultTargetTTL is how long /track trusts a campaign's tracking rules it read, when nothing
// told it of a change (HandlerConfig.TargetTTL).
const DefaultTargetTTL = 2 * time.Second

// maxTargets bounds the cached campaigns; beyond it, expired ones are dropped, and when none
// is, new ones are read every time.
const maxTargets = 100_000

// readTimeout bounds a read of a campaign shared by several requests.
const readTimeout = 10 * time.Second

// targetCache keeps what /track checks events against (the campaign's currency, channels,
// variants and personalization rules), so that a tracking request reads nothing from the
// database. A campaign leaves it as soon as its owner learns of a change (Forget), and every
// entry expires ttl after the read that produced it began, whatever was missed.
//
// A read racing a change never stores what it read: Forget leaves a marker numbered after
// every read already under way, and a read stores its result only when no marker newer than
// its start stands for its campaign. Unknown and deleted campaigns are not cached (a 404
// reads again).
type targetCache struct {
	get func(ctx context.Context, id campaign.ID) (*campaign.Campaign, error)
	ttl time.Duration // <= 0: no cache
	now func() time.Time

	// flights shares one read among the requests that miss the same campaign at once (a
	// burst at start or at expiry); its key carries seq, so a request that comes after a
	// Forget never joins a read that began before it.
	flights singleflight.Group

	mu      sync.Mutex
	seq     uint64 // numbers Forget calls
	allSeq  uint64 // the seq of the last ForgetAll
	entries map[uuid.UUID]cachedTarget
}

type cachedTarget struct {
	target Target
	loaded time.Time // when the read began
	forgot uint64    // non-zero: a marker left by Forget (no target)
}

func newTargetCache(get func(context.Context, campaign.ID) (*campaign.Campaign, error), ttl time.Duration, now func() time.Time) *targetCache {
	return &targetCache{get: get, ttl: ttl, now: now, entries: map[uuid.UUID]cachedTarget{}}
}

// target returns the tracking rules of the live campaign id (campaign.ErrNotFound when it is
// unknown or deleted).
func (c *targetCache) target(ctx context.Context, id campaign.ID) (Target, error) {
	if c.ttl <= 0 {
		return c.read(ctx, id)
	}
	key := uuid.UUID(id)
	start := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	seq := c.seq
	c.mu.Unlock()
	if ok && e.forgot == 0 && start.Sub(e.loaded) < c.ttl {
		return e.target, nil
	}
	v, err, _ := c.flights.Do(key.String()+"/"+strconv.FormatUint(seq, 10), func() (any, error) {
		// One read serves several requests: the first one's cancellation must not fail the
		// others.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
		defer cancel()
		return c.read(rctx, id)
	})
	if err != nil {
		return Target{}, err
	}
	t := v.(Target)
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.entries[key]
	if seq < c.allSeq || ok && cur.forgot > seq {
		return t, nil // forgotten while it was read: the next request reads again
	}
	if !ok && len(c.entries) >= maxTargets && !c.sweep(start) {
		return t, nil
	}
	c.entries[key] = cachedTarget{target: t, loaded: start}
	return t, nil
}

func (c *targetCache) read(ctx context.Context, id campaign.ID) (Target, error) {
	c0, err := c.get(ctx, id)
	if err != nil {
		return Target{}, err
	}
	return TargetOf(c0), nil
}

// sweep drops the expired entries and the markers older than ttl (a read that began before a
// dropped marker stores an entry that expires by ttl after the marker anyway); it reports
// whether there is room. c.mu is held.
func (c *targetCache) sweep(now time.Time) bool {
	for k, e := range c.entries {
		if now.Sub(e.loaded) >= c.ttl {
			delete(c.entries, k)
		}
	}
	return len(c.entries) < maxTargets
}

// forget drops campaign id: its next tracking request reads it again.
func (c *targetCache) forget(id uuid.UUID) {
	now := c.now()
	c.mu.Lock()
	c.seq++
	c.entries[id] = cachedTarget{loaded: now, forgot: c.seq}
	c.mu.Unlock()
}

// forgetAll drops every campaign.
func (c *targetCache) forgetAll() {
	c.mu.Lock()
	c.seq++
	c.allSeq = c.seq
	clear(c.entries)
	c.mu.Unlock()
}
