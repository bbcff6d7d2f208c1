package campaigns

import (
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/engine-rules-sp/campaigns/campaign"
)

// changes fans the campaigns that may have changed out to what caches them (/track's tracking
// rules): the campaign service of this process reports its own writes, and the domain events
// on NATS report everyone's (other instances, the worker's automation).
type changes struct {
	mu        sync.RWMutex
	forget    []func(uuid.UUID)
	forgetAll []func()
}

// listen adds a cache: forget drops one campaign, forgetAll every one.
func (c *changes) listen(forget func(uuid.UUID), forgetAll func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget = append(c.forget, forget)
	c.forgetAll = append(c.forgetAll, forgetAll)
}

// changed is the campaign service's Changed hook.
func (c *changes) changed(id campaign.ID) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, f := range c.forget {
		f(uuid.UUID(id))
	}
}

func (c *changes) changedAll() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, f := range c.forgetAll {
		f()
	}
}

// watch subscribes to the domain events the outbox relays publish (subject, as
// "campaigns.events.>") and reports the campaign of each, until the returned stop is called.
// The subscription is plain NATS: an event missed while disconnected or dropped as a slow
// consumer leaves the caches' TTL as the bound, and a dropped one makes them forget
// everything.
func (c *changes) watch(nc *nats.Conn, subject string, logger *slog.Logger) (stop func()) {
	var dropped int // the subscription's callbacks run one at a time
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		if n, _ := m.Sub.Dropped(); n > dropped {
			dropped = n
			c.changedAll()
		}
		var ev struct {
			Subject string `json:"subject"`
		}
		if json.Unmarshal(m.Data, &ev) != nil {
			return
		}
		if id, err := uuid.Parse(ev.Subject); err == nil {
			c.changed(campaign.ID(id))
		}
	})
	if err != nil {
		// The TTL still bounds what /track may miss.
		logger.Warn("campaign events: cannot watch the domain events; /track relies on its cache TTL", slog.Any("error", err))
		return func() {}
	}
	return func() { _ = sub.Unsubscribe() }
}
