package metrics

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// What the tests of package metrics_test reach inside the package: they run the Aggregator
// over the Bun store, and metrics/bunstore imports metrics, so they cannot be internal tests.

// WithDefaults is c with its zero fields filled.
func (c AggregatorConfig) WithDefaults() AggregatorConfig { return c.withDefaults() }

// DeadLetterStream is the stream of the dead letters.
func (c StreamConfig) DeadLetterStream() string { return c.deadLetterStream() }

// PartitionFilter is the subject filter of partition p.
func PartitionFilter(p int) string { return partitionFilter(p) }

// Crash makes the worker stop as a killed process would: no last flush, no lease or group row
// released.
func (a *Aggregator) Crash() { a.crashed.Store(true) }

// Received is how many messages the worker has received.
func (a *Aggregator) Received() int64 { return a.received.Load() }

// PositionName is the name of partition p's position and lease.
func (a *Aggregator) PositionName(p int) string { return a.positionName(p) }

// Dealt lists what the group deals: 0 to P-1, then the leftovers.
func (a *Aggregator) Dealt() []int { return a.partitions() }

// FindLeftovers looks for the partitions beyond P that hold uncounted events.
func (a *Aggregator) FindLeftovers(ctx context.Context) error { return a.findLeftovers(ctx) }

// Flush counts a batch of a partition whose position is pos.
func (a *Aggregator) Flush(ctx context.Context, consumer string, pos uint64, batch []Parsed) error {
	return a.flush(ctx, consumer, pos, batch, nil)
}

// Parsed is one message of a batch, decoded.
type Parsed = parsed

// ParseMessage is message m, at stream sequence seq and published at published, decoded as the
// worker decodes it.
func ParseMessage(m jetstream.Msg, seq uint64, published time.Time, lim Limits) Parsed {
	p := parsed{msg: m, seq: seq}
	p.event, p.err = decodeMessage(m, published, lim)
	return p
}

// ParsedEvent is event e, read at stream sequence seq.
func ParsedEvent(seq uint64, e Event) Parsed { return parsed{seq: seq, event: e} }

// Aggregate folds events into rollups, as a flush does; it returns those that would overflow
// apart.
func Aggregate(events []Parsed) (map[Key]Totals, []Parsed) { return aggregate(events) }

// ExposuresOf folds the impressions of events into one exposure per campaign and customer, as
// a flush does.
func ExposuresOf(events []Parsed) []Exposure { return exposuresOf(events) }

// CustomerKey names a customer of a campaign.
type CustomerKey = customerKey

// PauseHooks are where a test pauses a worker, and hears about its fenced flushes; nil: none.
type PauseHooks struct {
	BeforeRebalance func()                           // at each renewal, before anything is written
	BeforeCheck     func(consumer string)            // a fenced flush, before its lease is confirmed
	AfterCheck      func(consumer string)            // a fenced flush, once its lease is confirmed
	Flushed         func(consumer string, err error) // a fenced flush, with its outcome
}

// SetHooks installs h; call it before Run.
func (a *Aggregator) SetHooks(h PauseHooks) {
	a.hooks = testHooks{beforeRebalance: h.BeforeRebalance, beforeCheck: h.BeforeCheck, afterCheck: h.AfterCheck, flushed: h.Flushed}
}
