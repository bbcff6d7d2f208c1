package metrics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/platform/tracing"
)

// AggregatorConfig tunes the worker. Zero fields take the defaults noted.
type AggregatorConfig struct {
	// Stream is the tracking stream (and its P partitions), created if missing; its zero
	// fields take StreamConfig's defaults.
	Stream StreamConfig
	// Consumer names the partitions' positions and leases: "<Consumer>.p<partition>"
	// (metrics-aggregator).
	Consumer string
	// A partition combines the events it reads in memory and flushes them (one transaction)
	// when the first of these is reached: MaxWait after the batch's first message, MaxCells
	// distinct cells (hourly rollups plus per-customer exposures: the rows the flush writes,
	// before the daily and all-time levels), or BatchSize messages (which bounds the memory).
	// Real-time tracking falls in few cells, so a flush writes far fewer rows than it counts
	// events.
	BatchSize int           // messages per flush, per partition (20000)
	MaxCells  int           // distinct cells per flush, per partition (4000)
	MaxWait   time.Duration // how long a partition waits to fill a batch once a message is in (500ms)
	CacheTTL  time.Duration // how long campaign lookups are reused (30s)
	// LeaseTTL is how long a silent worker keeps its partitions (and its place in the group):
	// a worker that dies without a word hands its partitions over within it (5s).
	LeaseTTL time.Duration
	// FlushConcurrency bounds the partitions flushing at once (database transactions) (4).
	FlushConcurrency int
	// Limits bound the events; events beyond them are dead-lettered. Zero fields take Limits'
	// defaults.
	Limits Limits
	// Logger hears about retries and dead letters (default: discard).
	Logger *slog.Logger
	// Metrics receives the worker's counts (default: none).
	Metrics AggregatorMetrics
	// TracerProvider traces each flush: a consumer span linked to the producers of the
	// messages it counts (their traceparent headers), its SQL beneath it (default: none).
	TracerProvider trace.TracerProvider
}

// withDefaults fills the zero fields of c.
func (c AggregatorConfig) withDefaults() AggregatorConfig {
	c.Stream = c.Stream.withDefaults()
	c.Consumer = cmp.Or(c.Consumer, "metrics-aggregator")
	c.BatchSize = cmp.Or(c.BatchSize, 20000)
	c.MaxCells = cmp.Or(c.MaxCells, 4000)
	c.MaxWait = cmp.Or(c.MaxWait, 500*time.Millisecond)
	c.CacheTTL = cmp.Or(c.CacheTTL, 30*time.Second)
	c.LeaseTTL = cmp.Or(c.LeaseTTL, 5*time.Second)
	// A batch is flushed within the lease's margin: a flush confirms that a third of the
	// lease is left, so no batch waits longer than that to be flushed.
	c.MaxWait = min(c.MaxWait, c.LeaseTTL/3)
	c.FlushConcurrency = cmp.Or(c.FlushConcurrency, 4)
	c.Limits = c.Limits.withDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	return c
}

// AggregatorMetrics receives the worker's counts.
type AggregatorMetrics interface {
	Aggregated(n int)
	DeadLettered(n int)
}

type noMetrics struct{}

func (noMetrics) Aggregated(int)   {}
func (noMetrics) DeadLettered(int) {}

// Aggregator counts the tracking stream exactly once, partition by partition.
//
// Position-driven exactly once: each partition's position (the last stream sequence counted)
// is committed in the same transaction as the counters it produced, and a partition is read
// in stream order from its position + 1 by an ordered consumer (no acknowledgements, no
// redelivery). A flush whose starting position is not the stored one is refused, so a batch
// can never be counted twice, whoever holds the partition.
//
// Scale-out: the workers that share a database form a group (a row each, renewed while they
// run). Partitions are dealt among the live workers in id order (partition p goes to worker
// p mod N), so each has P/N of them, plus or minus one; a lease per partition makes sure only
// one reads it at a time. A worker that joins or leaves moves partitions within a renewal
// (about a second); one that dies, within LeaseTTL.
//
// Fencing: a worker that pauses (a long GC, a stalled host) past its partition's lease must
// not write beside the worker that took the partition over. A runner reads under one tenure of
// the partition's lease (its fencing token, platform/lease); before each flush it confirms
// that the tenure is still its own with a third of LeaseTTL left, and the flush's transaction
// checks it again (Batch.Fence) before it commits. A fenced flush (ErrFenced) rolls back, and
// the runner drops its batch and the partition: there is nothing to acknowledge (the ordered
// consumer takes no acks), and the new owner reads on from the stored position.
type Aggregator struct {
	js      jetstream.JetStream
	store   Store
	targets *targets
	cfg     AggregatorConfig
	logger  *slog.Logger
	metrics AggregatorMetrics
	tracer  trace.Tracer
	now     func() time.Time
	id      string // this worker's, in the group
	member  Member
	flushes chan struct{}   // FlushConcurrency slots
	pending []atomic.Uint64 // per partition: messages after the last one read
	owned   []atomic.Bool   // per partition: a runner of this worker reads it
	// leftover lists the partitions beyond P that still hold uncounted events (P was
	// lowered, or a producer runs with a larger P): they are dealt and read like the others
	// until drained. Found at start and every LeftoverScan.
	leftover atomic.Pointer[[]int]
	// received counts the messages this worker has received (tests wait on it).
	received atomic.Int64

	// crashed, set by tests, makes the worker stop as a killed process would: no last flush,
	// no lease or group row released.
	crashed atomic.Bool
	// hooks, set by tests, pause the worker at the points a stalled process would stop.
	hooks testHooks
}

// testHooks are where tests pause a worker or hear about its flushes; nil: none.
type testHooks struct {
	beforeRebalance func()                           // at each renewal, before anything is written
	beforeCheck     func(consumer string)            // a fenced flush, before its lease is confirmed
	afterCheck      func(consumer string)            // a fenced flush, once its lease is confirmed
	flushed         func(consumer string, err error) // a fenced flush, with its outcome
}

// NewAggregator returns a worker that counts the tracking stream of js into store, checking
// each event against its campaign, which campaigns looks up.
func NewAggregator(js jetstream.JetStream, store Store, campaigns Campaigns, cfg AggregatorConfig) *Aggregator {
	cfg = cfg.withDefaults()
	id := uuid.NewString()
	return &Aggregator{js: js, store: store, targets: newTargets(campaigns, cfg.CacheTTL), cfg: cfg,
		logger: cfg.Logger, metrics: cfg.Metrics, now: time.Now,
		tracer: tracing.Tracer(cfg.TracerProvider, "github.com/engine-rules-sp/campaigns/metrics"),
		id:     id, member: store.Member(id, cfg.LeaseTTL),
		flushes: make(chan struct{}, cfg.FlushConcurrency),
		pending: make([]atomic.Uint64, MaxPartitions),
		owned:   make([]atomic.Bool, MaxPartitions),
	}
}

// Partitions is P.
func (a *Aggregator) Partitions() int { return a.cfg.Stream.Partitions }

// Owned lists the partitions this worker reads now.
func (a *Aggregator) Owned() []int {
	var out []int
	for p := range a.owned {
		if a.owned[p].Load() {
			out = append(out, p)
		}
	}
	return out
}

// Pending is how many messages of the partitions this worker reads are still to be counted,
// as of the last message each partition received.
func (a *Aggregator) Pending() uint64 {
	var n uint64
	for p := range a.pending {
		if a.owned[p].Load() {
			n += a.pending[p].Load()
		}
	}
	return n
}

// Held maps each partition this worker reads now to its lag: the messages still to be
// counted as of the last message it received.
func (a *Aggregator) Held() map[int]uint64 {
	out := make(map[int]uint64)
	for p := range a.owned {
		if a.owned[p].Load() {
			out[p] = a.pending[p].Load()
		}
	}
	return out
}

// positionName is the name of partition p's position and lease.
func (a *Aggregator) positionName(p int) string { return a.cfg.Consumer + ".p" + strconv.Itoa(p) }

// renewal is how often the worker renews its group row and leases and rebalances.
func (a *Aggregator) renewal() time.Duration { return min(time.Second, a.cfg.LeaseTTL/3) }

// Run counts until ctx is done: it joins the group, reads the partitions dealt to it and
// follows the group as workers come and go. It retries with backoff while NATS or the
// database is unavailable. On shutdown each partition flushes the batch in hand, its lease is
// released and the worker leaves the group, so the others take over at once.
func (a *Aggregator) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		err := EnsureStream(ctx, a.js, a.cfg.Stream)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return // stopped before it was ready: a clean stop
		}
		a.logger.WarnContext(ctx, "metrics aggregator: not ready, will retry", slog.Any("error", err), slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
	scanDone := make(chan struct{})
	defer func() { <-scanDone }()
	go func() {
		defer close(scanDone)
		a.scanLeftovers(ctx)
	}()
	runners := map[int]*runner{}
	defer a.leave(ctx, runners)
	tick := time.NewTicker(a.renewal())
	defer tick.Stop()
	for {
		a.rebalance(ctx, runners)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// LeftoverScan is how often a worker looks for partitions beyond P that hold uncounted events.
const LeftoverScan = time.Minute

// scanLeftovers finds the leftover partitions at once and then every LeftoverScan, until ctx
// is done.
func (a *Aggregator) scanLeftovers(ctx context.Context) {
	for {
		if err := a.findLeftovers(ctx); err != nil && ctx.Err() == nil {
			a.logger.WarnContext(ctx, "metrics aggregator: look for partitions beyond metrics.partitions", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(LeftoverScan):
		}
	}
}

// findLeftovers looks at every partition from P to MaxPartitions for events after its
// position (one direct read of the last message each).
func (a *Aggregator) findLeftovers(ctx context.Context) error {
	positions, err := a.store.Positions(ctx, a.cfg.Consumer+".p")
	if err != nil {
		return err
	}
	var found []int
	for p := a.cfg.Stream.Partitions; p < MaxPartitions; p++ {
		last, err := lastSeq(ctx, a.js, a.cfg.Stream.Name, partitionFilter(p))
		if err != nil {
			return err
		}
		if pos := positions[a.positionName(p)]; last > pos {
			found = append(found, p)
		}
	}
	if len(found) > 0 {
		a.logger.WarnContext(ctx, "metrics aggregator: partitions beyond metrics.partitions hold uncounted events; the workers drain them",
			slog.Any("partitions", found), slog.Int("metrics.partitions", a.cfg.Stream.Partitions))
	}
	a.leftover.Store(&found)
	return nil
}

// partitions lists what the group deals: 0 to P-1, then the leftovers.
func (a *Aggregator) partitions() []int {
	out := make([]int, a.cfg.Stream.Partitions, a.cfg.Stream.Partitions+4)
	for p := range out {
		out[p] = p
	}
	if l := a.leftover.Load(); l != nil {
		out = append(out, *l...)
	}
	return out
}

// runner reads one partition.
type runner struct {
	lease    Lease
	fence    Fence // the tenure it reads under
	cancel   context.CancelCauseFunc
	done     chan struct{} // nil: not running
	stopping bool          // handed over: done closes once its reads stop
}

// errHandOver stops a runner whose partition goes to another worker (or whose lease was
// lost): it drops the batch in hand, which the next reader reads again from the position, so
// that the hand-over never waits for a flush.
var errHandOver = errors.New("metrics: partition handed over")

// rebalance renews this worker's place in the group and its leases, hands over the partitions
// that are no longer its own, and starts those it is dealt once it holds their lease. It
// never waits for a runner: a slow flush must not delay the renewals.
func (a *Aggregator) rebalance(ctx context.Context, runners map[int]*runner) {
	if a.hooks.beforeRebalance != nil {
		a.hooks.beforeRebalance()
	}
	a.reap(ctx, runners)
	ids, err := a.member.Beat(ctx, a.now().UTC())
	if err != nil {
		if ctx.Err() == nil { // a stop cancels the beat in flight: nothing to warn about
			a.logger.WarnContext(ctx, "metrics aggregator: renew group membership", slog.Any("error", err))
		}
		// Without the group's view, keep reading only what this worker still holds.
		for _, r := range runners {
			if held, _ := r.lease.Hold(ctx); !held {
				r.handOver()
			}
		}
		return
	}
	mine := dealt(ids, a.id, a.partitions())
	for p, r := range runners {
		if !mine[p] {
			r.handOver()
		}
	}
	for p := range mine {
		r := runners[p]
		if r == nil {
			r = &runner{lease: a.store.Lease(a.positionName(p), a.cfg.LeaseTTL)}
			runners[p] = r
		}
		if r.stopping {
			continue // started again once its last reads are over
		}
		held, err := r.lease.Hold(ctx)
		if err != nil {
			a.logger.WarnContext(ctx, "metrics aggregator: renew partition lease", slog.Int("partition", p), slog.Any("error", err))
		}
		switch {
		case !held && r.done != nil: // lost it (a long pause): another worker reads it now
			r.handOver()
		case held && r.done == nil:
			if f, ok := r.lease.Fence(); ok {
				r.fence = f
				a.start(ctx, p, r)
			}
		}
	}
}

// reap forgets the runners whose hand-over is complete, releasing the leases of those that
// are no longer this worker's.
func (a *Aggregator) reap(ctx context.Context, runners map[int]*runner) {
	for p, r := range runners {
		if r.done == nil && !r.stopping {
			continue
		}
		if r.done != nil {
			select {
			case <-r.done:
			default:
				continue // still reading
			}
		}
		a.owned[p].Store(false)
		a.pending[p].Store(0)
		r.done, r.stopping = nil, false
		a.release(ctx, p, r)
		delete(runners, p)
	}
}

func (a *Aggregator) start(ctx context.Context, p int, r *runner) {
	rctx, cancel := context.WithCancelCause(ctx)
	r.cancel, r.done = cancel, make(chan struct{})
	a.owned[p].Store(true)
	go func() {
		defer close(r.done)
		a.runPartition(rctx, p, &tenure{lease: r.lease, fence: r.fence})
	}()
}

// handOver stops the runner without waiting for it; reap completes the hand-over.
func (r *runner) handOver() {
	if r.done != nil && !r.stopping {
		r.cancel(errHandOver)
	}
	r.stopping = true
}

// release gives a partition's lease up (if this worker holds it), so that the next owner
// starts at once.
func (a *Aggregator) release(ctx context.Context, p int, r *runner) {
	if a.crashed.Load() {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.lease.Release(rctx); err != nil {
		a.logger.WarnContext(ctx, "metrics aggregator: release partition lease", slog.Int("partition", p), slog.Any("error", err))
	}
}

// stop ends a partition's runner and waits for it: on shutdown the runner flushes the batch
// in hand. Then the lease is released.
func (a *Aggregator) stop(ctx context.Context, p int, r *runner) {
	if r.done != nil {
		r.cancel(nil)
		<-r.done
		r.done = nil
	}
	a.owned[p].Store(false)
	a.pending[p].Store(0)
	a.release(ctx, p, r)
}

// leave stops every runner, releases the leases and leaves the group.
func (a *Aggregator) leave(ctx context.Context, runners map[int]*runner) {
	var wg sync.WaitGroup
	for p, r := range runners {
		wg.Go(func() { a.stop(ctx, p, r) })
	}
	wg.Wait()
	if a.crashed.Load() {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := a.member.Leave(rctx); err != nil {
		a.logger.WarnContext(ctx, "metrics aggregator: leave the group", slog.Any("error", err))
	}
}

// tenure is the tenure of a partition's lease a runner reads under.
type tenure struct {
	lease Lease
	fence Fence
}

// runPartition reads partition p under the tenure h until ctx is done, starting again from the
// stored position after an error. It stops when its tenure is over (ErrFenced): rebalance
// reaps it, and starts it again under a new tenure if the partition is still dealt to it.
func (a *Aggregator) runPartition(ctx context.Context, p int, h *tenure) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := a.consumePartition(ctx, p, h)
		if err == nil || ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrFenced) {
			a.logger.InfoContext(ctx, "metrics aggregator: the partition's lease was lost; dropping the partition and its batch",
				slog.Int("partition", p), slog.Any("error", err))
			return
		}
		if errors.Is(err, ErrPositionMoved) {
			// Another worker counted part of it (this one lost its lease meanwhile): read on
			// from where it stopped.
			a.logger.InfoContext(ctx, "metrics aggregator: partition position moved; reading on from it", slog.Int("partition", p))
			continue
		}
		a.logger.WarnContext(ctx, "metrics aggregator: partition will retry", slog.Int("partition", p),
			slog.Any("error", err), slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// consumePartition reads partition p in stream order from its stored position + 1, in
// batches (see AggregatorConfig.MaxCells). The partition reads on while its last batch is
// flushed: a batch that is due waits, still growing, until the flush before it is over (or a
// limit is reached), so a busy database gets fewer, larger flushes and the reads never stop
// for one. Batches are flushed one after the other, each from the position the one before it
// reached. When ctx ends, the batch in hand is flushed. Each flush is fenced by h.
func (a *Aggregator) consumePartition(ctx context.Context, p int, h *tenure) error {
	name := a.positionName(p)
	pos, err := a.store.Position(ctx, name)
	if err != nil {
		return err
	}
	cons, err := a.consumerAfter(ctx, p, pos)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	// The client buffers up to prefetch messages per partition; with the batch in hand and the
	// one being flushed, that bounds a worker's memory whatever the backlog.
	prefetch := min(a.cfg.BatchSize, 500)
	in := make(chan jetstream.Msg, 64)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case in <- m:
		case <-cctx.Done():
		}
	}, jetstream.PullMaxMessages(prefetch), jetstream.PullHeartbeat(consumerHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if cctx.Err() == nil { // a stop ends the consumer: nothing to warn about
				a.logger.WarnContext(ctx, "metrics aggregator: partition consumer; the client recreates it from the last message read",
					slog.Int("partition", p), slog.Any("error", err))
			}
		}))
	if err != nil {
		cancel()
		return fmt.Errorf("metrics: partition %d: consume: %w", p, err)
	}
	defer cc.Stop()
	defer cancel() // first: unblocks the handler

	f := &flusher{jobs: make(chan flushJob), idle: make(chan struct{}, 1), done: make(chan error, 1)}
	go func() { f.done <- a.flushJobs(ctx, name, f, h) }()
	flushed := f.done
	jobs := f.jobs
	for {
		var last []parsed
		pos, last, err = a.collect(ctx, p, in, pos, f)
		var stopped flusherStopped
		if errors.As(err, &stopped) {
			return stopped.err
		}
		if err == nil && ctx.Err() == nil {
			continue // handed over to the flusher; read the next batch
		}
		// Stopping (ctx is done) or a message the client could not read: flush what is in hand
		// (on a stop only), then wait for the flusher.
		if err == nil && len(last) > 0 {
			select {
			case jobs <- flushJob{from: pos, batch: last}:
			case ferr := <-flushed:
				return ferr
			}
		}
		close(jobs)
		if ferr := <-flushed; ferr != nil {
			return ferr
		}
		return err
	}
}

// flusher is a partition's flushing goroutine, as its reader sees it.
type flusher struct {
	jobs chan flushJob
	idle chan struct{} // a token when the flusher waits for a job
	done chan error    // its end: nil once jobs is closed, or why it stopped
}

// flushJob is a batch handed from a partition's reader to its flusher.
type flushJob struct {
	from  uint64 // the position the batch follows
	batch []parsed
	slot  bool // the reader took a FlushConcurrency slot for it, which the flusher releases
}

// flusherStopped: the partition's flusher stopped, with err (nil: handed over).
type flusherStopped struct{ err error }

func (f flusherStopped) Error() string {
	return fmt.Sprintf("metrics: the partition's flusher stopped: %v", f.err)
}

// flushJobs flushes the batches of jobs in order until jobs is closed, and stops at the first
// flush that fails (or at a hand-over: nil). A crashed or handed-over worker drops its batches:
// the next reader reads them again from the position.
func (a *Aggregator) flushJobs(ctx context.Context, name string, f *flusher, h *tenure) error {
	for {
		select {
		case f.idle <- struct{}{}:
		default: // the token is there already
		}
		j, ok := <-f.jobs
		if !ok {
			return nil
		}
		var err error
		switch {
		case a.crashed.Load() || errors.Is(context.Cause(ctx), errHandOver):
			err = errHandOver
		case j.slot:
			err = a.flushInSlot(ctx, name, j.from, j.batch, h)
		default:
			err = a.flush(ctx, name, j.from, j.batch, h)
		}
		if j.slot {
			<-a.flushes
		}
		if errors.Is(err, errHandOver) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// collect receives the next batch of a partition, messages after pos in order, and hands it
// to the flusher f once it is due: MaxWait after its first message, or at once when it holds
// BatchSize messages or MaxCells distinct cells. A due batch keeps growing, up to those
// limits, until the flusher is idle and a FlushConcurrency slot is free (it then takes the
// slot for the flusher): a busy database gets fewer, larger batches. It returns the position
// the batch reaches. When ctx ends it returns the batch in hand instead (nil error); a
// flusherStopped when the flusher stopped. Messages are decoded as they arrive.
func (a *Aggregator) collect(ctx context.Context, p int, in <-chan jetstream.Msg, pos uint64, f *flusher) (uint64, []parsed, error) {
	from := pos
	var batch []parsed
	var deadline <-chan time.Time
	var due, ready, slot bool
	defer func() {
		if slot { // taken but not handed over
			<-a.flushes
		}
	}()
	cells := newCellCount()
	for {
		recv := in
		if len(batch) >= a.cfg.BatchSize || cells.n >= a.cfg.MaxCells {
			recv, due = nil, true
		}
		// Once due: wait for the flusher to be idle, then for a slot, then hand the batch over
		// (the idle flusher takes it at once).
		var idle <-chan struct{}
		var take chan<- struct{}
		var handOff chan<- flushJob
		switch {
		case !due:
		case !ready:
			idle = f.idle
		case !slot:
			take = a.flushes
		default:
			handOff = f.jobs
		}
		select {
		case m := <-recv:
			meta, err := m.Metadata()
			if err != nil {
				return from, nil, fmt.Errorf("metrics: partition %d: message metadata: %w", p, err)
			}
			seq := meta.Sequence.Stream
			if seq <= pos {
				continue // a repeat of what is counted already
			}
			pos = seq
			a.pending[p].Store(meta.NumPending)
			a.received.Add(1)
			pm := parsed{msg: m, seq: seq}
			// An event without occurredAt happened when it was published.
			pm.event, pm.err = decodeMessage(m, meta.Timestamp.UTC(), a.cfg.Limits)
			if pm.err == "" {
				cells.add(pm.event)
			}
			batch = append(batch, pm)
			if deadline == nil {
				deadline = time.After(a.cfg.MaxWait)
			}
		case <-deadline:
			due = true
		case <-idle:
			ready = true
		case take <- struct{}{}:
			slot = true
		case handOff <- flushJob{from: from, batch: batch, slot: true}:
			slot = false // the flusher's now
			return pos, nil, nil
		case err := <-f.done:
			return from, nil, flusherStopped{err}
		case <-ctx.Done():
			return from, batch, nil
		}
	}
}

// cellCount counts the distinct rows a batch will write: its hourly rollups and its
// customers' exposures.
type cellCount struct {
	rollups   map[Key]struct{}
	customers map[customerKey]struct{}
	n         int
}

func newCellCount() *cellCount {
	return &cellCount{rollups: make(map[Key]struct{}, 256), customers: make(map[customerKey]struct{}, 256)}
}

func (c *cellCount) add(e Event) {
	k := e.key()
	if _, ok := c.rollups[k]; !ok {
		c.rollups[k] = struct{}{}
		c.n++
	}
	if e.Type == Impression && e.CustomerID != "" {
		ck := customerKey{CampaignID: e.CampaignID, CustomerID: e.CustomerID}
		if _, ok := c.customers[ck]; !ok {
			c.customers[ck] = struct{}{}
			c.n++
		}
	}
}

// flush counts a batch of a partition, at most FlushConcurrency partitions at a time.
//
// A flush waiting for its turn gives up when its partition is handed over; on shutdown it
// waits and flushes. Once begun, a flush runs to its end whatever happens to ctx.
//
// With h (a runner's), the flush is fenced: it first confirms that the tenure h is still this
// worker's with a third of LeaseTTL left (a worker that knows it is late neither dead-letters
// nor writes), and its transaction checks the tenure again. Both fail with ErrFenced.
func (a *Aggregator) flush(ctx context.Context, consumer string, pos uint64, batch []parsed, h *tenure) (err error) {
	select {
	case a.flushes <- struct{}{}:
	case <-ctx.Done():
		if cause := context.Cause(ctx); errors.Is(cause, errHandOver) {
			return cause
		}
		a.flushes <- struct{}{}
	}
	defer func() { <-a.flushes }()
	return a.flushInSlot(ctx, consumer, pos, batch, h)
}

// flushInSlot is flush for a caller that holds one of the FlushConcurrency slots.
func (a *Aggregator) flushInSlot(ctx context.Context, consumer string, pos uint64, batch []parsed, h *tenure) (err error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	fctx, span := a.startFlushSpan(fctx, consumer, batch)
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	if h == nil {
		return a.commit(fctx, consumer, pos, batch, nil)
	}
	if a.hooks.beforeCheck != nil {
		a.hooks.beforeCheck(consumer)
	}
	err = a.fencedCommit(fctx, consumer, pos, batch, h)
	if a.hooks.flushed != nil {
		a.hooks.flushed(consumer, err)
	}
	return err
}

// startFlushSpan starts the consumer span of a flush: a root of its own (the flush serves many
// producers), linked to the trace context each message carries.
func (a *Aggregator) startFlushSpan(ctx context.Context, consumer string, batch []parsed) (context.Context, trace.Span) {
	return a.tracer.Start(ctx, "process "+SubjectPrefix, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithNewRoot(),
		trace.WithLinks(tracing.Links(func(yield func(string) bool) {
			for i := range batch {
				if batch[i].msg == nil {
					continue
				}
				if h := batch[i].msg.Headers(); h != nil && !yield(h.Get(tracing.Header)) {
					return
				}
			}
		})...),
		trace.WithAttributes(tracing.NATS, tracing.MessagingOperation.String("process"),
			tracing.MessagingDestination.String(SubjectPrefix+".*"), tracing.MessagingBatchCount.Int(len(batch)),
			attribute.String("messaging.consumer.group.name", consumer)))
}

func (a *Aggregator) fencedCommit(ctx context.Context, consumer string, pos uint64, batch []parsed, h *tenure) error {
	ok, err := h.lease.Confirm(ctx, h.fence, a.cfg.LeaseTTL/3)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("metrics: partition %s: the lease was lost before the flush: %w", consumer, ErrFenced)
	}
	if a.hooks.afterCheck != nil {
		a.hooks.afterCheck(consumer)
	}
	return a.commit(ctx, consumer, pos, batch, &h.fence)
}

// Drain counts every event published so far, partition by partition, in this goroutine, and
// returns when each partition's position has reached the last message it held at the call.
// It takes no lease: the position guard keeps it exact beside running workers. Tests and
// tools use it; the worker uses Run.
func (a *Aggregator) Drain(ctx context.Context) error {
	if err := EnsureStream(ctx, a.js, a.cfg.Stream); err != nil {
		return err
	}
	if err := a.findLeftovers(ctx); err != nil {
		return err
	}
	for _, p := range a.partitions() {
		if err := a.drainPartition(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (a *Aggregator) drainPartition(ctx context.Context, p int) error {
	name := a.positionName(p)
	last, err := lastSeq(ctx, a.js, a.cfg.Stream.Name, partitionFilter(p))
	if err != nil {
		return err
	}
	pos, err := a.store.Position(ctx, name)
	if err != nil || pos >= last {
		return err
	}
	cons, err := a.consumerAfter(ctx, p, pos)
	if err != nil {
		return err
	}
	for empty := 0; pos < last; {
		// What the stream holds now: a fetch that waited for a full batch would wait out its
		// timeout on every partition's last batch.
		msgs, err := cons.FetchNoWait(a.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("metrics: partition %d: fetch: %w", p, err)
		}
		var batch []parsed
		for m := range msgs.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("metrics: partition %d: message metadata: %w", p, err)
			}
			pm := parsed{msg: m, seq: meta.Sequence.Stream}
			pm.event, pm.err = decodeMessage(m, meta.Timestamp.UTC(), a.cfg.Limits)
			batch = append(batch, pm)
		}
		if err := msgs.Error(); err != nil && len(batch) == 0 {
			return fmt.Errorf("metrics: partition %d: fetch: %w", p, err)
		}
		if len(batch) == 0 {
			if empty++; empty > 50 {
				return fmt.Errorf("metrics: partition %d: no message after sequence %d though the stream holds %d", p, pos, last)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if err := a.flush(ctx, name, pos, batch, nil); err != nil {
			return err
		}
		pos = batch[len(batch)-1].seq
	}
	return nil
}

// consumerHeartbeat is how often the server tells a partition's consumer that it is alive
// while it has nothing to deliver. The client recreates a consumer that misses two (from the
// last message it read), so it also bounds how long a consumer that the server has stopped
// serving stays silent: with the client's default for ordered consumers, 5s, every partition
// stood idle for 10s in 5 of about 70 runs of the ingestion benchmark on one day (BENCHMARKS.md,
// "A ten-second pause").
const consumerHeartbeat = time.Second

// consumerAfter is an ordered consumer of partition p from the message after position pos.
func (a *Aggregator) consumerAfter(ctx context.Context, p int, pos uint64) (jetstream.Consumer, error) {
	cons, err := a.js.OrderedConsumer(ctx, a.cfg.Stream.Name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{partitionFilter(p)}, DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq: pos + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: partition %d: consumer: %w", p, err)
	}
	return cons, nil
}
