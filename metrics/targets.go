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
// told it of a change (TrackerConfig.TargetTTL).
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
// A read racing a change never stores what it read: while a campaign is being read, Forget
// notes its number on the campaign's reading, and a read stores its result only when no
// Forget and no other read numbered after its start has touched the campaign. A Forget of a
// campaign that is neither held nor being read leaves nothing behind, so the cache holds at
// most maxTargets entries plus the campaigns being read, however many changes it learns of.
// Unknown and deleted campaigns are not cached (a 404 reads again).
type targetCache struct {
	get func(ctx context.Context, id campaign.ID) (*campaign.View, error)
	ttl time.Duration // <= 0: no cache
	now func() time.Time

	// flights shares one read among the requests that miss the same campaign at once (a
	// burst at start or at expiry); its key carries the campaign's last Forget, so a request
	// that comes after a Forget never joins a read that began before it.
	flights singleflight.Group

	mu      sync.Mutex
	seq     uint64 // numbers the Forget calls that touched something, and the ForgetAll calls
	entries map[uuid.UUID]cachedTarget
	reading map[uuid.UUID]*reading // the campaigns being read, while they are
}

type cachedTarget struct {
	target Target
	loaded time.Time // when the read began
	seq    uint64    // c.seq when the read began
}

// reading is a campaign being read by n requests.
type reading struct {
	n      int
	forgot uint64 // the seq of the campaign's last Forget (or ForgetAll) while it was read
}

func newTargetCache(get func(context.Context, campaign.ID) (*campaign.View, error), ttl time.Duration, now func() time.Time) *targetCache {
	return &targetCache{get: get, ttl: ttl, now: now, entries: map[uuid.UUID]cachedTarget{}, reading: map[uuid.UUID]*reading{}}
}

// target returns the tracking rules of the live campaign id (campaign.ErrNotFound when it is
// unknown or deleted).
//
// An entry past half its life still serves, and is read again in the background (once at a
// time): steady traffic never waits for a read at expiry. On PostgreSQL a read is a round
// trip and a plan, and the requests that met an expiry made /track's p99. The bound holds:
// nothing is served more than ttl after the read that produced it began.
func (c *targetCache) target(ctx context.Context, id campaign.ID) (Target, error) {
	if c.ttl <= 0 {
		return c.read(ctx, id)
	}
	key := uuid.UUID(id)
	start := c.now()
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && start.Sub(e.loaded) < c.ttl {
		refresh := start.Sub(e.loaded) >= c.ttl/2 && c.reading[key] == nil
		var r *reading
		var seq, forgot uint64
		if refresh {
			seq = c.seq
			r, forgot = c.begin(key)
		}
		c.mu.Unlock()
		if refresh {
			go func() {
				defer c.end(key, r)
				_, _ = c.load(context.Background(), key, id, r, start, seq, forgot)
			}()
		}
		return e.target, nil
	}
	seq := c.seq
	r, forgot := c.begin(key)
	c.mu.Unlock()
	defer c.end(key, r)
	return c.load(ctx, key, id, r, start, seq, forgot)
}

// begin notes a read of the campaign key and returns its reading and the seq of the
// campaign's last Forget during it. c.mu is held.
func (c *targetCache) begin(key uuid.UUID) (*reading, uint64) {
	r := c.reading[key]
	if r == nil {
		r = &reading{}
		c.reading[key] = r
	}
	r.n++
	return r, r.forgot
}

// end notes that a read of the campaign key is over.
func (c *targetCache) end(key uuid.UUID, r *reading) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.n--; r.n == 0 {
		delete(c.reading, key)
	}
}

// load reads the campaign key (one read shared by the requests that miss it at once) and
// stores what it read, unless a Forget came meanwhile.
func (c *targetCache) load(ctx context.Context, key uuid.UUID, id campaign.ID, r *reading, start time.Time, seq, forgot uint64) (Target, error) {
	v, err, _ := c.flights.Do(key.String()+"/"+strconv.FormatUint(forgot, 10), func() (any, error) {
		// One read serves several requests: the first one's cancellation must not fail the
		// others.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
		defer cancel()
		t, err := c.read(rctx, id)
		if err == nil {
			c.store(key, r, t, start, seq)
		}
		return t, err
	})
	if err != nil {
		return Target{}, err
	}
	return v.(Target), nil
}

// store keeps t, read from seq on, unless the campaign was forgotten since (the next request
// reads again) or a newer read already stored it.
func (c *targetCache) store(key uuid.UUID, r *reading, t Target, start time.Time, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.forgot > seq {
		return
	}
	cur, ok := c.entries[key]
	if ok && cur.seq > seq {
		return
	}
	if !ok && len(c.entries) >= maxTargets && !c.sweep(start) {
		return
	}
	c.entries[key] = cachedTarget{target: t, loaded: start, seq: seq}
}

func (c *targetCache) read(ctx context.Context, id campaign.ID) (Target, error) {
	c0, err := c.get(ctx, id)
	if err != nil {
		return Target{}, err
	}
	return TargetOf(c0), nil
}

// sweep drops the expired entries; it reports whether there is room. c.mu is held.
func (c *targetCache) sweep(now time.Time) bool {
	for k, e := range c.entries {
		if now.Sub(e.loaded) >= c.ttl {
			delete(c.entries, k)
		}
	}
	return len(c.entries) < maxTargets
}

// forget drops campaign id: its next tracking request reads it again. It costs a map lookup
// for a campaign not held: every write and every domain event calls it.
func (c *targetCache) forget(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reading[id]
	if _, held := c.entries[id]; !held && r == nil {
		return
	}
	c.seq++
	delete(c.entries, id)
	if r != nil {
		r.forgot = c.seq
	}
}

// forgetAll drops every campaign.
func (c *targetCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	clear(c.entries)
	for _, r := range c.reading {
		r.forgot = c.seq
	}
}
