// Package campaigntest builds campaigns for the tests of the campaign packages and of those
// that use them: stored-shape fixtures, the change a fixture is stored with, and the input
// that replaces a campaign with itself.
package campaigntest

import (
	"time"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Users the fixtures are written by.
var (
	Alice = campaign.UserID(uuid.MustParse("11111111-1111-4111-8111-111111111111"))
	Bob   = campaign.UserID(uuid.MustParse("22222222-2222-4222-8222-222222222222"))
)

// Fixture builds a stored campaign; tests vary what they need through mut.
func Fixture(name string, at time.Time, mut ...func(*campaign.RehydrateParams)) *campaign.Campaign {
	p := FixtureParams(name, at)
	for _, m := range mut {
		m(&p)
	}
	c, err := campaign.Rehydrate(p)
	if err != nil {
		panic(err)
	}
	return c
}

// FixtureParams is a stored-shape DRAFT campaign by Alice, starting at at, with every setting.
func FixtureParams(name string, at time.Time) campaign.RehydrateParams {
	end := at.Add(30 * 24 * time.Hour)
	maxImp := int64(5000)
	limit := campaign.MustMoney("900.00", "EUR")
	return campaign.RehydrateParams{
		ID: campaign.NewID(), Name: name, Description: "desc of " + name,
		Status: lifecycle.StatusDraft, Type: campaign.TypePromotion,
		TargetingRules: []campaign.RuleID{campaign.RuleID(uuid.New())},
		StartDate:      at, EndDate: &end,
		Budget:    campaign.MustMoney("1000.50", "EUR"),
		CreatedBy: Alice, CreatedAt: at, UpdatedAt: at, Version: 1,
		Settings: campaign.Settings{
			TargetAudience: []string{"vip"}, Channels: []campaign.Channel{campaign.ChannelEmail},
			Frequency: campaign.FrequencyDaily, MaxImpressions: &maxImp, BudgetLimit: &limit,
			ABTest: &campaign.ABTestSettings{Enabled: true, Variants: []campaign.Variant{
				{Key: "A", Name: "Control", Weight: 50}, {Key: "B", Name: "New", Weight: 50}}},
			SchedulingRules: []campaign.SchedulingRule{{Days: []string{"MON"}, Start: "09:00", End: "17:00", Timezone: "Europe/Paris"}},
			Personalization: campaign.Personalization{Enabled: true, Rules: []campaign.RuleID{campaign.RuleID(uuid.New())}},
		},
	}
}

// Created is the change a fixture is stored with.
func Created(c *campaign.Campaign) campaign.Change {
	return campaign.Change{Event: campaign.EventCreated, Data: campaign.CreatedV1{}, At: c.CreatedAt()}
}

// InputOf is what a caller would send to replace c with itself.
func InputOf(c *campaign.Campaign) campaign.Input {
	return campaign.Input{
		Name: c.Name(), Description: c.Description(), Type: c.Type(), TargetingRules: c.TargetingRules(),
		StartDate: c.StartDate(), EndDate: c.EndDate(), Budget: c.Budget(), Settings: c.Settings(),
	}
}

// GoldenInput sets every field of a campaign, so that the golden files show each one.
func GoldenInput() campaign.Input {
	end := time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)
	maxImp := int64(50000)
	limit := campaign.MustMoney("9000.00", "EUR")
	return campaign.Input{
		Name: "Spring sale", Description: "Ten percent off the spring collection", Type: campaign.TypePromotion,
		TargetingRules: []campaign.RuleID{campaign.RuleID(uuid.MustParse("0194ffff-0000-7000-8000-000000000001"))},
		StartDate:      time.Date(2027, 3, 2, 8, 0, 0, 0, time.UTC), EndDate: &end,
		Budget: campaign.MustMoney("10000", "EUR"),
		Settings: campaign.Settings{
			TargetAudience: []string{"vip", "newsletter"}, Channels: []campaign.Channel{campaign.ChannelEmail},
			Frequency: campaign.FrequencyDaily, MaxImpressions: &maxImp, BudgetLimit: &limit,
			ABTest: &campaign.ABTestSettings{Enabled: true, Variants: []campaign.Variant{
				{Key: "A", Name: "Control", Weight: 50}, {Key: "B", Name: "Bold banner", Weight: 50}}},
			SchedulingRules: []campaign.SchedulingRule{
				{Days: []string{"MON", "FRI"}, Start: "09:00", End: "17:30", Timezone: "Europe/Paris"}},
			Personalization: campaign.Personalization{Enabled: true,
				Rules: []campaign.RuleID{campaign.RuleID(uuid.MustParse("0194ffff-0000-7000-8000-000000000002"))}},
		},
	}
}
