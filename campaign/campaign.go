// Package campaign is the Campaign aggregate: its value objects and validation, its Bun
// repository, its service and its Echo handlers. Mount it in a host with NewRepository,
// NewService and NewHandler; see the package example. The aggregate itself (aggregate.go)
// keeps its state private: it changes only through methods that enforce its rules.
package campaign

import (
	"slices"
	"time"
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
}

// HasChannel reports whether the campaign runs on ch.
func (s Settings) HasChannel(ch Channel) bool { return slices.Contains(s.Channels, ch) }

// ABTestSettings splits a campaign's audience between weighted variants.
type ABTestSettings struct {
	Enabled  bool      `json:"enabled"`
	Variants []Variant `json:"variants"`
}

// Variant is one arm of an A/B test. Weights of all variants sum to 100.
type Variant struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Weight int    `json:"weight"`
}

// SchedulingRule restricts delivery to time windows: on the listed days, between Start and
// End (HH:MM, End exclusive), in the given IANA time zone.
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
	return out
}
