package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/strictjson"
	"github.com/engine-rules-sp/campaigns/platform/tracing"
)

// CampaignGetter finds one live campaign; the campaign service implements it.
type CampaignGetter interface {
	Get(ctx context.Context, id campaign.ID) (*campaign.View, error)
}

// TrackerConfig tunes a Tracker. Zero fields take the defaults noted.
type TrackerConfig struct {
	// Limits bound the events; events beyond them are refused. Zero fields take Limits'
	// defaults.
	Limits Limits
	// Partitions is P: each event is published on its partition's subject (DefaultPartitions).
	Partitions int
	// TargetTTL is how long the tracker keeps a campaign's tracking rules (currency, channels,
	// variants, personalization rules) without reading the campaign again, when nothing told
	// it of a change through Forget (DefaultTargetTTL; negative: read every time).
	TargetTTL time.Duration
	// AckTimeout is how long Publish waits for JetStream to acknowledge a request's events
	// (DefaultAckTimeout). An event sent but not acknowledged by then is in doubt (Unknown):
	// it may have been stored.
	AckTimeout time.Duration
	// TracerProvider traces each Publish: a producer span, whose context every message
	// carries (traceparent header) for the aggregator's spans to link to (default: none).
	TracerProvider trace.TracerProvider
}

// DefaultAckTimeout is how long Publish waits for JetStream's acks by default: far above an
// ack's few milliseconds, short enough that a client hears within 2 s that NATS is gone.
const DefaultAckTimeout = time.Second

// Tracker takes tracking events in (POST /campaigns/{id}/track): it checks each one against
// its campaign's tracking rules, which it keeps for a while (see Forget), and stores the valid
// ones on the tracking stream, where the Aggregator counts them.
type Tracker struct {
	js      jetstream.JetStream
	cfg     TrackerConfig
	targets *targetCache
	tracer  trace.Tracer
}

// NewTracker returns a tracker that reads campaigns through campaigns and publishes to js.
func NewTracker(js jetstream.JetStream, campaigns CampaignGetter, cfg TrackerConfig) *Tracker {
	if cfg.Partitions < 1 {
		cfg.Partitions = DefaultPartitions
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.TargetTTL == 0 {
		cfg.TargetTTL = DefaultTargetTTL
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	return &Tracker{js: js, cfg: cfg, targets: newTargetCache(targetReader(campaigns), cfg.TargetTTL, time.Now),
		tracer: tracing.Tracer(cfg.TracerProvider, "github.com/engine-rules-sp/campaigns/metrics")}
}

// campaignsReader reads campaigns as stored; the campaign service implements it.
type campaignsReader interface {
	GetMany(ctx context.Context, ids []campaign.ID) (map[campaign.ID]*campaign.View, error)
}

// targetReader reads a campaign for its tracking rules: through GetMany when campaigns has it,
// which leaves out what Get adds for serving (the delivery totals, a second query).
func targetReader(campaigns CampaignGetter) func(context.Context, campaign.ID) (*campaign.View, error) {
	r, ok := campaigns.(campaignsReader)
	if !ok {
		return campaigns.Get
	}
	return func(ctx context.Context, id campaign.ID) (*campaign.View, error) {
		got, err := r.GetMany(ctx, []campaign.ID{id})
		if err != nil {
			return nil, err
		}
		c, ok := got[id]
		if !ok {
			return nil, campaign.ErrNotFound
		}
		return c, nil
	}
}

// Target returns the tracking rules of the live campaign id (campaign.ErrNotFound when it is
// unknown or deleted).
func (t *Tracker) Target(ctx context.Context, id campaign.ID) (Target, error) {
	return t.targets.target(ctx, id)
}

// Forget tells the tracker that campaign id may have changed (its settings, budget currency,
// deletion): the next event of it reads it again. Call it once the change has committed; a
// call for a change that did not commit costs one read.
func (t *Tracker) Forget(id uuid.UUID) { t.targets.forget(id) }

// ForgetAll is Forget for every campaign (when changes may have been missed).
func (t *Tracker) ForgetAll() { t.targets.forgetAll() }

// Check decodes raw, one event of campaign campaignID received at now, and checks it against
// the campaign's tracking rules, target. It returns the event, as far as it could be read, and
// what is wrong with it (nothing: it can be published).
func (t *Tracker) Check(raw []byte, campaignID uuid.UUID, target Target, now time.Time) (Event, []FieldError) {
	e, errs := decodeEvent(raw, campaignID, now, t.cfg.Limits)
	if len(errs) == 0 {
		errs = target.check(e)
	}
	return e, errs
}

// Outcome is what became of one event given to Publish.
type Outcome int

// The outcomes of an event.
const (
	// Stored: JetStream acknowledged it (a duplicate of an event it holds counts).
	Stored Outcome = iota + 1
	// NotStored: certainly not stored. It never left this process (the connection was down,
	// or another event before it could not be sent), or JetStream refused it.
	NotStored
	// Unknown: it was sent but no ack came (the connection dropped, or AckTimeout passed): it
	// may have been stored. Sending it again with the same eventId is safe.
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case Stored:
		return "stored"
	case NotStored:
		return "notStored"
	case Unknown:
		return "unknown"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// ErrNotConnected is why events are not sent while the NATS connection is not up.
var ErrNotConnected = errors.New("nats connection is not up")

// PublishError is Publish's error when not every event was stored: Outcomes[i] is what became
// of events[i].
type PublishError struct {
	Outcomes []Outcome
	// Err is the first cause met.
	Err error
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("tracking: publish: %d of %d events not stored, %d in doubt: %v",
		e.count(NotStored), len(e.Outcomes), e.count(Unknown), e.Err)
}

func (e *PublishError) Unwrap() error { return e.Err }

// InDoubt reports whether some event may or may not have been stored.
func (e *PublishError) InDoubt() bool { return e.count(Unknown) > 0 }

func (e *PublishError) count(o Outcome) int {
	n := 0
	for _, x := range e.Outcomes {
		if x == o {
			n++
		}
	}
	return n
}

// Publish stores the events on the tracking stream and waits up to AckTimeout for every ack.
// Nats-Msg-Id = eventId, so an event sent again with its id within the stream's duplicate
// window is not counted twice. It returns nil when every event was stored, and otherwise a
// *PublishError saying what became of each.
//
// Nothing is sent while the connection is not up: nats.go would keep the messages in its
// reconnect buffer and send them once it reconnects, so an event answered "not stored" could
// still be counted.
func (t *Tracker) Publish(ctx context.Context, events []Event) (err error) {
	ctx, span := t.tracer.Start(ctx, "publish "+SubjectPrefix, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(tracing.NATS, tracing.MessagingOperation.String("publish"),
			tracing.MessagingDestination.String(SubjectPrefix+".*"), tracing.MessagingBatchCount.Int(len(events))))
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	traceparent := tracing.TraceParent(ctx)
	outcomes := make([]Outcome, len(events))
	nc := t.js.Conn()
	if st := nc.Status(); st != nats.CONNECTED {
		for i := range outcomes {
			outcomes[i] = NotStored
		}
		return &PublishError{Outcomes: outcomes, Err: fmt.Errorf("%w (%s)", ErrNotConnected, st)}
	}
	acks := &ackWait{ctx: ctx, deadline: time.NewTimer(t.cfg.AckTimeout), after: t.cfg.AckTimeout}
	defer acks.deadline.Stop()
	rid := audit.CorrelationID(ctx)
	futures := make([]jetstream.PubAckFuture, len(events))
	var first error
	for i, e := range events {
		if first != nil {
			// Once one event could not be sent, the next are not sent either: the connection
			// may be reconnecting, and would buffer them.
			outcomes[i] = NotStored
			continue
		}
		data, err := encodeWire(&e)
		if err != nil {
			outcomes[i], first = NotStored, err
			continue
		}
		msg := nats.NewMsg(PartitionSubject(e.CampaignID, t.cfg.Partitions))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, e.EventID.String())
		if rid != "" {
			msg.Header.Set("X-Correlation-ID", rid)
		}
		if traceparent != "" {
			msg.Header[tracing.Header] = []string{traceparent}
		}
		f, err := t.js.PublishMsgAsync(msg)
		if err != nil {
			// nats.go returns an error only for a message that did not leave: the connection
			// closed, draining or reconnecting without a buffer, too many acks pending, too
			// large, or a socket write that failed before its last byte (the server drops a
			// truncated message).
			outcomes[i], first = NotStored, err
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		var err error
		outcomes[i], err = acks.await(f)
		if err != nil && first == nil {
			first = err
		}
	}
	for _, o := range outcomes {
		if o != Stored {
			return &PublishError{Outcomes: outcomes, Err: first}
		}
	}
	return nil
}

// ackWait waits for acks until ctx is done or the deadline has passed (a timer, not a
// context with a deadline: every /track request waits on one). Once a wait has ended that
// way, the next only take an ack already there.
type ackWait struct {
	ctx      context.Context
	deadline *time.Timer
	after    time.Duration
	late     error // why the waiting ended
}

func (w *ackWait) await(f jetstream.PubAckFuture) (Outcome, error) {
	if w.late == nil {
		select {
		case <-f.Ok():
			return Stored, nil
		case err := <-f.Err():
			return ackOutcome(err), err
		case <-w.ctx.Done():
			w.late = w.ctx.Err()
		case <-w.deadline.C:
			w.late = fmt.Errorf("%w: none within %s", context.DeadlineExceeded, w.after)
		}
	}
	// An ack that came just as the wait ended still counts.
	select {
	case <-f.Ok():
		return Stored, nil
	case err := <-f.Err():
		return ackOutcome(err), err
	default:
		return Unknown, fmt.Errorf("no ack: %w", w.late)
	}
}

// ackOutcome is the outcome of a message sent whose ack is the error err.
func ackOutcome(err error) Outcome {
	var api *jetstream.APIError
	switch {
	case errors.As(err, &api), errors.Is(err, jetstream.ErrNoStreamResponse):
		// JetStream refused it, or no stream took the subject.
		return NotStored
	default:
		// The connection dropped before the ack (nats.ErrDisconnected), or the ack was
		// unreadable.
		return Unknown
	}
}

func decodeEvent(raw json.RawMessage, cid uuid.UUID, now time.Time, lim Limits) (Event, []FieldError) {
	var w wireEvent
	if err := decodeWire(raw, &w); err != nil {
		var p *strictjson.Error
		if errors.As(err, &p) && len(p.Fields) > 0 {
			return Event{}, fieldErrors(p.Fields)
		}
		return Event{}, []FieldError{{Field: "", Message: "must be a JSON object"}}
	}
	return w.parse(&cid, now, lim)
}
