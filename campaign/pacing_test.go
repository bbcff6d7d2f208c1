package campaign

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

func TestValidatePacing(t *testing.T) {
	t.Parallel()
	set := func(p Pacing) func(in *Input) { return func(in *Input) { in.Settings.Pacing = &p } }
	daily := func(amount, currency string) *Money { m := MustMoney(amount, currency); return &m }
	runValidationCases(t, []validationCase{
		{name: "unset: ASAP over the flight", mutate: func(in *Input) { in.Settings.Pacing = nil }},
		{name: "EVEN daily", mutate: set(Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodDaily, DailyBudget: daily("300.00", "EUR")})},
		{name: "FRONT_LOADED over the flight", mutate: set(Pacing{Mode: lifecycle.PacingFrontLoaded, Period: lifecycle.PeriodFlight})},
		{name: "mode and period default (a daily budget: DAILY)", mutate: set(Pacing{DailyBudget: daily("10", "EUR"), Timezone: "America/New_York"})},
		{name: "unknown mode", mutate: set(Pacing{Mode: "SLOW", Period: lifecycle.PeriodFlight}), want: []string{"settings.pacing.mode"}},
		{name: "unknown period", mutate: set(Pacing{Mode: lifecycle.PacingEven, Period: "WEEKLY"}), want: []string{"settings.pacing.period"}},
		{name: "DAILY without a daily budget", mutate: set(Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodDaily}),
			want: []string{"settings.pacing.dailyBudget"}},
		{name: "daily budget in another currency", mutate: set(Pacing{Period: lifecycle.PeriodDaily, DailyBudget: daily("10", "USD")}),
			want: []string{"settings.pacing.dailyBudget.currency"}},
		{name: "daily budget above the budget", mutate: set(Pacing{Period: lifecycle.PeriodDaily, DailyBudget: daily("10000.01", "EUR")}),
			want: []string{"settings.pacing.dailyBudget.amount"}},
		{name: "daily budget zero", mutate: set(Pacing{Period: lifecycle.PeriodDaily, DailyBudget: daily("0", "EUR")}),
			want: []string{"settings.pacing.dailyBudget.amount"}},
		{name: "FLIGHT with a daily budget", mutate: set(Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodFlight, DailyBudget: daily("10", "EUR")}),
			want: []string{"settings.pacing.dailyBudget"}},
		{name: "EVEN over an open-ended flight", mutate: func(in *Input) {
			in.EndDate = nil
			in.Settings.Pacing = &Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodFlight}
		}, want: []string{"settings.pacing.mode"}},
		{name: "ASAP over an open-ended flight", mutate: func(in *Input) {
			in.EndDate = nil
			in.Settings.Pacing = &Pacing{Mode: lifecycle.PacingASAP, Period: lifecycle.PeriodFlight}
		}},
		{name: "unknown zone", mutate: set(Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodFlight, Timezone: "Mars/Olympus"}),
			want: []string{"settings.pacing.timezone"}},
		{name: "Local is not a zone", mutate: set(Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodFlight, Timezone: "Local"}),
			want: []string{"settings.pacing.timezone"}},
	})
}

func TestPacingZoneAndPlan(t *testing.T) {
	t.Parallel()
	in := validInput()
	assert.Equal(t, "Europe/Paris", in.Settings.PacingZone(), "the first scheduling rule's zone")
	in.Settings.Pacing = &Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodFlight, Timezone: "Asia/Tokyo"}
	assert.Equal(t, "Asia/Tokyo", in.Settings.PacingZone(), "the pacing's own zone first")
	in.Settings.SchedulingRules = nil
	in.Settings.Pacing.Timezone = ""
	assert.Equal(t, "UTC", in.Settings.PacingZone(), "else UTC")

	c, err := New(NewID(), UserID(ruleID(9)), in, now)
	assert.NoError(t, err)
	p := c.PacingWith(nil)
	if assert.NotNil(t, p) {
		assert.Equal(t, "5000", p.Budget.String(), "the flight paces the smaller of the budget and the budget limit")
		assert.Equal(t, time.UTC, p.Location)
	}
	in.Settings.Pacing = nil
	c, err = New(NewID(), UserID(ruleID(9)), in, now)
	assert.NoError(t, err)
	assert.Nil(t, c.PacingWith(nil), "without pacing settings nothing is paced")
	assert.Equal(t, lifecycle.PacingASAP, c.PacingPlan(nil).Mode)
}
