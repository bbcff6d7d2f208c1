package metrics

import (
	"context"
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
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
	"github.com/engine-rules-sp/campaigns/platform/strictjson"
)

// Campaigns looks campaigns up; the campaign service implements it.
type Campaigns interface {
	GetMany(ctx context.Context, ids []campaign.ID) (map[campaign.ID]*campaign.View, error)
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

// customerKey names a customer of a campaign.
type customerKey struct {
	CampaignID uuid.UUID
	CustomerID string
}

// parsed is one message of a batch, decoded.
type parsed struct {
	msg   jetstream.Msg
	seq   uint64
	event Event
	err   string // non-empty: dead-letter it with this reason
}

// commit counts run (a partition's messages after pos, in stream order) and moves the
// partition's position (consumer) to its end, in one transaction, fenced by fence (nil:
// unfenced); invalid events go to the dead-letter subject first.
//
// One bad event never stops the others: an event whose totals the database refuses (a total
// beyond the 64-bit range) is found by Store.Refused, dead-lettered with the reason, and the
// rest of the batch is committed without it.
func (a *Aggregator) commit(ctx context.Context, consumer string, pos uint64, run []parsed, fence *Fence) error {
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
		exposures := exposuresOf(counted)
		if err := a.deadLetter(ctx, dead[sent:]); err != nil {
			return err
		}
		sent = len(dead)
		err := a.store.Commit(ctx, Batch{Consumer: consumer, From: pos, To: run[len(run)-1].seq, Rollups: rollups,
			Exposures: exposures, Processed: int64(len(counted)), DeadLettered: int64(len(dead)), Fence: fence}, now)
		if !sqlerr.IsDataRefused(err) || attempt > 0 {
			if err != nil {
				return err
			}
			a.metrics.Aggregated(len(counted))
			a.metrics.DeadLettered(len(dead))
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
		if run[i].err == "" {
			ids = append(ids, run[i].event.CampaignID)
		}
	}
	tg, err := a.targets.get(ctx, ids, now)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics: look campaigns up: %w", err)
	}
	counted = make([]parsed, 0, len(run))
	for _, p := range run {
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

// exposuresOf folds the impressions that carry a customerId into one exposure per campaign
// and customer, keyed by the rollup of the customer's earliest impression.
func exposuresOf(events []parsed) []Exposure {
	at := map[customerKey]int{}
	var out []Exposure
	for _, p := range events {
		e := p.event
		if e.Type != Impression || e.CustomerID == "" {
			continue
		}
		ck := customerKey{CampaignID: e.CampaignID, CustomerID: e.CustomerID}
		i, seen := at[ck]
		if !seen {
			at[ck] = len(out)
			out = append(out, Exposure{Key: e.key(), CustomerID: e.CustomerID, Impressions: 1, First: e.OccurredAt, Last: e.OccurredAt})
			continue
		}
		x := &out[i]
		x.Impressions++
		if e.OccurredAt.Before(x.First) {
			x.First, x.Key = e.OccurredAt, e.key()
		}
		if e.OccurredAt.After(x.Last) {
			x.Last = e.OccurredAt
		}
	}
	return out
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

// decodeMessage parses a message from campaigns.tracking.<partition>.<campaignId>. It
// returns a reason when the message cannot be counted.
func decodeMessage(m jetstream.Msg, now time.Time, lim Limits) (Event, string) {
	token := m.Subject()[strings.LastIndexByte(m.Subject(), '.')+1:]
	cid, err := uuid.Parse(token)
	if err != nil || len(token) != 36 {
		return Event{}, "the subject does not name a campaign id"
	}
	// The same strict decoding as /track: exact field names, valid UTF-8, one object.
	var w wireEvent
	if err := decodeWire(m.Data(), &w); err != nil {
		return Event{}, "malformed JSON: " + problemText(err)
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

// problemText is what a decoding problem says: its field errors, else its detail.
func problemText(err error) string {
	var p *strictjson.Error
	if !errors.As(err, &p) {
		return err.Error()
	}
	if len(p.Fields) == 0 {
		return p.Detail
	}
	return joinErrors(fieldErrors(p.Fields))
}

// fieldErrors are a decoding error's fields as an event's field errors.
func fieldErrors(errs []strictjson.FieldError) []FieldError {
	out := make([]FieldError, len(errs))
	for i, e := range errs {
		out[i] = FieldError(e)
	}
	return out
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
	return Key{CampaignID: e.CampaignID, Hour: HourOf(e.OccurredAt), Variant: e.Variant, Channel: string(e.Channel),
		Personalization: e.PersonalizationRuleID}
}

// totals is the event's contribution to its rollup.
func (e Event) totals() Totals {
	t := Totals{RevenueE4: e4(e.Revenue), CostE4: e4(e.Cost)}
	if e.Revenue != nil {
		t.RevenueSquares = SquareE4(t.RevenueE4)
	}
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
