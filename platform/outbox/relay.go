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

	"github.com/engine-rules-sp/campaigns/platform/lease"
)

// Header names on published messages.
const (
	HeaderCorrelationID = "X-Correlation-ID"
	HeaderEventType     = "Ce-Type"
)

// RelayConfig tunes the relay. Zero fields take the defaults noted.
type RelayConfig struct {
	Stream          string        // the stream (CAMPAIGN_EVENTS)
	SubjectPrefix   string        // events go to <SubjectPrefix>.<type> (campaigns.events)
	Source          string        // CloudEvents source (/campaigns)
	DuplicateWindow time.Duration // JetStream de-duplication window (2m)
	// MaxAge is how long the stream keeps events (30 days); negative: forever.
	MaxAge       time.Duration
	BatchSize    int           // events per publish round (500)
	PollInterval time.Duration // how often an idle relay looks for work (250ms)
	// LeaseTTL is how long a silent leader keeps the lease (15s); keep it above AckTimeout + 1s.
	LeaseTTL   time.Duration
	AckTimeout time.Duration // how long to wait for JetStream acks of a batch (10s)
	// Logger hears about failed publishes (default: discard).
	Logger *slog.Logger
	// Metrics receives the relay's measurements (default: none).
	Metrics RelayMetrics
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
	c.BatchSize = cmp.Or(c.BatchSize, 500)
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
type Relay struct {
	db      *bun.DB
	js      jetstream.JetStream
	cfg     RelayConfig
	logger  *slog.Logger
	metrics RelayMetrics
	lease   *lease.Lease
	now     func() time.Time
	wake    chan struct{}

	streamReady bool
}

// NewRelay returns a relay that publishes the outbox of db to js.
func NewRelay(db *bun.DB, js jetstream.JetStream, cfg RelayConfig) *Relay {
	cfg = cfg.withDefaults()
	return &Relay{
		db: db, js: js, cfg: cfg, logger: cfg.Logger, metrics: cfg.Metrics,
		lease: lease.New(db, "outbox_leases", "relay", lease.Config{TTL: cfg.LeaseTTL}), now: time.Now,
		wake: make(chan struct{}, 1),
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
	for ctx.Err() == nil {
		n, err := r.Step(ctx)
		wait := r.cfg.PollInterval
		switch {
		case err != nil && ctx.Err() == nil:
			r.logger.WarnContext(ctx, "outbox relay: publish failed; will retry",
				slog.Any("error", err), slog.Duration("retry_in", backoff))
			wait, backoff = backoff, min(backoff*2, maxBackoff)
		case n == r.cfg.BatchSize:
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
		n, err := r.Step(ctx)
		total += n
		switch {
		case err != nil:
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
		case n == 0:
			return total, nil
		}
	}
}

// Step publishes one batch if this relay holds the lease, and returns how many events it
// published.
func (r *Relay) Step(ctx context.Context) (int, error) {
	leader, err := r.lease.Hold(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbox relay: %w", err)
	}
	if !leader {
		return 0, nil
	}
	var rows []eventRow
	err = r.db.NewSelect().Model(&rows).Where("published_at IS NULL").
		OrderExpr("seq ASC").Limit(int64(r.cfg.BatchSize)).Scan(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbox relay: read batch: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	if err := r.ensureStream(ctx); err != nil {
		return 0, err
	}
	acked, lat, pubErr := r.publish(ctx, rows)
	if len(acked) > 0 {
		// Marking may fail after a successful publish; the rows are then published again and
		// JetStream drops the copies (same Nats-Msg-Id within the duplicate window).
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := r.db.NewUpdate().Model((*eventRow)(nil)).Set("published_at = ?", r.now().UTC()).
			Where("seq IN (?)", bun.In(acked)).Exec(mctx); err != nil {
			return 0, fmt.Errorf("outbox relay: mark published: %w", err)
		}
		r.metrics.Published(len(acked), lat)
	}
	if pubErr != nil {
		r.streamReady = false
		return len(acked), pubErr
	}
	return len(acked), nil
}

// publish sends the batch asynchronously in store order and waits for every ack. It returns
// the store sequences JetStream acknowledged (a duplicate ack counts).
func (r *Relay) publish(ctx context.Context, rows []eventRow) ([]int64, []time.Duration, error) {
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
	timeout := time.NewTimer(r.cfg.AckTimeout)
	defer timeout.Stop()
	acked := make([]int64, 0, len(futures))
	lat := make([]time.Duration, 0, len(futures))
	var firstErr error
	for i, f := range futures {
		select {
		case <-f.Ok():
			acked = append(acked, rows[i].Seq)
			lat = append(lat, time.Since(rows[i].OccurredAt))
		case err := <-f.Err():
			if firstErr == nil {
				firstErr = fmt.Errorf("outbox relay: publish %s: %w", rows[i].ID, err)
			}
		case <-timeout.C:
			return acked, lat, errors.New("outbox relay: timed out waiting for JetStream acks")
		case <-ctx.Done():
			return acked, lat, ctx.Err()
		}
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
}

// Envelope builds the CloudEvent of e.
func Envelope(e Event, source string) CloudEvent {
	ce := CloudEvent{
		SpecVersion: "1.0", ID: e.ID.String(), Source: source, Type: e.Type,
		Subject: e.AggregateID.String(), Time: e.OccurredAt.UTC(), DataContentType: "application/json",
		DataSchema: e.DataSchema, Data: e.Payload, AggregateVersion: e.Version, CorrelationID: e.CorrelationID,
	}
	if e.Actor != nil {
		ce.Actor = e.Actor.String()
	}
	return ce
}

// Subject is the NATS subject an event type is published on.
func (r *Relay) Subject(eventType string) string { return r.cfg.SubjectPrefix + "." + eventType }

func (r *Relay) message(row *eventRow) (*nats.Msg, error) {
	body, err := json.Marshal(Envelope(row.event(), r.cfg.Source))
	if err != nil {
		return nil, fmt.Errorf("outbox relay: encode %s: %w", row.ID, err)
	}
	msg := nats.NewMsg(r.Subject(row.Type))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, row.ID.String())
	msg.Header.Set(HeaderEventType, row.Type)
	if row.CorrelationID != "" {
		msg.Header.Set(HeaderCorrelationID, row.CorrelationID)
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
	_, err := r.js.CreateOrUpdateStream(sctx, jetstream.StreamConfig{
		Name: r.cfg.Stream, Subjects: []string{r.cfg.SubjectPrefix + ".>"},
		Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy,
		Duplicates: r.cfg.DuplicateWindow, MaxAge: r.cfg.MaxAge,
	})
	if err != nil {
		return fmt.Errorf("outbox relay: create stream %s: %w", r.cfg.Stream, err)
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
