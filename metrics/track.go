package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/strictjson"
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
}

// Tracker takes tracking events in (POST /campaigns/{id}/track): it checks each one against
// its campaign's tracking rules, which it keeps for a while (see Forget), and stores the valid
// ones on the tracking stream, where the Aggregator counts them.
type Tracker struct {
	js      jetstream.JetStream
	cfg     TrackerConfig
	targets *targetCache
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
	return &Tracker{js: js, cfg: cfg, targets: newTargetCache(targetReader(campaigns), cfg.TargetTTL, time.Now)}
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

// Publish stores the events on the tracking stream and waits for every ack. Nats-Msg-Id =
// eventId, so a client that retries after a timeout does not count an event twice.
func (t *Tracker) Publish(ctx context.Context, events []Event) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(events))
	for _, e := range events {
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		msg := nats.NewMsg(PartitionSubject(e.CampaignID, t.cfg.Partitions))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, e.EventID.String())
		if rid := audit.CorrelationID(ctx); rid != "" {
			msg.Header.Set("X-Correlation-ID", rid)
		}
		f, err := t.js.PublishMsgAsync(msg)
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func decodeEvent(raw json.RawMessage, cid uuid.UUID, now time.Time, lim Limits) (Event, []FieldError) {
	var w wireEvent
	if err := strictjson.Decode(raw, &w); err != nil {
		var p *strictjson.Error
		if errors.As(err, &p) && len(p.Fields) > 0 {
			return Event{}, fieldErrors(p.Fields)
		}
		return Event{}, []FieldError{{Field: "", Message: "must be a JSON object"}}
	}
	return w.parse(&cid, now, lim)
}
