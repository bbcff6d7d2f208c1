// Package campaign is the Campaign aggregate, its value objects and validation, its domain
// events and its service (the use cases). It knows no database and no HTTP: the service
// persists through the Store it declares, which campaign/bunstore implements over Bun, and
// campaign/echoapi serves it over Echo. A host wires all of them, with the other capabilities,
// through platform/campaigns. The aggregate (aggregate.go) keeps its state private: it changes
// only through methods that enforce its rules.
//
// The domain events are a contract with their consumers: subjects, the CloudEvents envelope,
// each payload type (CreatedV1, UpdatedV1, TransitionV1...), delivery, order and the
// compatibility policy of their versions are described in the API reference
// (platform/app/openapi.yaml, served at /docs: the tag "events"), and testdata/events holds
// the golden CloudEvent of each type, which the tests compare byte for byte (testdata/
// events-pacing those whose payload shows a campaign's pacing settings). The alert events
// (alerts.go: CampaignPacingOffPlan, CampaignDailyBudgetNearlySpent, CampaignCTRCollapsed)
// are recorded by the automation's tick through Service.CheckAlerts.
//
// Budget pacing (pacing.go, settings.pacing) is judged by lifecycle.Pacing: a daily or flight
// budget spent ASAP, EVEN or FRONT_LOADED, the serving decision throttling a campaign ahead of
// its plan (the controller and a simulated day are described in the API reference's Pacing
// schema; the simulation is platform/campaigns' TestPacingSimulationEvenTracksThePlan).
package campaign

import (
	"slices"
	"time"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Type is the kind of marketing campaign.
type Type string

// The campaign types.
const (
	TypePromotion    Type = "PROMOTION"
	TypeLoyalty      Type = "LOYALTY"
	TypeCoupon       Type = "COUPON"
	TypeSegmentation Type = "SEGMENTATION"
	TypeRetargeting  Type = "RETARGETING"
)

// Types lists every campaign type.
func Types() []Type {
	return []Type{TypePromotion, TypeLoyalty, TypeCoupon, TypeSegmentation, TypeRetargeting}
}

// Channel is a delivery channel.
type Channel string

// The delivery channels.
const (
	ChannelEmail   Channel = "EMAIL"
	ChannelSMS     Channel = "SMS"
	ChannelPush    Channel = "PUSH"
	ChannelWeb     Channel = "WEB"
	ChannelSocial  Channel = "SOCIAL"
	ChannelDisplay Channel = "DISPLAY"
)

// Channels lists every delivery channel.
func Channels() []Channel {
	return []Channel{ChannelEmail, ChannelSMS, ChannelPush, ChannelWeb, ChannelSocial, ChannelDisplay}
}

// Frequency is how often one customer may be reached.
type Frequency string

// The contact frequencies.
const (
	FrequencyOnce    Frequency = "ONCE"
	FrequencyDaily   Frequency = "DAILY"
	FrequencyWeekly  Frequency = "WEEKLY"
	FrequencyMonthly Frequency = "MONTHLY"
)

// Frequencies lists every contact frequency.
func Frequencies() []Frequency {
	return []Frequency{FrequencyOnce, FrequencyDaily, FrequencyWeekly, FrequencyMonthly}
}

// DeliveryWith is what, beyond its status and dates, decides whether the campaign is served:
// its schedule (time zones loaded through zones), its impression cap, its budget and budget
// limit, and what it delivered, d.
func (c *Campaign) DeliveryWith(zones *lifecycle.Zones, d lifecycle.Delivered) lifecycle.Delivery {
	out := lifecycle.Delivery{
		Schedule: c.settings.Schedule(zones), MaxImpressions: c.settings.MaxImpressions,
		Budget: c.budget.Amount, Pacing: c.PacingWith(zones), Delivered: d,
	}
	if c.settings.BudgetLimit != nil {
		limit := c.settings.BudgetLimit.Amount
		out.BudgetLimit = &limit
	}
	return out
}

// Schedule is the settings' scheduling rules as delivery windows. A rule that cannot be read
// (its time zone is unknown to this machine, say) gives a window that is never open: delivery
// fails closed rather than ignore a restriction.
func (s Settings) Schedule(zones *lifecycle.Zones) lifecycle.Schedule {
	if len(s.SchedulingRules) == 0 {
		return nil
	}
	out := make(lifecycle.Schedule, len(s.SchedulingRules))
	for i, r := range s.SchedulingRules {
		w, err := r.window(zones)
		if err == nil {
			out[i] = w
		}
	}
	return out
}

func (r SchedulingRule) window(zones *lifecycle.Zones) (lifecycle.Window, error) {
	loc, err := zones.Load(r.Timezone)
	if err != nil {
		return lifecycle.Window{}, err
	}
	w := lifecycle.Window{Location: loc, Days: make([]time.Weekday, 0, len(r.Days))}
	if w.Start, err = lifecycle.ParseClock(r.Start); err != nil {
		return lifecycle.Window{}, err
	}
	if w.End, err = lifecycle.ParseClock(r.End); err != nil {
		return lifecycle.Window{}, err
	}
	for _, d := range r.Days {
		wd, err := lifecycle.ParseWeekday(d)
		if err != nil {
			return lifecycle.Window{}, err
		}
		w.Days = append(w.Days, wd)
	}
	return w, nil
}

// Settings is how a campaign reaches people. Its JSON form (camelCase) is both the API shape
// and the stored shape; events have their own (SettingsV1).
type Settings struct {
	TargetAudience  []string         `json:"targetAudience"`
	Channels        []Channel        `json:"channels"`
	Frequency       Frequency        `json:"frequency"`
	MaxImpressions  *int64           `json:"maxImpressions"`
	BudgetLimit     *Money           `json:"budgetLimit"`
	ABTest          *ABTestSettings  `json:"abTestSettings"`
	SchedulingRules []SchedulingRule `json:"schedulingRules"`
	Personalization Personalization  `json:"personalization"`
	// Pacing is the campaign's budget pacing (nil: ASAP over the flight, no daily budget).
	Pacing *Pacing `json:"pacing,omitempty"`
}

// HasChannel reports whether the campaign runs on ch.
func (s Settings) HasChannel(ch Channel) bool { return slices.Contains(s.Channels, ch) }

// ABTestSettings splits a campaign's audience between weighted variants. SuccessMetric and
// MinSampleSize tune the experiment's verdict (GET /campaigns/{id}/experiment); campaigns
// stored before they existed read them as absent and get the defaults.
type ABTestSettings struct {
	Enabled  bool      `json:"enabled"`
	Variants []Variant `json:"variants"`
	// SuccessMetric is the metric the verdict is judged on by default ("" means ctr).
	SuccessMetric SuccessMetric `json:"successMetric,omitempty"`
	// MinSampleSize is the exposures each variant needs before a verdict (nil: the default).
	MinSampleSize *int64 `json:"minSampleSize,omitempty"`
}

// SuccessMetric is what an A/B test is judged on.
type SuccessMetric string

// The success metrics.
const (
	SuccessCTR                SuccessMetric = "ctr"
	SuccessConversionRate     SuccessMetric = "conversionRate"
	SuccessRevenuePerExposure SuccessMetric = "revenuePerExposure"
)

// SuccessMetrics lists every success metric.
func SuccessMetrics() []SuccessMetric {
	return []SuccessMetric{SuccessCTR, SuccessConversionRate, SuccessRevenuePerExposure}
}

// Variant is one arm of an A/B test. Weights of all variants sum to 100; a weight of 0 takes
// no audience (a concluded test gives the winner 100). At most one variant is the control;
// without one, the first is.
type Variant struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Weight      int    `json:"weight"`
	Control     bool   `json:"control,omitempty"`
}

// SchedulingRule restricts delivery to time windows: on the listed days, between Start and
// End (HH:MM, End exclusive), in the given IANA time zone. An End before Start crosses
// midnight: the window opens on a listed day and closes the next day.
type SchedulingRule struct {
	Days     []string `json:"days"`
	Start    string   `json:"startTime"`
	End      string   `json:"endTime"`
	Timezone string   `json:"timezone"`
}

// Personalization links a campaign to the Rules Engine rules that tailor its content.
type Personalization struct {
	Enabled bool     `json:"enabled"`
	Rules   []RuleID `json:"rules"`
}

// Input is everything a caller may set when creating or replacing a campaign. Status, version,
// author and timestamps are never taken from a caller.
type Input struct {
	Name           string
	Description    string
	Type           Type
	TargetingRules []RuleID
	StartDate      time.Time
	EndDate        *time.Time
	Budget         Money
	Settings       Settings
}

// clone returns a copy of s that shares no slice or pointer with it, so that a caller holding
// one cannot change the other.
func (s Settings) clone() Settings {
	out := s
	out.TargetAudience = slices.Clone(s.TargetAudience)
	out.Channels = slices.Clone(s.Channels)
	if s.MaxImpressions != nil {
		n := *s.MaxImpressions
		out.MaxImpressions = &n
	}
	if s.BudgetLimit != nil {
		m := *s.BudgetLimit
		out.BudgetLimit = &m
	}
	if s.ABTest != nil {
		ab := *s.ABTest
		ab.Variants = slices.Clone(s.ABTest.Variants)
		if ab.MinSampleSize != nil {
			n := *ab.MinSampleSize
			ab.MinSampleSize = &n
		}
		out.ABTest = &ab
	}
	if s.SchedulingRules != nil {
		out.SchedulingRules = make([]SchedulingRule, len(s.SchedulingRules))
		for i, r := range s.SchedulingRules {
			r.Days = slices.Clone(r.Days)
			out.SchedulingRules[i] = r
		}
	}
	out.Personalization.Rules = slices.Clone(s.Personalization.Rules)
	out.Pacing = s.Pacing.clone()
	return out
}
