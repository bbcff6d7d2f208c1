package outbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/lease"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/tracing"
)

// DefaultBatchSize is how many events the relay reads, publishes and marks per round: each
// round costs a few statements whatever its size, so a backlog drains faster in larger
// rounds (1,000 gave PostgreSQL 0.52 of raw publishing where 500 gave 0.44-0.47).
const DefaultBatchSize = 1000

// Header names on published messages.
const (
	HeaderCorrelationID = "X-Correlation-ID"
	HeaderEventType     = "Ce-Type"
)

// LeaseName is the lease the relays of this schema share. It is not the previous version's
// ("relay", which migration 20261203001701 retires): a relay of that version scans
// outbox_events.published_at, which this one no longer sets, and must never lead again.
const LeaseName = "outbox-relay"

// RelayConfig tunes the relay. Zero fields take the defaults noted.
type RelayConfig struct {
	Stream          string        // the stream (CAMPAIGN_EVENTS)
	SubjectPrefix   string        // events go to <SubjectPrefix>.<type> (campaigns.events)
	Source          string        // CloudEvents source (/campaigns)
	DuplicateWindow time.Duration // JetStream de-duplication window (2m)
	// MaxAge is how long the stream keeps events (30 days); negative: forever.
	MaxAge time.Duration
	// Replicas is how many servers of a JetStream cluster keep a copy of the stream: 1 to
	// natsx.MaxReplicas (1). More than one needs a cluster; an existing stream is brought to
	// it (see natsx.EnsureStream).
	Replicas     int
	BatchSize    int           // events per publish round (DefaultBatchSize)
	PollInterval time.Duration // how often an idle relay looks for work (250ms)
	// LeaseTTL is how long a silent leader keeps the lease (15s); keep it above AckTimeout + 1s:
	// a round waits at most AckTimeout (for the acks and the previous batch's mark together)
	// between two renewals, plus its read and its sends. Before each batch it publishes, a
	// leader makes sure a third of it is left (renewing the lease if need be), and its mark of
	// the batch only lands while the lease is still its own (see Relay).
	LeaseTTL time.Duration
	// AckTimeout is how long a round waits for JetStream's acks of a batch (10s), and how long
	// a batch's mark may take (a mark that times out leaves the batch to be published again).
	AckTimeout time.Duration
	// Logger hears about failed publishes (default: discard).
	Logger *slog.Logger
	// Metrics receives the relay's measurements (default: none).
	Metrics RelayMetrics
	// TracerProvider traces each published batch: a producer span linked to the trace of
	// every change in it (default: none).
	TracerProvider trace.TracerProvider
}

// withDefaults fills the zero fields of c.
func (c RelayConfig) withDefaults() RelayConfig {
	c.Stream = cmp.Or(c.Stream, "CAMPAIGN_EVENTS")
	c.SubjectPrefix = cmp.Or(c.SubjectPrefix, "campaigns.events")
	c.Source = cmp.Or(c.Source, "/campaigns")
	c.DuplicateWindow = cmp.Or(c.DuplicateWindow, 2*time.Minute)
	switch {
	case c.MaxAge == 0:
		c.MaxAge = 30 * 24 * time.Hour
	case c.MaxAge < 0:
		c.MaxAge = 0 // JetStream's "no limit"
	}
	c.Replicas = cmp.Or(c.Replicas, 1)
	c.BatchSize = cmp.Or(c.BatchSize, DefaultBatchSize)
	c.PollInterval = cmp.Or(c.PollInterval, 250*time.Millisecond)
	c.LeaseTTL = cmp.Or(c.LeaseTTL, 15*time.Second)
	c.AckTimeout = cmp.Or(c.AckTimeout, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	return c
}

// RelayMetrics receives the relay's measurements.
type RelayMetrics interface {
	Published(n int, commitToAck []time.Duration)
}

type noMetrics struct{}

func (noMetrics) Published(int, []time.Duration) {}

// Relay publishes the outbox to JetStream. Several may run against one database: a lease
// elects one publisher at a time, so events are neither published by two relays at once nor
// reordered, and another relay takes over when the leader stops renewing.
//
// The lease is fenced (platform/lease): a leader that paused past its lease (and so may have
// been replaced) must not publish beside the new one. Right before it publishes a batch, a
// leader confirms that its tenure (the lease's token when it read the batch) is still its own
// with a third of LeaseTTL left, and gives the batch up otherwise; and the statement that marks
// a batch published only deletes it from the queue while the lease still names the leader and
// its token. A refused mark (lease.ErrFenced) stops the leader: it drops what it
// read and follows. A batch published just before the lease moved is published again by the
// new leader, which cannot know it went out (JetStream's duplicate window drops the copies).
type Relay struct {
	db      *bun.DB
	js      jetstream.JetStream
	cfg     RelayConfig
	logger  *slog.Logger
	metrics RelayMetrics
	lease   *lease.Lease
	tracer  trace.Tracer
	now     func() time.Time
	wake    chan struct{}

	streamReady bool
	marking     *markJob     // the last batch published, being marked; nil when none is
	prefetch    chan fetched // the next batch, being read; nil when none is
	prefetchOf  lease.Fence  // the tenure under which prefetch was read

	afterPrefetchRead func() // tests: runs between a prefetch's read and its late-commit check
	afterRead         func() // tests: runs between a batch's read and the check of the lease
	beforeMark        func() // tests: runs before a batch's mark

	batchQuery string // PostgreSQL: the next batch of pending events, oldest first
}

// NewRelay returns a relay that publishes the outbox of db to js.
func NewRelay(db *bun.DB, js jetstream.JetStream, cfg RelayConfig) *Relay {
	cfg = cfg.withDefaults()
	return &Relay{
		db: db, js: js, cfg: cfg, logger: cfg.Logger, metrics: cfg.Metrics,
		tracer: tracing.Tracer(cfg.TracerProvider, "github.com/engine-rules-sp/campaigns/platform/outbox"),
		lease:  lease.New(db, "outbox_leases", LeaseName, lease.Config{TTL: cfg.LeaseTTL}), now: time.Now,
		wake: make(chan struct{}, 1),
		batchQuery: "SELECT " + database.Columns[eventRow](db) + " FROM outbox_events WHERE seq = ANY(ARRAY(" +
			"SELECT seq FROM outbox_pending WHERE seq > $1 AND NOT (seq = ANY($2)) ORDER BY seq LIMIT $3)) ORDER BY seq",
	}
}

// Notify tells the relay that events were committed, so it publishes without waiting for its
// next poll. It never blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes until ctx is done. While NATS is unreachable it retries with exponential
// backoff (up to 30s); events wait in the outbox meanwhile.
func (r *Relay) Run(ctx context.Context) {
	const maxBackoff = 30 * time.Second
	backoff := r.cfg.PollInterval
	// A mark that fails leaves its rows pending: they are published again (and de-duplicated).
	defer func() {
		r.dropPrefetch() // read under ctx, which is done: Drain must read afresh
		_, _ = r.finishMark()
	}()
	for ctx.Err() == nil {
		_, read, err := r.step(ctx)
		// The last batch's mark may still run while the relay waits: the next step waits for it,
		// and reads around it meanwhile, so an event committed now is not held up by it.
		wait := r.cfg.PollInterval
		switch {
		case errors.Is(err, lease.ErrFenced):
			r.logger.InfoContext(ctx, "outbox relay: lost the lease; following", slog.Any("error", err))
			backoff = r.cfg.PollInterval
		case err != nil && ctx.Err() == nil:
			r.logger.WarnContext(ctx, "outbox relay: publish failed; will retry",
				slog.Any("error", err), slog.Duration("retry_in", backoff))
			wait, backoff = backoff, min(backoff*2, maxBackoff)
		case read == r.cfg.BatchSize:
			backoff = r.cfg.PollInterval
			continue // more work is waiting
		default:
			backoff = r.cfg.PollInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-r.wake:
		}
		t.Stop()
	}
}

// Drain publishes every event committed so far, batch after batch, until the outbox is empty
// (or another relay holds the lease: then the events are its work). A failed publish is
// retried until ctx is done. Call it on shutdown, once nothing writes any more and Run has
// returned, so that the events leave now rather than at the next start; ctx bounds how long
// it may take. It returns how many events it published.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	total := 0
	wait := r.cfg.PollInterval
	for {
		n, read, err := r.step(ctx)
		total += n
		switch {
		case errors.Is(err, lease.ErrFenced):
			m, _ := r.finishMark()
			total += m
			continue // the next step finds who holds the lease now
		case err != nil:
			m, _ := r.finishMark()
			total += m
			if ctx.Err() != nil {
				return total, fmt.Errorf("outbox relay: drain: %w", err)
			}
			r.logger.WarnContext(ctx, "outbox relay: publish failed while draining; will retry",
				slog.Any("error", err), slog.Duration("retry_in", wait))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return total, fmt.Errorf("outbox relay: drain: %w", err)
			case <-t.C:
			}
			wait = min(wait*2, 5*time.Second)
		case read == 0:
			return total, nil // step found nothing and waited for the last mark
		}
	}
}

// Step publishes one batch if this relay holds the lease, marks it published, and returns how
// many events it published.
func (r *Relay) Step(ctx context.Context) (int, error) {
	n, _, err := r.step(ctx)
	r.dropPrefetch()
	m, ferr := r.finishMark()
	return n + m, cmp.Or(err, ferr)
}

// step publishes one batch if this relay holds the lease; Run and Drain call it batch after
// batch. It overlaps the database with JetStream: while a full batch's acks are awaited, the
// next batch is read (prefetch), and a batch is marked published in the background while the
// next one is published (startMark). step first waits for the previous batch's mark and
// returns how many events that mark recorded (a batch counts as published once it is marked),
// and how many events it read this time.
//
// A read leaves out the batches still in flight or being marked, and starts from the oldest
// pending row like every read, so a transaction that committed late is published before the
// later events of its campaign (those commit after it: they update the same campaign row).
// A prefetched batch is only published after every ack of the batch before it; a failed
// publish drops it, and the next round starts from the oldest pending row again.
func (r *Relay) step(ctx context.Context) (marked, read int, err error) {
	leader, err := r.lease.Hold(ctx)
	fence, held := r.lease.Fence()
	if err != nil || !leader || !held {
		r.dropPrefetch()
		n, _ := r.finishMark()
		if err != nil {
			return n, 0, fmt.Errorf("outbox relay: %w", err)
		}
		return n, 0, nil
	}
	if r.prefetch != nil && r.prefetchOf != fence {
		r.dropPrefetch() // read in an earlier tenure: another relay may have published it since
	}
	var rows []eventRow
	if r.prefetch != nil {
		res := <-r.prefetch
		r.prefetch = nil
		rows, err = res.rows, res.err
	}
	if rows == nil && err == nil {
		rows, err = r.readBatch(ctx, r.markingSeqs())
	}
	if err != nil || len(rows) == 0 {
		n, ferr := r.finishMark()
		return n, 0, cmp.Or(err, ferr)
	}
	if r.afterRead != nil {
		r.afterRead()
	}
	if err := r.ensureStream(ctx); err != nil {
		n, _ := r.finishMark()
		return n, len(rows), err
	}
	// The last check before the batch leaves: a leader that paused since it read it (or since
	// it renewed the lease) may have been replaced, and the batch published by the new leader.
	if ok, err := r.lease.Confirm(ctx, fence, r.cfg.LeaseTTL/3); err != nil || !ok {
		r.dropPrefetch()
		n, _ := r.finishMark()
		if err != nil {
			return n, len(rows), fmt.Errorf("outbox relay: %w", err)
		}
		return n, len(rows), fmt.Errorf("outbox relay: the lease was lost before publishing: %w", lease.ErrFenced)
	}
	var n int
	var markErr error
	acked, lat, pubErr := r.publish(ctx, rows, func() {
		// The previous batch's mark ran while this one was read and sent.
		n, markErr = r.finishMark()
		if markErr == nil && len(rows) == r.cfg.BatchSize { // more is likely waiting
			r.startPrefetch(ctx, rows, fence)
		}
	})
	if r.marking != nil { // publish stopped before whileWaiting
		m, err := r.finishMark()
		n, markErr = n+m, cmp.Or(markErr, err)
	}
	if errors.Is(markErr, lease.ErrFenced) {
		// The previous mark was refused: this batch's would be too. It stays queued.
		r.dropPrefetch()
		return n, len(rows), markErr
	}
	if len(acked) > 0 {
		r.startMark(acked, lat, fence)
	}
	if pubErr != nil {
		r.streamReady = false
		r.dropPrefetch()
		return n, len(rows), pubErr
	}
	return n, len(rows), markErr
}

// fetched is a batch read in the background; nil rows (not an empty slice) when it had to be
// given up.
type fetched struct {
	rows []eventRow
	err  error
}

// startPrefetch reads the batch after inFlight in the background, once no mark is under way:
// the pending rows after inFlight's last seq. A row below that seq and not in inFlight is a
// transaction that committed late; it must go first, so the prefetch is given up when there is
// one, and the next round reads from the oldest pending row.
func (r *Relay) startPrefetch(ctx context.Context, inFlight []eventRow, fence lease.Fence) {
	last := inFlight[len(inFlight)-1].Seq
	ch := make(chan fetched, 1)
	r.prefetch, r.prefetchOf = ch, fence
	go func() {
		rows, err := r.readEvents(ctx, last, nil)
		if err != nil {
			ch <- fetched{err: err}
			return
		}
		if r.afterPrefetchRead != nil {
			r.afterPrefetchRead()
		}
		// A pending row at or below last that is not in flight is a late commit. inFlight is
		// named, not counted: its mark may already have taken it out of the queue.
		seqs := make([]int64, len(inFlight))
		for i := range inFlight {
			seqs[i] = inFlight[i].Seq
		}
		var late []int64
		if r.db.Dialect().Name() == dialect.PG {
			err = database.Prepared(ctx, r.db, &late,
				"SELECT seq FROM outbox_pending WHERE seq <= $1 AND NOT (seq = ANY($2)) LIMIT 1", last, seqs)
		} else {
			err = r.db.NewSelect().TableExpr("outbox_pending").Column("seq").Where("seq <= ?", last).
				Where("seq NOT IN (?)", bun.In(seqs)).Limit(1).Scan(ctx, &late)
		}
		if err != nil || len(late) > 0 {
			ch <- fetched{} // a late commit (or an error): read again from the oldest
			return
		}
		if rows == nil {
			rows = []eventRow{}
		}
		ch <- fetched{rows: rows}
	}()
}

// dropPrefetch waits for the background read, if any, and forgets it.
func (r *Relay) dropPrefetch() {
	if r.prefetch != nil {
		<-r.prefetch
		r.prefetch = nil
	}
}

func (r *Relay) markingSeqs() []int64 {
	if r.marking == nil {
		return nil
	}
	return r.marking.seqs
}

// readBatch reads the oldest pending events, leaving out the seqs in skip (a batch being
// marked).
func (r *Relay) readBatch(ctx context.Context, skip []int64) ([]eventRow, error) {
	return r.readEvents(ctx, 0, skip)
}

// readEvents reads the events of the first BatchSize pending seqs above after and not in
// skip, oldest first. SQLite reads them in one statement (the queue's order, each event by
// its rowid). PostgreSQL too, in a prepared statement that takes after and skip as
// parameters: the queue's seqs are gathered first into an array (ARRAY(subquery), run once
// before the outer scan) and the events fetched by primary key, because a join would let a
// planner without fresh statistics of the queue scan the whole event history. (On Bun's
// pgdriver, which prepares nothing, database.Prepared writes the parameters into the text, the
// seqs as an array literal.)
func (r *Relay) readEvents(ctx context.Context, after int64, skip []int64) ([]eventRow, error) {
	rows := make([]eventRow, 0, r.cfg.BatchSize)
	if r.db.Dialect().Name() == dialect.PG {
		if skip == nil {
			skip = []int64{}
		}
		if err := database.Prepared(ctx, r.db, &rows, r.batchQuery, after, skip, r.cfg.BatchSize); err != nil {
			return nil, fmt.Errorf("outbox relay: read batch: %w", err)
		}
		return rows, nil
	}
	queue := r.db.NewSelect().TableExpr("outbox_pending").Column("seq").Where("seq > ?", after)
	if len(skip) > 0 {
		queue = queue.Where("seq NOT IN (?)", bun.In(skip))
	}
	queue = queue.OrderExpr("seq ASC").Limit(int64(r.cfg.BatchSize))
	if err := r.db.NewSelect().Model(&rows).Where("seq IN (?)", queue).OrderExpr("seq ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("outbox relay: read batch: %w", err)
	}
	return rows, nil
}

// markJob is a batch being marked published in the background.
type markJob struct {
	seqs  []int64
	lat   []time.Duration
	fence lease.Fence
	done  chan error
}

// startMark marks seqs published in the background, under the tenure fence. A mark that fails
// after a successful publish leaves the rows pending: they are published again and JetStream
// drops the copies (same Nats-Msg-Id within the duplicate window).
func (r *Relay) startMark(seqs []int64, lat []time.Duration, fence lease.Fence) {
	job := &markJob{seqs: seqs, lat: lat, fence: fence, done: make(chan error, 1)}
	r.marking = job
	go func() {
		if r.beforeMark != nil {
			r.beforeMark()
		}
		// Bounded by AckTimeout: the next round waits for it within its own ack deadline.
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.AckTimeout)
		defer cancel()
		job.done <- r.mark(ctx, seqs, fence)
	}()
}

// finishMark waits for the background mark, if any, and reports how many events it marked.
func (r *Relay) finishMark() (int, error) {
	job := r.marking
	if job == nil {
		return 0, nil
	}
	r.marking = nil
	if err := <-job.done; err != nil {
		if errors.Is(err, lease.ErrFenced) {
			r.lease.Lost(job.fence)
		}
		return 0, fmt.Errorf("outbox relay: mark published: %w", err)
	}
	r.metrics.Published(len(job.seqs), job.lat)
	return len(job.seqs), nil
}

// mark deletes seqs from outbox_pending and records the runs of consecutive seqs it deleted in
// outbox_published, in one transaction: on PostgreSQL one statement, on SQLite two. Only the
// rows it deleted count, so a seq is recorded once even if two relays published it. A seq that
// a recorded run already holds (a row put back in the queue, published again) is not recorded
// again: runs must not overlap, since an event's time is looked up in the run that starts last
// at or before it. The run that starts last at or before seq is the only one that can hold it.
//
// The mark is fenced: it deletes and records nothing, and fails with lease.ErrFenced, unless the
// lease still names this relay and fence's token (nobody took it over since). On PostgreSQL the
// check is part of the statement (the lease row share-locked until it ends, so that a takeover
// waits for it); on SQLite it opens the write transaction, which excludes any takeover.
func (r *Relay) mark(ctx context.Context, seqs []int64, fence lease.Fence) error {
	at := r.now().UTC()
	if r.db.Dialect().Name() == dialect.PG {
		// Prepared like readEvents' statement: the seqs are one array parameter. Prepared
		// retries a statement whose connection failed; this one is safe to repeat: once it
		// committed, a repeat deletes nothing and records nothing (at worst it reports the
		// fence lost, and the relay follows a little early).
		var held []bool
		err := database.Prepared(ctx, r.db, &held, `WITH fence AS (SELECT 1 FROM outbox_leases
WHERE name = $3 AND holder = $4 AND token = $5 FOR SHARE),
moved AS (DELETE FROM outbox_pending WHERE seq = ANY($1) AND EXISTS (SELECT 1 FROM fence) RETURNING seq),
fresh AS (SELECT seq FROM moved WHERE COALESCE((SELECT p.last_seq FROM outbox_published AS p
WHERE p.first_seq <= moved.seq ORDER BY p.first_seq DESC LIMIT 1), 0) < moved.seq),
recorded AS (INSERT INTO outbox_published (first_seq, last_seq, published_at)
SELECT min(seq), max(seq), $2 FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS run FROM fresh) AS runs
GROUP BY run ON CONFLICT DO NOTHING)
SELECT EXISTS (SELECT 1 FROM fence)`, seqs, at, fence.Name, fence.Holder, fence.Token)
		if err != nil {
			return err
		}
		if len(held) != 1 || !held[0] {
			return fmt.Errorf("lease %s, token %d: %w", fence.Name, fence.Token, lease.ErrFenced)
		}
		return nil
	}
	return r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := fence.Check(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.NewRaw(`INSERT OR IGNORE INTO outbox_published (first_seq, last_seq, published_at)
SELECT min(seq), max(seq), ? FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS run
FROM outbox_pending AS q WHERE q.seq IN (?) AND COALESCE((SELECT p.last_seq FROM outbox_published AS p
WHERE p.first_seq <= q.seq ORDER BY p.first_seq DESC LIMIT 1), 0) < q.seq) AS runs GROUP BY run`,
			at, bun.In(seqs)).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewDelete().TableExpr("outbox_pending").Where("seq IN (?)", bun.In(seqs)).Exec(ctx)
		return err
	})
}

// publish sends the batch asynchronously in store order, calls whileWaiting once all of it is
// sent, and waits for every ack. It returns
// the store sequences JetStream acknowledged (a duplicate ack counts).
func (r *Relay) publish(ctx context.Context, rows []eventRow, whileWaiting func()) (acked []int64, lat []time.Duration, err error) {
	// One producer span per batch, linked to the changes it carries: the relay's work is its
	// own trace, which their traces reach through the links (messaging conventions).
	_, span := r.tracer.Start(ctx, "publish "+r.cfg.SubjectPrefix, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithLinks(tracing.Links(func(yield func(string) bool) {
			for i := range rows {
				if !yield(rows[i].TraceParent) {
					return
				}
			}
		})...),
		trace.WithAttributes(tracing.NATS, tracing.MessagingOperation.String("publish"),
			tracing.MessagingDestination.String(r.cfg.SubjectPrefix+".*"), tracing.MessagingBatchCount.Int(len(rows))))
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	futures := make([]jetstream.PubAckFuture, 0, len(rows))
	for i := range rows {
		msg, err := r.message(&rows[i])
		if err != nil {
			return nil, nil, err
		}
		f, err := r.js.PublishMsgAsync(msg)
		if err != nil {
			break // the connection is down: wait for what was sent, retry the rest later
		}
		futures = append(futures, f)
	}
	// One deadline for the previous mark (whileWaiting) and the acks, which overlap: the mark
	// started at most AckTimeout ago and times out by then, so a round outlasts the lease's
	// margin neither by waiting for it nor by waiting for the acks after it.
	timeout := time.NewTimer(r.cfg.AckTimeout)
	defer timeout.Stop()
	if len(futures) == len(rows) {
		whileWaiting()
	}
	acked = make([]int64, 0, len(futures))
	lat = make([]time.Duration, 0, len(futures))
	var firstErr error
	for i, f := range futures {
		var err error
		select { // an ack that is in counts, even past the deadline
		case <-f.Ok():
		case err = <-f.Err():
		default:
			select {
			case <-f.Ok():
			case err = <-f.Err():
			case <-timeout.C:
				return acked, lat, errors.New("outbox relay: timed out waiting for JetStream acks")
			case <-ctx.Done():
				return acked, lat, ctx.Err()
			}
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("outbox relay: publish %s: %w", rows[i].ID, err)
			}
			continue
		}
		acked = append(acked, rows[i].Seq)
		lat = append(lat, time.Since(rows[i].OccurredAt))
	}
	if firstErr == nil && len(futures) < len(rows) {
		firstErr = errors.New("outbox relay: NATS connection unavailable")
	}
	return acked, lat, firstErr
}

// CloudEvent is the JSON envelope of every published event (CloudEvents 1.0, structured mode).
type CloudEvent struct {
	SpecVersion      string          `json:"specversion"`
	ID               string          `json:"id"`
	Source           string          `json:"source"`
	Type             string          `json:"type"`
	Subject          string          `json:"subject"`
	Time             time.Time       `json:"time"`
	DataContentType  string          `json:"datacontenttype"`
	DataSchema       string          `json:"dataschema,omitempty"`
	Data             json.RawMessage `json:"data"`
	AggregateVersion int64           `json:"aggregateversion"`
	CorrelationID    string          `json:"correlationid,omitempty"`
	Actor            string          `json:"actor,omitempty"`
	// TraceParent is the CloudEvents distributed-tracing extension: the W3C trace context of
	// the change that committed the event (absent when it was not traced).
	TraceParent string `json:"traceparent,omitempty"`
}

// Envelope builds the CloudEvent of e.
func Envelope(e Event, source string) CloudEvent {
	ce := CloudEvent{
		SpecVersion: "1.0", ID: e.ID.String(), Source: source, Type: e.Type,
		Subject: e.AggregateID.String(), Time: e.OccurredAt.UTC(), DataContentType: "application/json",
		DataSchema: e.DataSchema, Data: e.Payload, AggregateVersion: e.Version, CorrelationID: e.CorrelationID,
		TraceParent: e.TraceParent,
	}
	if e.Actor != nil {
		ce.Actor = e.Actor.String()
	}
	return ce
}

// Subject is the NATS subject an event type is published on.
func (r *Relay) Subject(eventType string) string { return r.cfg.SubjectPrefix + "." + eventType }

func (r *Relay) message(row *eventRow) (*nats.Msg, error) {
	body, err := appendEnvelope(make([]byte, 0, 256+len(row.Payload)), row, r.cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("outbox relay: encode %s: %w", row.ID, err)
	}
	msg := nats.NewMsg(r.Subject(row.Type))
	msg.Data = body
	// Both names are in canonical form already: no need for Header.Set's canonicalisation.
	msg.Header[jetstream.MsgIDHeader] = []string{row.ID.String()}
	msg.Header[HeaderEventType] = []string{row.Type}
	if row.CorrelationID != "" {
		msg.Header.Set(HeaderCorrelationID, row.CorrelationID)
	}
	if row.TraceParent != "" {
		msg.Header[tracing.Header] = []string{row.TraceParent}
	}
	return msg, nil
}

// ensureStream creates or updates the events stream once per healthy connection.
func (r *Relay) ensureStream(ctx context.Context) error {
	if r.streamReady {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := natsx.EnsureStream(sctx, r.js, jetstream.StreamConfig{
		Name: r.cfg.Stream, Subjects: []string{r.cfg.SubjectPrefix + ".>"},
		Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy,
		Duplicates: r.cfg.DuplicateWindow, MaxAge: r.cfg.MaxAge, Replicas: r.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("outbox relay: events stream: %w", err)
	}
	r.streamReady = true
	return nil
}

// Release gives the lease up, so that another relay takes over at once (on shutdown).
func (r *Relay) Release(ctx context.Context) {
	if err := r.lease.Release(ctx); err != nil {
		r.logger.WarnContext(ctx, "outbox relay: release lease", slog.Any("error", err))
	}
}
