package campaigns

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/tracing"
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
//
// Each event is processed in a consumer span linked to the change that committed it (its
// traceparent header).
func (c *changes) watch(nc *nats.Conn, subject string, logger *slog.Logger, tracer trace.Tracer) (stop func()) {
	var dropped int // the subscription's callbacks run one at a time
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		_, span := tracer.Start(context.Background(), "process "+m.Subject, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithLinks(tracing.Links(func(yield func(string) bool) { yield(m.Header.Get(tracing.Header)) })...),
			trace.WithAttributes(tracing.NATS, tracing.MessagingOperation.String("process"),
				tracing.MessagingDestination.String(m.Subject)))
		defer span.End()
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
