package targeting

import (
	"container/list"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ruleCache keeps rule metadata (and "not found" answers) for a short TTL, so that eligibility
// requests do not ask rules-management for the same rules again and again. It is bounded: past
// max entries the least recently used one goes. Each Client has its own.
type ruleCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	items map[uuid.UUID]*list.Element
	order *list.List // front: most recently used
}

type cacheEntry struct {
	id       uuid.UUID
	rule     *Rule // nil: the engine said 404
	expires  time.Time
	notFound bool
}

func newRuleCache(ttl time.Duration, max int, now func() time.Time) *ruleCache {
	return &ruleCache{ttl: ttl, max: max, now: now, items: make(map[uuid.UUID]*list.Element), order: list.New()}
}

// get returns the cached answer for id: the rule, or notFound; ok is false on a miss.
func (c *ruleCache) get(id uuid.UUID) (rule *Rule, notFound, ok bool) {
	if c == nil {
		return nil, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, hit := c.items[id]
	if !hit {
		return nil, false, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, id)
		return nil, false, false
	}
	c.order.MoveToFront(el)
	return e.rule, e.notFound, true
}

// put stores an answer (rule nil and notFound true for a 404).
func (c *ruleCache) put(id uuid.UUID, rule *Rule, notFound bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &cacheEntry{id: id, rule: rule, notFound: notFound, expires: c.now().Add(c.ttl)}
	if el, hit := c.items[id]; hit {
		el.Value = e
		c.order.MoveToFront(el)
		return
	}
	c.items[id] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).id)
	}
}

// len is the number of entries, expired ones included until they are touched or evicted.
func (c *ruleCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
