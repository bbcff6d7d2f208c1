package targeting

import (
	"context"
	"fmt"
	"time"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Exposure is a customer's exposure to a campaign as the aggregation pipeline has counted it:
// impressions tracked with the customer's id.
type Exposure struct {
	Impressions int64
	Last        time.Time // the latest occurredAt of those impressions
}

// ExposureSource reads a customer's exposures to many campaigns in one call (campaigns that
// never reached the customer are absent); the metrics store implements it through the wiring.
type ExposureSource interface {
	Exposures(ctx context.Context, customerID string, campaignIDs []campaign.ID) (map[campaign.ID]Exposure, error)
}

// exposuresOf reads the customer's exposures to the campaigns, in one call.
func (e *Evaluator) exposuresOf(ctx context.Context, customerID string, cs []*campaign.View) (map[campaign.ID]Exposure, error) {
	if e.exposures == nil || customerID == "" || len(cs) == 0 {
		return nil, nil
	}
	ids := make([]campaign.ID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID()
	}
	x, err := e.exposures.Exposures(ctx, customerID, ids)
	if err != nil {
		return nil, fmt.Errorf("targeting: read exposures: %w", err)
	}
	return x, nil
}

// frequencyReason says why the customer may not see c again now ("" when they may): ONCE
// allows one impression for the campaign's life; DAILY, WEEKLY and MONTHLY one per calendar
// day, ISO week (Monday to Sunday) or month in the campaign's time zone (its first scheduling
// rule's, else UTC).
func frequencyReason(z *lifecycle.Zones, c *campaign.View, x Exposure, now time.Time) string {
	if x.Impressions == 0 {
		return ""
	}
	settings := c.Settings()
	f := settings.Frequency
	if f == campaign.FrequencyOnce {
		return "frequency cap (ONCE): the customer has had an impression of this campaign"
	}
	loc := frequencyZone(z, settings.SchedulingRules)
	last, cur := periodStart(f, x.Last.In(loc)), periodStart(f, now.In(loc))
	if last.IsZero() || last.Before(cur) {
		return ""
	}
	return fmt.Sprintf("frequency cap (%s): the customer has had an impression in this period (the one starting %s, %s)",
		f, cur.Format(time.DateOnly), loc)
}

// periodStart is the start of t's calendar day, ISO week or month, in t's location; zero for
// a frequency without periods.
func periodStart(f campaign.Frequency, t time.Time) time.Time {
	y, m, d := t.Date()
	switch f {
	case campaign.FrequencyDaily:
		return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	case campaign.FrequencyWeekly:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, t.Location())
	case campaign.FrequencyMonthly:
		return time.Date(y, m, 1, 0, 0, 0, 0, t.Location())
	default:
		return time.Time{}
	}
}

// frequencyZone is a campaign's frequency time zone: its first scheduling rule's, else UTC.
func frequencyZone(z *lifecycle.Zones, rules []campaign.SchedulingRule) *time.Location {
	if len(rules) == 0 || rules[0].Timezone == "" {
		return time.UTC
	}
	loc, err := z.Load(rules[0].Timezone)
	if err != nil {
		return time.UTC // validated when the campaign was saved; a zone the host lacks falls back to UTC
	}
	return loc
}
