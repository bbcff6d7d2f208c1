package metrics

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/lease"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// Subjects and headers of the tracking stream.
const (
	SubjectPrefix    = "campaigns.tracking"
	DeadLetterSubj   = SubjectPrefix + ".dlq"
	HeaderDLQReason  = "Dlq-Reason"
	HeaderDLQSubject = "Dlq-Subject"
	HeaderDLQSeq     = "Dlq-Stream-Seq"
)

// Subject is the subject tracking events of a campaign are published on.
func Subject(campaignID uuid.UUID) string { return SubjectPrefix + "." + campaignID.String() }

// StreamConfig describes the tracking stream.
type StreamConfig struct {
	Name            string        // CAMPAIGN_TRACKING
	MaxAge          time.Duration // retention
	DuplicateWindow time.Duration // how long a resent eventId is recognised
}

// EnsureStream creates or updates the tracking stream (subjects campaigns.tracking.*, which
// includes the dead-letter subject campaigns.tracking.dlq).
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) error {
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: cfg.Name, Subjects: []string{SubjectPrefix + ".*"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxAge: cfg.MaxAge, Duplicates: cfg.DuplicateWindow,
	})
	if err != nil {
		return fmt.Errorf("metrics: create stream %s: %w", cfg.Name, err)
	}
	return nil
}

// Campaigns looks campaigns up; the campaign service implements it.
type Campaigns interface {
	GetMany(ctx context.Context, ids []campaign.ID) (map[campaign.ID]*campaign.Campaign, error)
}

// targets caches what events are checked against, briefly: a campaign's channels, variants
// and currency rarely change, and the worker sees the same campaigns in every batch.
type targets struct {
	campaigns Campaigns
	ttl       time.Duration
	mu        sync.Mutex
	entries   map[uuid.UUID]targetEntry
}

type targetEntry struct {
	target Target
	found  bool
	at     time.Time
}

func newTargets(c Campaigns, ttl time.Duration) *targets {
	return &targets{campaigns: c, ttl: ttl, entries: map[uuid.UUID]targetEntry{}}
}

// get returns the targets of ids (found=false for unknown or deleted campaigns).
func (t *targets) get(ctx context.Context, ids []uuid.UUID, now time.Time) (map[uuid.UUID]targetEntry, error) {
	out := make(map[uuid.UUID]targetEntry, min(len(ids), 4096))
	var missing []campaign.ID
	asked := map[uuid.UUID]bool{} // each missing campaign is looked up once
	t.mu.Lock()
	for _, id := range ids {
		if _, done := out[id]; done || asked[id] {
			continue
		}
		if e, ok := t.entries[id]; ok && now.Sub(e.at) < t.ttl {
			out[id] = e
		} else {
			asked[id] = true
			missing = append(missing, campaign.ID(id))
		}
	}
	t.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	found, err := t.campaigns.GetMany(ctx, missing)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) > 100_000 { // bound the memory of a long-running worker
		clear(t.entries)
	}
	for _, id := range missing {
		e := targetEntry{at: now}
		if c, ok := found[id]; ok {
			e.target, e.found = TargetOf(c), true
		}
		t.entries[uuid.UUID(id)] = e
		out[uuid.UUID(id)] = e
	}
	return out, nil
}

// AggregatorConfig tunes the worker.
type AggregatorConfig struct {
	Stream    StreamConfig  // the tracking stream, created if missing
	Durable   string        // the durable consumer's name
	BatchSize int           // messages per flush (the consumer allows two batches unacknowledged)
	MaxWait   time.Duration // how long a fetch waits to fill a batch
	AckWait   time.Duration
	CacheTTL  time.Duration // how long campaign lookups are reused
	LeaseTTL  time.Duration // how long a silent worker keeps the right to consume (15s)
	Limits    Limits        // events beyond them are dead-lettered
}

// DefaultAggregatorConfig is the worker's configuration.
func DefaultAggregatorConfig() AggregatorConfig {
	return AggregatorConfig{Stream: StreamConfig{Name: "CAMPAIGN_TRACKING", MaxAge: 7 * 24 * time.Hour,
		DuplicateWindow: 10 * time.Minute}, Durable: "metrics-aggregator", BatchSize: 10000,
		MaxWait: 500 * time.Millisecond, AckWait: 60 * time.Second, CacheTTL: 30 * time.Second,
		LeaseTTL: 15 * time.Second, Limits: DefaultLimits()}
}

// AggregatorMetrics receives the worker's counts (nil: none).
type AggregatorMetrics interface {
	Aggregated(n int)
	DeadLettered(n int)
}

// Aggregator consumes the tracking stream and counts every event exactly once.
//
// Exactly once: each flush stores the last stream sequence it counted in the same transaction
// as the counters, and counts only messages that continue that position without a gap; a
// redelivered message at or below it is acknowledged and skipped. Acknowledgement follows the
// commit, so a crash in between only causes such skips. With several workers, one consumes at
// a time (a lease in the database) and the others stand by to take over.
type Aggregator struct {
	js      jetstream.JetStream
	store   *Store
	targets *targets
	cfg     AggregatorConfig
	logger  *slog.Logger
	metrics AggregatorMetrics
	now     func() time.Time
	lease   *lease.Lease
	// beforeAck, when set, runs between the commit and the ack; tests use it to stand for a
	// worker that dies there.
	beforeAck func() error
}

// NewAggregator returns the worker; metrics may be nil.
func NewAggregator(js jetstream.JetStream, store *Store, campaigns Campaigns, cfg AggregatorConfig, logger *slog.Logger, metrics AggregatorMetrics) *Aggregator {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultAggregatorConfig().LeaseTTL
	}
	if !cfg.Limits.MaxAmount.IsPositive() {
		cfg.Limits = DefaultLimits()
	}
	return &Aggregator{js: js, store: store, targets: newTargets(campaigns, cfg.CacheTTL), cfg: cfg,
		logger: logger, metrics: metrics, now: time.Now,
		lease: lease.New(store.db, "metrics_leases", cfg.Durable, cfg.LeaseTTL)}
}

// Consumer creates or updates the durable pull consumer.
func (a *Aggregator) Consumer(ctx context.Context) (jetstream.Consumer, error) {
	if err := EnsureStream(ctx, a.js, a.cfg.Stream); err != nil {
		return nil, err
	}
	c, err := a.js.CreateOrUpdateConsumer(ctx, a.cfg.Stream.Name, jetstream.ConsumerConfig{
		Durable: a.cfg.Durable, FilterSubject: SubjectPrefix + ".*", AckPolicy: jetstream.AckAllPolicy,
		AckWait: a.cfg.AckWait, MaxAckPending: 2 * a.cfg.BatchSize, MaxDeliver: -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: consumer %s: %w", a.cfg.Durable, err)
	}
	return c, nil
}

// Run consumes until ctx is done, while it holds the lease (else it stands by). It retries
// with backoff while NATS or the database is unavailable; on shutdown the batch in hand is
// flushed and acknowledged first, and the lease is released.
func (a *Aggregator) Run(ctx context.Context) {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := a.lease.Release(rctx); err != nil {
			a.logger.WarnContext(ctx, "metrics aggregator: release lease", slog.Any("error", err))
		}
	}()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := a.consume(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		a.logger.WarnContext(ctx, "metrics aggregator: will retry", slog.Any("error", err), slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// consume runs a pipeline: while one batch is flushed, the next one is fetched and decoded
// (the consumer allows two batches unacknowledged). Flushes run one at a time, in order.
func (a *Aggregator) consume(ctx context.Context) error {
	cons, err := a.Consumer(ctx)
	if err != nil {
		return err
	}
	// Fetched batches outlive ctx: graceful shutdown flushes and acknowledges them.
	fctx := context.WithoutCancel(ctx)
	var flushing chan error // the flush in flight, nil when none
	wait := func() error {
		if flushing == nil {
			return nil
		}
		err := <-flushing
		flushing = nil
		return err
	}
	for ctx.Err() == nil {
		held, err := a.lease.Hold(ctx)
		if err != nil {
			return errors.Join(fmt.Errorf("metrics: %w", err), wait())
		}
		if !held { // another worker consumes: stand by
			if err := wait(); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
			case <-time.After(a.lease.Renewal()):
			}
			continue
		}
		b, err := a.fetch(fctx, cons)
		if ferr := wait(); ferr != nil {
			return ferr // b, if any, is not acknowledged: it comes back after the ack wait
		}
		if err != nil {
			return err
		}
		if b.n == 0 {
			continue
		}
		flushing = make(chan error, 1)
		go func() { flushing <- a.flushWithin(fctx, b) }()
	}
	return wait()
}

// Step fetches, counts and acknowledges one batch, and returns how many messages it handled.
// A fetch already under way when ctx ends is finished (flushed and acknowledged).
func (a *Aggregator) Step(ctx context.Context, cons jetstream.Consumer) (int, error) {
	ctx = context.WithoutCancel(ctx)
	b, err := a.fetch(ctx, cons)
	if err != nil || b.n == 0 {
		return 0, err
	}
	return b.n, a.flushWithin(ctx, b)
}

// fetch receives one batch. Messages are decoded while the batch is still arriving, so that
// decoding overlaps the transfer; the position is read when the first message is in.
func (a *Aggregator) fetch(ctx context.Context, cons jetstream.Consumer) (*pending, error) {
	batch, err := cons.Fetch(a.cfg.BatchSize, jetstream.FetchMaxWait(a.cfg.MaxWait))
	if err != nil {
		return nil, fmt.Errorf("metrics: fetch: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b := &pending{}
	for m := range batch.Messages() {
		if err := a.add(actx, b, m); err != nil {
			return nil, err
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && b.n == 0 {
		return nil, fmt.Errorf("metrics: fetch: %w", err)
	}
	return b, nil
}

func (a *Aggregator) flushWithin(ctx context.Context, b *pending) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return a.flush(ctx, b)
}

type parsed struct {
	msg   jetstream.Msg
	seq   uint64
	skip  bool // a dead letter (the stream holds them too): takes its sequence, counts nothing
	event Event
	err   string // non-empty: dead-letter it with this reason
}

// pending is a batch being received.
type pending struct {
	n    int    // messages received
	read bool   // pos is read
	pos  uint64 // the stored position when the batch began
	// seen is the received message with the highest sequence at or below pos (a redelivery
	// of what is counted already), nil when none.
	seen    jetstream.Msg
	seenSeq uint64
	work    []parsed // the messages above pos, decoded
}

// add takes one message of the batch: a message at or below the stored position (a
// redelivery) is only acknowledged with the batch; any other is decoded for flush.
func (a *Aggregator) add(ctx context.Context, b *pending, m jetstream.Msg) error {
	if !b.read {
		pos, err := a.store.Position(ctx, a.cfg.Durable)
		if err != nil {
			return err
		}
		b.read, b.pos = true, pos
	}
	b.n++
	meta, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("metrics: message metadata: %w", err)
	}
	seq := meta.Sequence.Stream
	if seq <= b.pos {
		if seq >= b.seenSeq {
			b.seen, b.seenSeq = m, seq
		}
		return nil // counted before
	}
	p := parsed{msg: m, seq: seq, skip: m.Subject() == DeadLetterSubj}
	if !p.skip {
		// An event without occurredAt happened when it was published.
		p.event, p.err = decodeMessage(m, meta.Timestamp.UTC(), a.cfg.Limits)
	}
	b.work = append(b.work, p)
	return nil
}

// A batch is committed only as far as it continues the stored position without a gap (the
// consumer sees every sequence of the stream). One worker consumes at a time (the lease), but
// a worker that lost the lease mid-batch, or a redelivery, can still leave a gap: what lies
// beyond it waits until the gap is counted.
const (
	gapWait       = time.Second // how long to wait for a gap to be counted
	gapRetry      = time.Second // how soon the messages beyond a gap come back
	commitRetries = 5           // commits refused because the position moved meanwhile
)

func (a *Aggregator) flush(ctx context.Context, b *pending) error {
	slices.SortFunc(b.work, func(x, y parsed) int { return cmp.Compare(x.seq, y.seq) })
	b.work = slices.CompactFunc(b.work, func(x, y parsed) bool { return x.seq == y.seq })
	pos := b.pos
	var waited time.Duration
	retries, reread := 0, false
	for {
		run, rest := contiguous(b.work, pos)
		if len(run) == 0 && len(rest) > 0 && !reread {
			// Usually the batch before, committed after this one was fetched.
			reread = true
			var err error
			if pos, err = a.store.Position(ctx, a.cfg.Durable); err != nil {
				return err
			}
			continue
		}
		if len(run) == 0 && len(rest) > 0 {
			// A gap before the batch: messages that expired from the stream unread, or that
			// another worker holds and may be about to commit.
			base, err := a.expiredBefore(ctx, pos)
			if err != nil {
				return err
			}
			run, rest = contiguous(b.work, base)
			if len(run) == 0 && waited < gapWait {
				time.Sleep(20 * time.Millisecond)
				waited += 20 * time.Millisecond
				if pos, err = a.store.Position(ctx, a.cfg.Durable); err != nil {
					return err
				}
				continue
			}
			if len(run) > 0 && base > pos {
				a.logger.WarnContext(ctx, "metrics aggregator: tracking events expired from the stream before they were counted",
					slog.Uint64("count", base-pos))
			}
		}
		err := a.commit(ctx, pos, run)
		if errors.Is(err, ErrPositionMoved) && retries < commitRetries {
			// Another worker counted some of these first: count only what lies beyond.
			retries++
			if pos, err = a.store.Position(ctx, a.cfg.Durable); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if len(run) > 0 {
			pos = run[len(run)-1].seq
		}
		if a.beforeAck != nil {
			if err := a.beforeAck(); err != nil {
				return err
			}
		}
		// AckAll: acknowledging a message acknowledges every one before it; acknowledge the
		// highest one counted, by this worker or another.
		ack := b.seen
		for _, p := range b.work {
			if p.seq <= pos {
				ack = p.msg
			}
		}
		if ack != nil {
			if err := ack.Ack(); err != nil {
				return fmt.Errorf("metrics: ack: %w", err)
			}
		}
		for _, p := range rest {
			if p.seq > pos {
				_ = p.msg.NakWithDelay(gapRetry) // best effort: unacknowledged, it comes back anyway
			}
		}
		return nil
	}
}

// contiguous splits work (sorted by sequence) into the messages that continue pos without a
// gap and those beyond the first gap; messages at or below pos are in neither.
func contiguous(work []parsed, pos uint64) (run, rest []parsed) {
	i := 0
	for i < len(work) && work[i].seq <= pos {
		i++
	}
	j, next := i, pos+1
	for j < len(work) && work[j].seq == next {
		j++
		next++
	}
	return work[i:j], work[j:]
}

// expiredBefore returns pos, or the sequence before the stream's first message when messages
// after pos are gone from the stream (its retention removed them before they were counted).
func (a *Aggregator) expiredBefore(ctx context.Context, pos uint64) (uint64, error) {
	st, err := a.js.Stream(ctx, a.cfg.Stream.Name)
	if err != nil {
		return 0, fmt.Errorf("metrics: stream info: %w", err)
	}
	if first := st.CachedInfo().State.FirstSeq; first > pos+1 {
		return first - 1, nil
	}
	return pos, nil
}

// commit counts run (the messages after pos, without a gap) and moves the position to its end,
// in one transaction; invalid events go to the dead-letter subject first.
//
// One bad event never stops the others: an event whose totals the database refuses (a total
// beyond the 64-bit range) is found by Store.Refused, dead-lettered with the reason, and the
// rest of the batch is committed without it.
func (a *Aggregator) commit(ctx context.Context, pos uint64, run []parsed) error {
	if len(run) == 0 {
		return nil
	}
	now := a.now().UTC()
	dead, counted, err := a.validate(ctx, run, now)
	if err != nil {
		return err
	}
	sent := 0 // dead letters published
	for attempt := 0; ; attempt++ {
		rollups, overflowed := aggregate(counted)
		dead, counted = append(dead, overflowed...), without(counted, overflowed)
		if err := a.deadLetter(ctx, dead[sent:]); err != nil {
			return err
		}
		sent = len(dead)
		err := a.store.Commit(ctx, Batch{Consumer: a.cfg.Durable, From: pos, To: run[len(run)-1].seq, Rollups: rollups,
			Processed: int64(len(counted)), DeadLettered: int64(len(dead))}, now)
		if !sqlerr.IsDataRefused(err) || attempt > 0 {
			if err != nil {
				return err
			}
			if a.metrics != nil {
				a.metrics.Aggregated(len(counted))
				a.metrics.DeadLettered(len(dead))
			}
			return nil
		}
		refused, rerr := a.refused(ctx, counted, now)
		if rerr != nil {
			return rerr
		}
		if len(refused) == 0 {
			return err // refused as a whole but in no part: retried with backoff, and logged
		}
		dead, counted = append(dead, refused...), without(counted, refused)
	}
}

// validate looks the campaigns of run up and checks each event against its campaign. It
// returns the events to dead-letter (with their reason) and those to count.
func (a *Aggregator) validate(ctx context.Context, run []parsed, now time.Time) (dead, counted []parsed, err error) {
	ids := make([]uuid.UUID, 0, len(run))
	for i := range run {
		if !run[i].skip && run[i].err == "" {
			ids = append(ids, run[i].event.CampaignID)
		}
	}
	tg, err := a.targets.get(ctx, ids, now)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics: look campaigns up: %w", err)
	}
	counted = make([]parsed, 0, len(run))
	for _, p := range run {
		if p.skip {
			continue
		}
		if p.err == "" {
			e := tg[p.event.CampaignID]
			switch {
			case !e.found:
				p.err = "unknown or deleted campaign " + p.event.CampaignID.String()
			default:
				if errs := e.target.check(p.event); len(errs) > 0 {
					p.err = joinErrors(errs)
				}
			}
		}
		if p.err != "" {
			dead = append(dead, p)
			continue
		}
		counted = append(counted, p)
	}
	return dead, counted, nil
}

// aggregate folds events into rollups. An event that would take a total beyond the 64-bit
// range is left out and returned with its reason.
func aggregate(events []parsed) (map[Key]Totals, []parsed) {
	rollups := make(map[Key]Totals, 256)
	var overflowed []parsed
	for _, p := range events {
		k := p.event.key()
		sum, err := rollups[k].Add(p.event.totals())
		if err != nil {
			p.err = outOfRange(err)
			overflowed = append(overflowed, p)
			continue
		}
		rollups[k] = sum
	}
	return rollups, overflowed
}

// refused asks the store which events it refuses, and returns them with the reason.
func (a *Aggregator) refused(ctx context.Context, events []parsed, now time.Time) ([]parsed, error) {
	items := make([]Contribution, len(events))
	for i, p := range events {
		items[i] = Contribution{Key: p.event.key(), Totals: p.event.totals()}
	}
	refusals, err := a.store.Refused(ctx, items, now)
	if err != nil {
		return nil, err
	}
	out := make([]parsed, 0, len(refusals))
	for _, r := range refusals {
		p := events[r.Index]
		p.err = outOfRange(r.Err)
		out = append(out, p)
	}
	if len(out) > 0 {
		a.logger.WarnContext(ctx, "metrics aggregator: the database refused the totals of some events; they go to the dead-letter subject",
			slog.Int("count", len(out)), slog.String("first_reason", out[0].err))
	}
	return out, nil
}

// outOfRange is the dead-letter reason of an event whose totals cannot be stored.
func outOfRange(err error) string {
	return "a total of the campaign would be out of range (at most 922337203685477.5807 in its currency): " + err.Error()
}

// without returns events less those in drop (matched by stream sequence).
func without(events, drop []parsed) []parsed {
	if len(drop) == 0 {
		return events
	}
	gone := make(map[uint64]bool, len(drop))
	for _, p := range drop {
		gone[p.seq] = true
	}
	return slices.DeleteFunc(events, func(p parsed) bool { return gone[p.seq] })
}

// deadLetter publishes invalid events to the dead-letter subject with the reason, and waits
// for JetStream to store them. The Nats-Msg-Id makes a retried flush publish each only once.
func (a *Aggregator) deadLetter(ctx context.Context, dead []parsed) error {
	if len(dead) == 0 {
		return nil
	}
	futures := make([]jetstream.PubAckFuture, 0, len(dead))
	for _, p := range dead {
		msg := nats.NewMsg(DeadLetterSubj)
		msg.Data = p.msg.Data()
		msg.Header.Set(HeaderDLQReason, p.err)
		msg.Header.Set(HeaderDLQSubject, p.msg.Subject())
		msg.Header.Set(HeaderDLQSeq, strconv.FormatUint(p.seq, 10))
		msg.Header.Set(jetstream.MsgIDHeader, "dlq-"+strconv.FormatUint(p.seq, 10))
		f, err := a.js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("metrics: dead-letter: %w", err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("metrics: dead-letter: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	a.logger.WarnContext(ctx, "metrics aggregator: dead-lettered invalid events", slog.Int("count", len(dead)),
		slog.String("first_reason", dead[0].err))
	return nil
}

// decodeMessage parses a message from campaigns.tracking.<campaignId>. It returns a reason
// when the message cannot be counted.
func decodeMessage(m jetstream.Msg, now time.Time, lim Limits) (Event, string) {
	token := strings.TrimPrefix(m.Subject(), SubjectPrefix+".")
	cid, err := uuid.Parse(token)
	if err != nil || len(token) != 36 {
		return Event{}, "the subject does not name a campaign id"
	}
	var w wireEvent
	if err := json.Unmarshal(m.Data(), &w); err != nil {
		return Event{}, "malformed JSON: " + err.Error()
	}
	if w.EventID == "" {
		// Keep an id so that the event can be traced; JetStream already de-duplicated it by
		// Nats-Msg-Id if the publisher set one.
		w.EventID = m.Headers().Get(jetstream.MsgIDHeader)
		if _, err := uuid.Parse(w.EventID); err != nil {
			w.EventID = ""
		}
	}
	e, errs := w.parse(&cid, now, lim)
	if len(errs) > 0 {
		return Event{}, joinErrors(errs)
	}
	return e, ""
}

func joinErrors(errs []FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Field + ": " + e.Message
	}
	return strings.Join(parts, "; ")
}

// key is the hourly rollup the event counts in.
func (e Event) key() Key {
	return Key{CampaignID: e.CampaignID, Hour: HourOf(e.OccurredAt), Variant: e.Variant, Channel: string(e.Channel)}
}

// totals is the event's contribution to its rollup.
func (e Event) totals() Totals {
	t := Totals{RevenueE4: e4(e.Revenue), CostE4: e4(e.Cost)}
	switch e.Type {
	case Impression:
		t.Impressions = 1
	case Click:
		t.Clicks = 1
	case Conversion:
		t.Conversions = 1
	case Bounce:
		t.Bounces = 1
	case Unsubscribe:
		t.Unsubscribes = 1
	}
	return t
}
