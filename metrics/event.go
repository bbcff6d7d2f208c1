// Package metrics tracks campaign performance: tracking events and their checks against
// their campaign (Event, Target), their intake onto JetStream (Tracker), their exactly-once
// aggregation into hourly, daily and all-time rollups (Aggregator, over a Store), KPIs and the
// reports' computations. It imports neither Bun nor Echo: metrics/bunstore is the Store over
// Bun (and tells the lifecycle automation how much of each budget is spent), metrics/echoapi
// serves the tracking and reporting endpoints.
package metrics

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/campaign"
)

// EventType is what happened.
type EventType string

// The tracking event types.
const (
	Impression  EventType = "IMPRESSION"
	Click       EventType = "CLICK"
	Conversion  EventType = "CONVERSION"
	Cost        EventType = "COST"
	Bounce      EventType = "BOUNCE"
	Unsubscribe EventType = "UNSUBSCRIBE"
)

// EventTypes lists every tracking event type.
func EventTypes() []EventType {
	return []EventType{Impression, Click, Conversion, Cost, Bounce, Unsubscribe}
}

// Limits of a tracking event.
const (
	MaxCustomerIDLen = 128
	// MaxFutureSkew is how far ahead of the receiver's clock occurredAt may be.
	MaxFutureSkew = 5 * time.Minute
	// MaxBatch is the most events one /track request may carry.
	MaxBatch = 1000
)

// Limits bound what one tracking event may carry. The same limits apply at /track and in the
// worker (to events published straight to JetStream), so both refuse the same events.
type Limits struct {
	// MaxAmount is the largest cost or revenue of one event, in the campaign's currency
	// (1,000,000,000; zero or negative take it). It keeps one event far below what the 64-bit
	// totals hold (MaxTotalE4).
	MaxAmount decimal.Decimal
}

// withDefaults fills the zero fields of l.
func (l Limits) withDefaults() Limits {
	if !l.MaxAmount.IsPositive() {
		l.MaxAmount = decimal.New(1, 9)
	}
	return l
}

// Event is one tracking event. Its JSON form is the wire format on HTTP and on the
// campaigns.tracking.<campaignId> subject.
type Event struct {
	EventID    uuid.UUID        `json:"eventId"`
	CampaignID uuid.UUID        `json:"campaignId"`
	Type       EventType        `json:"type"`
	OccurredAt time.Time        `json:"occurredAt"`
	Variant    string           `json:"variant,omitempty"`
	Channel    campaign.Channel `json:"channel,omitempty"`
	CustomerID string           `json:"customerId,omitempty"`
	Revenue    *campaign.Money  `json:"revenue,omitempty"`
	Cost       *campaign.Money  `json:"cost,omitempty"`
	// PersonalizationRuleID names the personalization rule applied (one of the campaign's).
	PersonalizationRuleID string `json:"personalizationRuleId,omitempty"`
}

// wireEvent is the lenient decoding form: ids and times as text so that every problem can be
// reported by field.
type wireEvent struct {
	EventID    string           `json:"eventId"`
	CampaignID string           `json:"campaignId"`
	Type       EventType        `json:"type"`
	OccurredAt string           `json:"occurredAt"`
	Variant    string           `json:"variant"`
	Channel    campaign.Channel `json:"channel"`
	CustomerID string           `json:"customerId"`
	Revenue    *wireMoney       `json:"revenue"`
	Cost       *wireMoney       `json:"cost"`
	// PersonalizationRuleID is a rule id of the campaign's personalization rules.
	PersonalizationRuleID string `json:"personalizationRuleId"`
}

type wireMoney struct {
	Amount   json.RawMessage `json:"amount"`
	Currency string          `json:"currency"`
}

// FieldError is one invalid field of an event: Field is its JSON path ("cost.amount"),
// Message what is wrong with it. The HTTP API lists them in its problems.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// parse checks what can be checked without the campaign and fills defaults: a missing eventId
// is generated, a missing occurredAt is now. campaignID, when not nil, is the campaign the
// event must belong to (the HTTP path, the NATS subject).
func (w *wireEvent) parse(campaignID *uuid.UUID, now time.Time, lim Limits) (Event, []FieldError) {
	var errs []FieldError
	bad := func(f, msg string) { errs = append(errs, FieldError{Field: f, Message: msg}) }
	var e Event
	switch {
	case w.EventID == "":
		e.EventID = uuid.Must(uuid.NewV7())
	default:
		id, err := campaign.ParseID(w.EventID) // same canonical 36-character rule
		if err != nil {
			bad("eventId", "must be a UUID")
		}
		e.EventID = uuid.UUID(id)
	}
	switch {
	case campaignID != nil && (w.CampaignID == "" || w.CampaignID == campaignID.String()):
		e.CampaignID = *campaignID
	case campaignID != nil:
		bad("campaignId", "must be the campaign of the URL or subject")
	default:
		id, err := campaign.ParseID(w.CampaignID)
		if err != nil {
			bad("campaignId", "must be a UUID")
		}
		e.CampaignID = uuid.UUID(id)
	}
	e.Type = w.Type
	if !slices.Contains(EventTypes(), w.Type) {
		bad("type", "must be one of IMPRESSION, CLICK, CONVERSION, COST, BOUNCE, UNSUBSCRIBE")
	}
	e.OccurredAt = now
	if w.OccurredAt != "" {
		t, err := time.Parse(time.RFC3339Nano, w.OccurredAt)
		switch {
		case err != nil:
			bad("occurredAt", "must be an RFC 3339 date-time")
		case t.After(now.Add(MaxFutureSkew)):
			bad("occurredAt", "must not be in the future")
		case t.Year() < 2000:
			bad("occurredAt", "must be after the year 2000")
		default:
			e.OccurredAt = t.UTC()
		}
	}
	e.Variant, e.Channel = w.Variant, w.Channel
	if n := utf8.RuneCountInString(w.CustomerID); n > MaxCustomerIDLen || strings.IndexByte(w.CustomerID, 0) >= 0 {
		bad("customerId", fmt.Sprintf("must be at most %d characters", MaxCustomerIDLen))
	}
	e.CustomerID = w.CustomerID
	if w.PersonalizationRuleID != "" {
		id, err := campaign.ParseRuleID(w.PersonalizationRuleID)
		if err != nil {
			bad("personalizationRuleId", "must be the id (a UUID) of one of the campaign's personalization rules")
		}
		e.PersonalizationRuleID = id.String()
	}
	e.Revenue = parseMoney("revenue", w.Revenue, lim, bad)
	e.Cost = parseMoney("cost", w.Cost, lim, bad)
	if e.Revenue != nil && e.Type != Conversion {
		bad("revenue", "is only for CONVERSION events")
	}
	if e.Type == Cost && e.Cost == nil {
		bad("cost", "is required for COST events")
	}
	return e, errs
}

func parseMoney(field string, m *wireMoney, lim Limits, bad func(string, string)) *campaign.Money {
	if m == nil {
		return nil
	}
	amount := strings.Trim(strings.TrimSpace(string(m.Amount)), `"`)
	money, err := campaign.NewMoney(amount, m.Currency)
	if err != nil {
		bad(field, err.Error())
		return nil
	}
	if money.Amount.IsNegative() {
		bad(field+".amount", "must not be negative")
		return nil
	}
	if money.Amount.GreaterThan(lim.MaxAmount) {
		bad(field+".amount", "must be at most "+lim.MaxAmount.String()+" (metrics.max_event_amount)")
		return nil
	}
	return &money
}

// Target is what an event is checked against: the campaign's currency, channels, variants and
// personalization rules.
type Target struct {
	Currency        string
	Channels        []campaign.Channel
	Variants        []string
	Personalization []string // rule ids
}

// TargetOf extracts the tracking rules of a campaign.
func TargetOf(c *campaign.View) Target {
	s := c.Settings()
	t := Target{Currency: c.Budget().Currency, Channels: s.Channels}
	if ab := s.ABTest; ab != nil {
		for _, v := range ab.Variants {
			t.Variants = append(t.Variants, v.Key)
		}
	}
	for _, id := range c.Settings().Personalization.Rules {
		t.Personalization = append(t.Personalization, id.String())
	}
	return t
}

// check validates e against its campaign.
func (t Target) check(e Event) []FieldError {
	var errs []FieldError
	if e.Variant != "" && !slices.Contains(t.Variants, e.Variant) {
		errs = append(errs, FieldError{Field: "variant", Message: "is not one of the campaign's A/B variants"})
	}
	if e.PersonalizationRuleID != "" && !slices.Contains(t.Personalization, e.PersonalizationRuleID) {
		errs = append(errs, FieldError{Field: "personalizationRuleId", Message: "is not one of the campaign's personalization rules"})
	}
	if e.Channel != "" && !slices.Contains(t.Channels, e.Channel) {
		errs = append(errs, FieldError{Field: "channel", Message: "is not one of the campaign's channels"})
	}
	for _, m := range []struct {
		field string
		v     *campaign.Money
	}{{"revenue", e.Revenue}, {"cost", e.Cost}} {
		if m.v != nil && m.v.Currency != t.Currency {
			errs = append(errs, FieldError{Field: m.field + ".currency", Message: "must be the campaign's budget currency (" + t.Currency + ")"})
		}
	}
	return errs
}

// e4 converts an amount to ten-thousandths, the unit of the rollups. Limits keep it far
// inside int64.
func e4(m *campaign.Money) int64 {
	if m == nil {
		return 0
	}
	return m.Amount.Shift(4).IntPart()
}

// FromE4 converts ten-thousandths, the unit of the rollups (Totals.RevenueE4, CostE4), back to
// a decimal amount.
func FromE4(v int64) decimal.Decimal { return decimal.New(v, -4) }
