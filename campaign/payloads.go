package campaign

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Event payloads are a contract with the event consumers, apart from the HTTP API: the types
// below are the JSON of each event's data at one schema version, built from the domain types
// field by field, so that a change to Response, to the domain types or to the stored settings
// never changes what consumers receive. Within a version a payload only gains optional fields;
// any other change is a new version (CreatedV2...), published alongside the old one for a
// deprecation period. testdata/events holds the JSON of every event type, compared byte for
// byte by the tests.

// Payload is the data of a domain event at one schema version: CreatedV1, UpdatedV1,
// TransitionV1 or DeletedV1.
type Payload interface {
	schemaVersion() int
}

// DataSchema is the CloudEvents dataschema of an event type's payload at a version, for
// instance urn:campaigns:events:CampaignCreated:1.
func DataSchema(eventType string, version int) string {
	return "urn:campaigns:events:" + eventType + ":" + strconv.Itoa(version)
}

// CreatedV1 is the data of CampaignCreated, version 1: the campaign as created.
type CreatedV1 struct {
	Campaign CampaignV1 `json:"campaign"`
	// DuplicatedFrom is the id of the campaign this one copies (POST .../duplicate); null for
	// a campaign created from scratch. Added within version 1.
	DuplicatedFrom *uuid.UUID `json:"duplicatedFrom"`
}

// UpdatedV1 is the data of CampaignUpdated, version 1: every field that changed, by JSON path
// in CampaignV1 ("name", "budget", "settings.channels").
type UpdatedV1 struct {
	Changes map[string]ChangeV1 `json:"changes"`
}

// ChangeV1 is one changed field of UpdatedV1: its JSON in CampaignV1 before and after.
type ChangeV1 struct {
	Old json.RawMessage `json:"old"`
	New json.RawMessage `json:"new"`
}

// TransitionV1 is the data of the status events (CampaignActivated, CampaignPaused,
// CampaignResumed, CampaignCompleted, CampaignCancelled), version 1.
type TransitionV1 struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Action    string `json:"action"`
	Reason    string `json:"reason"`
	Automatic bool   `json:"automatic"`
	StopCode  string `json:"stopCode"` // END_DATE, BUDGET_THRESHOLD, BUDGET_EXHAUSTED, BUDGET_LIMIT, CAP_REACHED or ""
}

// BudgetExceededV1 is the data of CampaignBudgetExceeded, version 1: the spend that crossed
// the budget, and the budget, in the budget's currency.
type BudgetExceededV1 struct {
	Spend  MoneyV1 `json:"spend"`
	Budget MoneyV1 `json:"budget"`
}

// DeletedV1 is the data of CampaignDeleted, version 1: the campaign's name and status when it
// was deleted.
type DeletedV1 struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

func (CreatedV1) schemaVersion() int    { return 1 }
func (UpdatedV1) schemaVersion() int    { return 1 }
func (TransitionV1) schemaVersion() int { return 1 }
func (DeletedV1) schemaVersion() int    { return 1 }

func (BudgetExceededV1) schemaVersion() int { return 1 }

func newBudgetExceededV1(c *Campaign, e BudgetExceeded) BudgetExceededV1 {
	cur := c.budget.Currency
	return BudgetExceededV1{Spend: moneyV1(Money{Amount: e.Spend, Currency: cur}), Budget: moneyV1(Money{Amount: e.Budget, Currency: cur})}
}

// CampaignV1 is a campaign in event payloads, version 1. Times are RFC 3339 UTC; lists the
// campaign has none of are [].
type CampaignV1 struct {
	ID                uuid.UUID   `json:"id"`
	Name              string      `json:"name"`
	Description       string      `json:"description"`
	Status            string      `json:"status"`
	ServingStatus     string      `json:"servingStatus"` // when the event occurred
	Type              string      `json:"type"`
	TargetingRules    []uuid.UUID `json:"targetingRules"`
	StartDate         time.Time   `json:"startDate"`
	EndDate           *time.Time  `json:"endDate"`
	Budget            MoneyV1     `json:"budget"`
	CreatedBy         uuid.UUID   `json:"createdBy"`
	CreatedAt         time.Time   `json:"createdAt"`
	UpdatedAt         time.Time   `json:"updatedAt"`
	Settings          SettingsV1  `json:"settings"`
	Version           int64       `json:"version"`
	TargetingVerified bool        `json:"targetingVerified"`
}

// MoneyV1 is an amount in event payloads: the amount is an exact decimal string with the
// currency's minor-unit decimals ("10000.00" EUR, "500" JPY), the currency ISO 4217.
type MoneyV1 struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// SettingsV1 is how a campaign reaches people, in event payloads.
type SettingsV1 struct {
	TargetAudience  []string           `json:"targetAudience"`
	Channels        []string           `json:"channels"`
	Frequency       string             `json:"frequency"`
	MaxImpressions  *int64             `json:"maxImpressions"`
	BudgetLimit     *MoneyV1           `json:"budgetLimit"`
	ABTest          *ABTestV1          `json:"abTestSettings"`
	SchedulingRules []SchedulingRuleV1 `json:"schedulingRules"`
	Personalization PersonalizationV1  `json:"personalization"`
	// Pacing is absent when the campaign has no pacing settings (it spends ASAP over its
	// flight). Added within version 1.
	Pacing *PacingV1 `json:"pacing,omitempty"`
}

// PacingV1 is a campaign's budget pacing in event payloads: mode ASAP, EVEN or FRONT_LOADED;
// period DAILY (dailyBudget set) or FLIGHT (dailyBudget null); the IANA zone days are judged
// in (the pacing's own, else the first scheduling rule's, else UTC).
type PacingV1 struct {
	Mode        string   `json:"mode"`
	Period      string   `json:"period"`
	DailyBudget *MoneyV1 `json:"dailyBudget"`
	Timezone    string   `json:"timezone"`
}

// ABTestV1 is a campaign's A/B test in event payloads.
type ABTestV1 struct {
	Enabled  bool        `json:"enabled"`
	Variants []VariantV1 `json:"variants"`
	// SuccessMetric (ctr, conversionRate or revenuePerExposure) and MinSampleSize are null when
	// the campaign leaves them to the defaults. Added within version 1.
	SuccessMetric *string `json:"successMetric"`
	MinSampleSize *int64  `json:"minSampleSize"`
}

// VariantV1 is one arm of an A/B test in event payloads.
type VariantV1 struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Weight int    `json:"weight"`
	// Description ("" when none) and Control were added within version 1.
	Description string `json:"description"`
	Control     bool   `json:"control"`
}

// SchedulingRuleV1 is a delivery window in event payloads.
type SchedulingRuleV1 struct {
	Days      []string `json:"days"`
	StartTime string   `json:"startTime"`
	EndTime   string   `json:"endTime"`
	Timezone  string   `json:"timezone"`
}

// PersonalizationV1 is a campaign's personalization in event payloads.
type PersonalizationV1 struct {
	Enabled bool        `json:"enabled"`
	Rules   []uuid.UUID `json:"rules"`
}

// newCampaignV1 is c as event payloads show it, with its serving status at now.
func newCampaignV1(c *Campaign, now time.Time) CampaignV1 {
	return CampaignV1{
		ID: uuid.UUID(c.id), Name: c.name, Description: c.description,
		Status: string(c.status), ServingStatus: string(c.ServingWith(nil, lifecycle.Delivered{}, now)), Type: string(c.typ),
		TargetingRules: ruleIDsV1(nonNil(c.targetingRules)),
		StartDate:      c.startDate, EndDate: c.EndDate(), Budget: moneyV1(c.budget),
		CreatedBy: uuid.UUID(c.createdBy), CreatedAt: c.createdAt, UpdatedAt: c.updatedAt,
		Settings: settingsV1(c.settings), Version: c.version, TargetingVerified: c.targetingVerified,
	}
}

func moneyV1(m Money) MoneyV1 {
	return MoneyV1{Amount: m.Amount.StringFixed(m.Scale()), Currency: m.Currency}
}

func settingsV1(s Settings) SettingsV1 {
	out := SettingsV1{
		TargetAudience: s.TargetAudience,
		Channels:       mapSlice(s.Channels, func(c Channel) string { return string(c) }),
		Frequency:      string(s.Frequency), MaxImpressions: s.MaxImpressions,
		SchedulingRules: mapSlice(s.SchedulingRules, func(r SchedulingRule) SchedulingRuleV1 {
			return SchedulingRuleV1{Days: r.Days, StartTime: r.Start, EndTime: r.End, Timezone: r.Timezone}
		}),
		Personalization: PersonalizationV1{Enabled: s.Personalization.Enabled, Rules: ruleIDsV1(s.Personalization.Rules)},
	}
	if s.BudgetLimit != nil {
		m := moneyV1(*s.BudgetLimit)
		out.BudgetLimit = &m
	}
	if p := s.Pacing; p != nil {
		out.Pacing = &PacingV1{Mode: string(p.Mode), Period: string(p.Period), Timezone: s.PacingZone()}
		if p.DailyBudget != nil {
			m := moneyV1(*p.DailyBudget)
			out.Pacing.DailyBudget = &m
		}
	}
	if s.ABTest != nil {
		out.ABTest = &ABTestV1{Enabled: s.ABTest.Enabled, Variants: mapSlice(s.ABTest.Variants, func(v Variant) VariantV1 {
			return VariantV1{Key: v.Key, Name: v.Name, Weight: v.Weight, Description: v.Description, Control: v.Control}
		}), MinSampleSize: s.ABTest.MinSampleSize}
		if s.ABTest.SuccessMetric != "" {
			m := string(s.ABTest.SuccessMetric)
			out.ABTest.SuccessMetric = &m
		}
	}
	return out
}

func ruleIDsV1(ids []RuleID) []uuid.UUID {
	return mapSlice(ids, func(id RuleID) uuid.UUID { return uuid.UUID(id) })
}

// mapSlice applies f to every element of s; a nil s stays nil (JSON null), an empty one [].
func mapSlice[S, T any](s []S, f func(S) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// newTransitionV1 is the payload of the status event that records the transition rec.
func newTransitionV1(rec lifecycle.Record) TransitionV1 {
	return TransitionV1{
		From: string(rec.From), To: string(rec.To), Action: string(rec.Action), Reason: rec.Reason,
		Automatic: rec.Automatic, StopCode: string(rec.StopCode),
	}
}

// newUpdatedV1 lists the fields of the payload campaign that differ between before and after.
// Settings are compared member by member, so that a change of channels reads as such. Status,
// version and timestamps are not edits: they are left out.
func newUpdatedV1(before, after CampaignV1) UpdatedV1 {
	d := UpdatedV1{Changes: map[string]ChangeV1{}}
	d.add("name", before.Name, after.Name)
	d.add("description", before.Description, after.Description)
	d.add("type", before.Type, after.Type)
	d.add("targetingRules", before.TargetingRules, after.TargetingRules)
	d.add("startDate", before.StartDate, after.StartDate)
	d.add("endDate", before.EndDate, after.EndDate)
	d.add("budget", before.Budget, after.Budget)
	bs, as := before.Settings, after.Settings
	d.add("settings.targetAudience", bs.TargetAudience, as.TargetAudience)
	d.add("settings.channels", bs.Channels, as.Channels)
	d.add("settings.frequency", bs.Frequency, as.Frequency)
	d.add("settings.maxImpressions", bs.MaxImpressions, as.MaxImpressions)
	d.add("settings.budgetLimit", bs.BudgetLimit, as.BudgetLimit)
	d.add("settings.abTestSettings", bs.ABTest, as.ABTest)
	d.add("settings.schedulingRules", bs.SchedulingRules, as.SchedulingRules)
	d.add("settings.personalization", bs.Personalization, as.Personalization)
	if bs.Pacing != nil || as.Pacing != nil {
		d.add("settings.pacing", bs.Pacing, as.Pacing)
	}
	return d
}

// add records path as changed when the JSON of old and new differ.
func (d UpdatedV1) add(path string, old, new any) {
	oldJSON, _ := json.Marshal(old) // payload types: cannot fail
	newJSON, _ := json.Marshal(new)
	if string(oldJSON) != string(newJSON) {
		d.Changes[path] = ChangeV1{Old: oldJSON, New: newJSON}
	}
}
