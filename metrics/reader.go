package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// delivery is one message of a partition as its runner receives it, with its metadata.
type delivery struct {
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	err  error // the metadata could not be read
	// shared: read by the worker's shared reader, whose pending count is the whole stream's
	// (not the partition's).
	shared bool
}

// sharedReader reads the whole tracking stream with one ordered consumer, without a filter,
// and hands each message to the runner of its partition (or drops it when this worker does not
// read that partition).
//
// Why: a filtered consumer makes the NATS server look for the next message of its partition
// on every delivery, and with P partitions interleaved in one stream that search costs far
// more than reading in order: on one server, 16 filtered consumers read a stream at half the
// rate of one unfiltered consumer, and counting them took a third of the machine's CPU beside
// the worker and the database. A worker that reads at least half of the partitions reads the
// stream this way; one that reads fewer keeps a filtered consumer per partition, which then
// costs less than receiving and dropping the other workers' messages.
//
// Runners subscribe from their own position; the reader starts at the earliest one and starts
// again when a runner needs messages before those it has handed out. A runner skips what it
// has counted already, so a message handed out twice is harmless.
type sharedReader struct {
	js      jetstream.JetStream
	stream  string
	prefix  string // the subjects' first tokens, before the partition's (SubjectPrefix)
	logger  *slog.Logger
	pending atomic.Uint64 // the stream's messages after the last one read (0 while idle)

	mu     sync.Mutex
	subs   map[int]*readerSub
	active bool   // a consumer runs (or is about to)
	gen    uint64 // the running consumer's: a stopped one's late deliveries are dropped
	cursor uint64 // the last stream sequence the running consumer handed out
	wake   chan struct{}
}

// readerSub is one runner's subscription: messages of its partition after from.
type readerSub struct {
	ch   chan delivery
	from uint64
	done <-chan struct{}
	// gen is the first consumer generation that hands it messages: one that reads from its
	// position on. The consumer running when it subscribed may be past that position, and a
	// later message from it would reach the runner before the earlier ones.
	gen uint64
}

func newSharedReader(js jetstream.JetStream, stream, prefix string, logger *slog.Logger) *sharedReader {
	return &sharedReader{js: js, stream: stream, prefix: prefix, logger: logger, subs: map[int]*readerSub{}, wake: make(chan struct{}, 1)}
}

// subscribe hands the messages of partition p after position from to the returned channel
// until done is closed or unsubscribe is called.
func (r *sharedReader) subscribe(p int, from uint64, done <-chan struct{}) (<-chan delivery, func()) {
	s := &readerSub{ch: make(chan delivery, 64), from: from, done: done}
	r.mu.Lock()
	r.subs[p] = s
	// Messages after the cursor reach it in order from the running consumer; earlier ones
	// only from the next one, which starts at or before from + 1.
	s.gen = r.gen
	if !r.active || from < r.cursor {
		s.gen = r.gen + 1
		r.signal()
	}
	r.mu.Unlock()
	return s.ch, func() {
		r.mu.Lock()
		if r.subs[p] == s {
			delete(r.subs, p)
		}
		if len(r.subs) == 0 {
			r.signal() // nothing left to read for: stop the consumer
		}
		r.mu.Unlock()
	}
}

func (r *sharedReader) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// start begins a consumer's generation: it returns the stream sequence to start at (the
// message after the earliest subscriber's position) and the generation. ok is false without
// subscribers.
func (r *sharedReader) start() (seq, gen uint64, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	if len(r.subs) == 0 {
		r.active, r.cursor = false, 0
		r.pending.Store(0)
		return 0, r.gen, false
	}
	first := true
	var from uint64
	for _, s := range r.subs {
		if first || s.from < from {
			from, first = s.from, false
		}
	}
	r.active, r.cursor = true, from
	return from + 1, r.gen, true
}

// run reads until ctx is done, idle while no runner subscribes.
func (r *sharedReader) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		seq, gen, ok := r.start()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-r.wake: // the first subscriber
			}
			continue
		}
		// read returns nil when a subscriber needs an earlier start: start again at once.
		err := r.read(ctx, seq, gen)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			backoff = 100 * time.Millisecond
			continue
		}
		r.logger.WarnContext(ctx, "metrics aggregator: shared reader will retry", slog.Any("error", err), slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// read consumes the stream from seq until ctx is done or a subscriber needs an earlier start
// (or the first subscriber comes): then it returns nil.
func (r *sharedReader) read(ctx context.Context, seq, gen uint64) error {
	cons, err := r.js.OrderedConsumer(ctx, r.stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq})
	if err != nil {
		return fmt.Errorf("metrics: shared reader: consumer: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	// The client buffers up to this many messages; with each runner's batch in hand and the
	// one being flushed, that bounds the worker's memory whatever the backlog.
	cc, err := cons.Consume(func(m jetstream.Msg) { r.dispatch(rctx, gen, m) }, jetstream.PullMaxMessages(1000))
	if err != nil {
		cancel()
		return fmt.Errorf("metrics: shared reader: consume: %w", err)
	}
	defer cc.Stop()
	defer cancel() // first: unblocks the handler
	select {
	case <-ctx.Done():
	case <-r.wake:
	}
	return nil
}

// dispatch hands m, read by the consumer of generation gen, to its partition's subscriber,
// waiting while that one's channel is full.
func (r *sharedReader) dispatch(ctx context.Context, gen uint64, m jetstream.Msg) {
	meta, err := m.Metadata()
	p, ok := partitionOfSubject(r.prefix, m.Subject())
	r.mu.Lock()
	if gen != r.gen {
		r.mu.Unlock()
		return // a stopped consumer's: its successor reads it again
	}
	if err == nil {
		r.cursor = meta.Sequence.Stream
		r.pending.Store(meta.NumPending)
	}
	s := r.subs[p]
	r.mu.Unlock()
	if s == nil || !ok || gen < s.gen {
		return // another worker's partition, not a partition's subject, or too late for it
	}
	select {
	case s.ch <- delivery{msg: m, meta: meta, err: err, shared: true}:
	case <-s.done:
	case <-ctx.Done():
	}
}

// partitionOfSubject is the partition of a stream subject, <prefix>.<p>.<campaignId>.
func partitionOfSubject(prefix, subject string) (int, bool) {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok {
		return 0, false
	}
	token, _, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, false
	}
	p, err := strconv.Atoi(token)
	if err != nil || p < 0 || p >= MaxPartitions {
		return 0, false
	}
	return p, true
}
