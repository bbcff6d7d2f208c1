package campaign

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// now is the fixed clock of every validation test.
var now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

func ruleID(n int) RuleID {
	return RuleID(uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "rule-%d", n)))
}

func ruleIDs(n int) []RuleID {
	out := make([]RuleID, n)
	for i := range out {
		out[i] = ruleID(i)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// validInput returns an input that breaks no rule and sets every optional part, so that each
// case below changes exactly one thing.
func validInput() Input {
	start := now.Add(24 * time.Hour)
	end := start.Add(30 * 24 * time.Hour)
	limit := MustMoney("5000.00", "EUR")
	return Input{
		Name:           "Summer Sale 2026",
		Description:    "Twenty percent off all summer items.",
		Type:           TypePromotion,
		TargetingRules: []RuleID{ruleID(1), ruleID(2)},
		StartDate:      start,
		EndDate:        &end,
		Budget:         MustMoney("10000.00", "EUR"),
		Settings: Settings{
			TargetAudience: []string{"vip", "new-customers"},
			Channels:       []Channel{ChannelEmail, ChannelPush},
			Frequency:      FrequencyDaily,
			MaxImpressions: ptr(int64(100000)),
			BudgetLimit:    &limit,
			ABTest: &ABTestSettings{Enabled: true, Variants: []Variant{
				{Key: "A", Name: "Control", Weight: 50},
				{Key: "B", Name: "Bigger banner", Weight: 50},
			}},
			SchedulingRules: []SchedulingRule{{
				Days: []string{"MON", "TUE", "WED", "THU", "FRI"}, Start: "09:00", End: "17:00",
				Timezone: "Europe/Paris",
			}},
			Personalization: Personalization{Enabled: true, Rules: []RuleID{ruleID(3)}},
		},
	}
}

// validate runs the checks as the service does: normalize, then Validate.
func validate(in Input, prevStart *time.Time) []FieldError {
	in.Normalize()
	return in.Validate(now, prevStart)
}

func fieldsOf(errs []FieldError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Field
	}
	return out
}

func variants(weights ...int) []Variant {
	out := make([]Variant, len(weights))
	for i, w := range weights {
		out[i] = Variant{Key: fmt.Sprintf("v%d", i), Name: fmt.Sprintf("Variant %d", i), Weight: w}
	}
	return out
}

func segments(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("segment-%d", i)
	}
	return out
}

func schedulingRules(n int) []SchedulingRule {
	out := make([]SchedulingRule, n)
	for i := range out {
		out[i] = SchedulingRule{Days: []string{"SAT"}, Start: "10:00", End: "12:00", Timezone: "UTC"}
	}
	return out
}

type validationCase struct {
	name      string
	mutate    func(in *Input)
	prevStart *time.Time // stored start date: set for an update, nil for a create
	want      []string   // exact field paths reported, in any order; nil means valid
}

func runValidationCases(t *testing.T, cases []validationCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := validInput()
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			errs := validate(in, tc.prevStart)
			if len(tc.want) == 0 {
				assert.Empty(t, errs, "unexpected violations")
				return
			}
			assert.ElementsMatch(t, tc.want, fieldsOf(errs), "violations: %+v", errs)
			for _, e := range errs {
				assert.NotEmpty(t, e.Message, "field %s has no message", e.Field)
			}
		})
	}
}

func TestValidInputIsValid(t *testing.T) {
	t.Parallel()
	require.Empty(t, validate(validInput(), nil))
	// Validate itself, without normalize, accepts it too.
	require.Empty(t, validInput().Validate(now, nil))
}

func TestValidateName(t *testing.T) {
	t.Parallel()
	runValidationCases(t, []validationCase{
		{name: "3 characters", mutate: func(in *Input) { in.Name = "abc" }},
		{name: "2 characters", mutate: func(in *Input) { in.Name = "ab" }, want: []string{"name"}},
		{name: "empty", mutate: func(in *Input) { in.Name = "" }, want: []string{"name"}},
		{name: "only spaces", mutate: func(in *Input) { in.Name = "     " }, want: []string{"name"}},
		{name: "3 after trimming", mutate: func(in *Input) { in.Name = "  abc \n" }},
		{name: "2 after trimming", mutate: func(in *Input) { in.Name = "   ab   " }, want: []string{"name"}},
		{name: "3 runes of 2 bytes", mutate: func(in *Input) { in.Name = "äöü" }},
		{name: "2 runes of 3 bytes", mutate: func(in *Input) { in.Name = "日本" }, want: []string{"name"}},
		{name: "255 characters", mutate: func(in *Input) { in.Name = strings.Repeat("a", 255) }},
		{name: "255 two-byte runes", mutate: func(in *Input) { in.Name = strings.Repeat("é", 255) }},
		{name: "256 characters", mutate: func(in *Input) { in.Name = strings.Repeat("a", 256) }, want: []string{"name"}},
		{name: "256 two-byte runes", mutate: func(in *Input) { in.Name = strings.Repeat("é", 256) }, want: []string{"name"}},
		{name: "255 after trimming", mutate: func(in *Input) { in.Name = "  " + strings.Repeat("a", 255) + "  " }},
		{name: "NUL inside", mutate: func(in *Input) { in.Name = "ab\x00cd" }, want: []string{"name"}},
		{name: "tab inside", mutate: func(in *Input) { in.Name = "ab\tcd" }, want: []string{"name"}},
		{name: "newline inside", mutate: func(in *Input) { in.Name = "ab\ncd" }, want: []string{"name"}},
		{name: "escape inside", mutate: func(in *Input) { in.Name = "ab\x1b[31mcd" }, want: []string{"name"}},
		{name: "DEL inside", mutate: func(in *Input) { in.Name = "ab\x7fcd" }, want: []string{"name"}},
		{name: "C1 control inside", mutate: func(in *Input) { in.Name = "ab\u0085cd" }, want: []string{"name"}},
		{name: "invalid UTF-8", mutate: func(in *Input) { in.Name = "caf\xc3 sale" }, want: []string{"name"}},
		{name: "inner spaces and punctuation", mutate: func(in *Input) { in.Name = "Black Friday -50% (EU)" }},
	})
}

func TestValidateDescription(t *testing.T) {
	t.Parallel()
	runValidationCases(t, []validationCase{
		{name: "empty", mutate: func(in *Input) { in.Description = "" }},
		{name: "1000 characters", mutate: func(in *Input) { in.Description = strings.Repeat("d", 1000) }},
		{name: "1000 multi-byte runes", mutate: func(in *Input) { in.Description = strings.Repeat("€", 1000) }},
		{name: "1001 characters", mutate: func(in *Input) { in.Description = strings.Repeat("d", 1001) }, want: []string{"description"}},
		{name: "1001 multi-byte runes", mutate: func(in *Input) { in.Description = strings.Repeat("€", 1001) }, want: []string{"description"}},
		{name: "1000 after trimming", mutate: func(in *Input) { in.Description = "\n " + strings.Repeat("d", 1000) + " \n" }},
		{name: "newlines inside are fine", mutate: func(in *Input) { in.Description = "line one\nline two" }},
		{name: "NUL inside", mutate: func(in *Input) { in.Description = "before\x00after" }, want: []string{"description"}},
		{name: "invalid UTF-8", mutate: func(in *Input) { in.Description = "before\xffafter" }, want: []string{"description"}},
	})
}

func TestValidateType(t *testing.T) {
	t.Parallel()
	cases := []validationCase{
		{name: "empty", mutate: func(in *Input) { in.Type = "" }, want: []string{"type"}},
		{name: "lower case", mutate: func(in *Input) { in.Type = "promotion" }, want: []string{"type"}},
		{name: "unknown", mutate: func(in *Input) { in.Type = "NEWSLETTER" }, want: []string{"type"}},
		{name: "padded", mutate: func(in *Input) { in.Type = " LOYALTY" }, want: []string{"type"}},
	}
	for _, typ := range Types() {
		cases = append(cases, validationCase{name: string(typ), mutate: func(in *Input) { in.Type = typ }})
	}
	runValidationCases(t, cases)
}

func TestValidateDates(t *testing.T) {
	t.Parallel()
	past := now.Add(-30 * 24 * time.Hour)
	runValidationCases(t, []validationCase{
		{name: "start required", mutate: func(in *Input) { in.StartDate = time.Time{}; in.EndDate = nil }, want: []string{"startDate"}},
		{name: "start required, end not compared", mutate: func(in *Input) { in.StartDate = time.Time{} }, want: []string{"startDate"}},
		{name: "start now", mutate: func(in *Input) { in.StartDate = now }},
		{name: "start 4 minutes in the past is within the skew", mutate: func(in *Input) { in.StartDate = now.Add(-4 * time.Minute) }},
		{name: "start exactly 5 minutes in the past", mutate: func(in *Input) { in.StartDate = now.Add(-StartDateSkew) }},
		{name: "start 6 minutes in the past", mutate: func(in *Input) { in.StartDate = now.Add(-6 * time.Minute) }, want: []string{"startDate"}},
		{name: "start a month in the past", mutate: func(in *Input) { in.StartDate = past }, want: []string{"startDate"}},
		{name: "start far in the future", mutate: func(in *Input) {
			in.StartDate = now.AddDate(5, 0, 0)
			in.EndDate = ptr(now.AddDate(6, 0, 0))
		}},
		{name: "start in another zone, same future instant", mutate: func(in *Input) {
			in.StartDate = in.StartDate.In(time.FixedZone("UTC+9", 9*3600))
		}},
		{name: "start in another zone, 6 minutes in the past", mutate: func(in *Input) {
			in.StartDate = now.Add(-6 * time.Minute).In(time.FixedZone("UTC-5", -5*3600))
		}, want: []string{"startDate"}},
		{
			name: "update keeps a past start", prevStart: &past,
			mutate: func(in *Input) { in.StartDate = past },
		},
		{
			name: "update keeps a past start given in another zone", prevStart: &past,
			mutate: func(in *Input) { in.StartDate = past.In(time.FixedZone("UTC+2", 2*3600)) },
		},
		{
			name: "update moves a past start to another past date", prevStart: &past,
			mutate: func(in *Input) { in.StartDate = past.Add(24 * time.Hour) }, want: []string{"startDate"},
		},
		{
			name: "update moves a past start 6 minutes into the past", prevStart: &past,
			mutate: func(in *Input) { in.StartDate = now.Add(-6 * time.Minute) }, want: []string{"startDate"},
		},
		{
			name: "update moves a past start within the skew", prevStart: &past,
			mutate: func(in *Input) { in.StartDate = now.Add(-4 * time.Minute) },
		},
		{
			name: "update moves a past start into the future", prevStart: &past,
			mutate: func(in *Input) { in.StartDate = now.Add(time.Hour) },
		},
		// JSON and RFC 3339 cannot write a year past 9999: such a campaign could never be served.
		{name: "start in 9999", mutate: func(in *Input) {
			in.StartDate = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
			in.EndDate = nil
		}},
		{name: "start in 10000", mutate: func(in *Input) {
			in.StartDate = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			in.EndDate = nil
		}, want: []string{"startDate"}},
		{name: "start in 9999 locally, 10000 in UTC", mutate: func(in *Input) {
			in.StartDate = time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("UTC-5", -5*3600))
			in.EndDate = nil
		}, want: []string{"startDate"}},
		{name: "end in 10000", mutate: func(in *Input) {
			in.EndDate = ptr(time.Date(10000, 6, 1, 0, 0, 0, 0, time.UTC))
		}, want: []string{"endDate"}},
		{name: "start and end in 10000", mutate: func(in *Input) {
			in.StartDate = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			in.EndDate = ptr(time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC))
		}, want: []string{"startDate", "endDate"}},
		{name: "no end date", mutate: func(in *Input) { in.EndDate = nil }},
		{name: "end 1µs after start", mutate: func(in *Input) { in.EndDate = ptr(in.StartDate.Add(time.Microsecond)) }},
		{name: "end equal to start", mutate: func(in *Input) { in.EndDate = ptr(in.StartDate) }, want: []string{"endDate"}},
		{name: "end before start", mutate: func(in *Input) { in.EndDate = ptr(in.StartDate.Add(-time.Hour)) }, want: []string{"endDate"}},
		{
			// Dates are kept to the microsecond, so 1ns later is the same instant.
			name:   "end 1ns after start is equal once truncated",
			mutate: func(in *Input) { in.EndDate = ptr(in.StartDate.Add(time.Nanosecond)) }, want: []string{"endDate"},
		},
		{
			name: "end before a past start kept on update", prevStart: &past,
			mutate: func(in *Input) { in.StartDate = past; in.EndDate = ptr(past.Add(-time.Hour)) }, want: []string{"endDate"},
		},
	})
}

func TestValidateBudget(t *testing.T) {
	t.Parallel()
	setBudget := func(amount, currency string) func(in *Input) {
		return func(in *Input) {
			in.Budget = Money{Amount: decimal.RequireFromString(amount), Currency: currency}
			in.Settings.BudgetLimit = nil
		}
	}
	runValidationCases(t, []validationCase{
		{name: "10.10 EUR", mutate: setBudget("10.10", "EUR")},
		{name: "10.100 EUR is 10.10", mutate: setBudget("10.100", "EUR")},
		{name: "0.01 EUR", mutate: setBudget("0.01", "EUR")},
		{name: "10.001 EUR has too many decimals", mutate: setBudget("10.001", "EUR"), want: []string{"budget"}},
		{name: "500 JPY", mutate: setBudget("500", "JPY")},
		{name: "10.5 JPY has too many decimals", mutate: setBudget("10.5", "JPY"), want: []string{"budget"}},
		{name: "1.234 KWD", mutate: setBudget("1.234", "KWD")},
		{name: "1.2345 KWD has too many decimals", mutate: setBudget("1.2345", "KWD"), want: []string{"budget"}},
		{name: "largest amount", mutate: setBudget("999999999999999.99", "EUR")},
		{name: "amount too large", mutate: setBudget("1000000000000000", "EUR"), want: []string{"budget"}},
		{name: "amount far too large", mutate: setBudget("1e40", "USD"), want: []string{"budget"}},
		{name: "zero", mutate: setBudget("0", "EUR"), want: []string{"budget.amount"}},
		{name: "negative", mutate: setBudget("-10", "EUR"), want: []string{"budget.amount"}},
		{name: "negative and too large", mutate: setBudget("-1000000000000000", "EUR"), want: []string{"budget", "budget.amount"}},
		{name: "currency missing", mutate: setBudget("10", ""), want: []string{"budget.currency"}},
		{name: "currency lower case", mutate: setBudget("10", "eur"), want: []string{"budget"}},
		{name: "currency unknown", mutate: setBudget("10", "ABC"), want: []string{"budget"}},
		{name: "currency too long", mutate: setBudget("10", "EURO"), want: []string{"budget"}},
		{name: "no budget at all", mutate: func(in *Input) { in.Budget = Money{}; in.Settings.BudgetLimit = nil }, want: []string{"budget.currency", "budget.amount"}},
	})
}

func TestValidateTargetingRules(t *testing.T) {
	t.Parallel()
	runValidationCases(t, []validationCase{
		{name: "none", mutate: func(in *Input) { in.TargetingRules = nil }},
		{name: "100 rules", mutate: func(in *Input) { in.TargetingRules = ruleIDs(100) }},
		{name: "101 rules", mutate: func(in *Input) { in.TargetingRules = ruleIDs(101) }, want: []string{"targetingRules"}},
		{name: "duplicate", mutate: func(in *Input) { in.TargetingRules = []RuleID{ruleID(1), ruleID(2), ruleID(1)} }, want: []string{"targetingRules[2]"}},
		{name: "three times the same", mutate: func(in *Input) { in.TargetingRules = []RuleID{ruleID(1), ruleID(1), ruleID(1)} }, want: []string{"targetingRules[1]", "targetingRules[2]"}},
		{name: "101 rules with a duplicate", mutate: func(in *Input) {
			in.TargetingRules = append(ruleIDs(100), ruleID(0))
		}, want: []string{"targetingRules", "targetingRules[100]"}},
	})
}

func TestValidateChannels(t *testing.T) {
	t.Parallel()
	cases := []validationCase{
		{name: "nil", mutate: func(in *Input) { in.Settings.Channels = nil }, want: []string{"settings.channels"}},
		{name: "empty", mutate: func(in *Input) { in.Settings.Channels = []Channel{} }, want: []string{"settings.channels"}},
		{name: "every channel", mutate: func(in *Input) { in.Settings.Channels = Channels() }},
		{name: "unknown", mutate: func(in *Input) { in.Settings.Channels = []Channel{ChannelEmail, "FAX"} }, want: []string{"settings.channels[1]"}},
		{name: "lower case", mutate: func(in *Input) { in.Settings.Channels = []Channel{"email"} }, want: []string{"settings.channels[0]"}},
		{name: "empty string", mutate: func(in *Input) { in.Settings.Channels = []Channel{""} }, want: []string{"settings.channels[0]"}},
		{name: "duplicate", mutate: func(in *Input) { in.Settings.Channels = []Channel{ChannelSMS, ChannelWeb, ChannelSMS} }, want: []string{"settings.channels[2]"}},
		{name: "duplicate unknown", mutate: func(in *Input) { in.Settings.Channels = []Channel{"FAX", "FAX"} }, want: []string{"settings.channels[0]", "settings.channels[1]", "settings.channels[1]"}},
	}
	for _, ch := range Channels() {
		cases = append(cases, validationCase{name: string(ch), mutate: func(in *Input) { in.Settings.Channels = []Channel{ch} }})
	}
	runValidationCases(t, cases)
}

func TestValidateFrequency(t *testing.T) {
	t.Parallel()
	cases := []validationCase{
		{name: "empty defaults to ONCE", mutate: func(in *Input) { in.Settings.Frequency = "" }},
		{name: "unknown", mutate: func(in *Input) { in.Settings.Frequency = "HOURLY" }, want: []string{"settings.frequency"}},
		{name: "lower case", mutate: func(in *Input) { in.Settings.Frequency = "daily" }, want: []string{"settings.frequency"}},
		{name: "blank", mutate: func(in *Input) { in.Settings.Frequency = " " }, want: []string{"settings.frequency"}},
	}
	for _, f := range Frequencies() {
		cases = append(cases, validationCase{name: string(f), mutate: func(in *Input) { in.Settings.Frequency = f }})
	}
	runValidationCases(t, cases)

	// Without normalize, an empty frequency is not one of the enum values.
	in := validInput()
	in.Settings.Frequency = ""
	assert.Equal(t, []string{"settings.frequency"}, fieldsOf(in.Validate(now, nil)))
}

func TestValidateTargetAudience(t *testing.T) {
	t.Parallel()
	runValidationCases(t, []validationCase{
		{name: "none", mutate: func(in *Input) { in.Settings.TargetAudience = nil }},
		{name: "100 segments", mutate: func(in *Input) { in.Settings.TargetAudience = segments(100) }},
		{name: "101 segments", mutate: func(in *Input) { in.Settings.TargetAudience = segments(101) }, want: []string{"settings.targetAudience"}},
		{name: "empty segment", mutate: func(in *Input) { in.Settings.TargetAudience = []string{"vip", ""} }, want: []string{"settings.targetAudience[1]"}},
		{name: "blank segment", mutate: func(in *Input) { in.Settings.TargetAudience = []string{" \t "} }, want: []string{"settings.targetAudience[0]"}},
		{name: "100-character segment", mutate: func(in *Input) { in.Settings.TargetAudience = []string{strings.Repeat("s", 100)} }},
		{name: "100 multi-byte runes", mutate: func(in *Input) { in.Settings.TargetAudience = []string{strings.Repeat("ß", 100)} }},
		{name: "101-character segment", mutate: func(in *Input) { in.Settings.TargetAudience = []string{"ok", strings.Repeat("s", 101)} }, want: []string{"settings.targetAudience[1]"}},
		{name: "duplicate segment", mutate: func(in *Input) { in.Settings.TargetAudience = []string{"vip", "new", "vip"} }, want: []string{"settings.targetAudience[2]"}},
		{name: "NUL in a segment", mutate: func(in *Input) { in.Settings.TargetAudience = []string{"vip", "v\x00ip"} }, want: []string{"settings.targetAudience[1]"}},
	})
}

func TestValidateMaxImpressions(t *testing.T) {
	t.Parallel()
	runValidationCases(t, []validationCase{
		{name: "unset", mutate: func(in *Input) { in.Settings.MaxImpressions = nil }},
		{name: "one", mutate: func(in *Input) { in.Settings.MaxImpressions = ptr(int64(1)) }},
		{name: "zero", mutate: func(in *Input) { in.Settings.MaxImpressions = ptr(int64(0)) }, want: []string{"settings.maxImpressions"}},
		{name: "negative", mutate: func(in *Input) { in.Settings.MaxImpressions = ptr(int64(-5)) }, want: []string{"settings.maxImpressions"}},
	})
}

func TestValidateBudgetLimit(t *testing.T) {
	t.Parallel()
	setLimit := func(amount, currency string) func(in *Input) {
		return func(in *Input) {
			in.Settings.BudgetLimit = &Money{Amount: decimal.RequireFromString(amount), Currency: currency}
		}
	}
	runValidationCases(t, []validationCase{
		{name: "unset", mutate: func(in *Input) { in.Settings.BudgetLimit = nil }},
		{name: "equal to the budget", mutate: setLimit("10000", "EUR")},
		{name: "below the budget", mutate: setLimit("0.01", "EUR")},
		{name: "above the budget", mutate: setLimit("10000.01", "EUR"), want: []string{"settings.budgetLimit.amount"}},
		{name: "other currency", mutate: setLimit("100", "USD"), want: []string{"settings.budgetLimit.currency"}},
		{name: "other currency and above the budget", mutate: setLimit("20000", "USD"), want: []string{"settings.budgetLimit.currency"}},
		{name: "zero", mutate: setLimit("0", "EUR"), want: []string{"settings.budgetLimit.amount"}},
		{name: "negative", mutate: setLimit("-1", "EUR"), want: []string{"settings.budgetLimit.amount"}},
		{name: "too many decimals", mutate: setLimit("10.001", "EUR"), want: []string{"settings.budgetLimit"}},
		{name: "invalid currency", mutate: setLimit("10", "XYZ"), want: []string{"settings.budgetLimit", "settings.budgetLimit.currency"}},
		{name: "currency missing", mutate: setLimit("10", ""), want: []string{"settings.budgetLimit.currency", "settings.budgetLimit.currency"}},
		{name: "JPY budget and limit", mutate: func(in *Input) {
			in.Budget = MustMoney("500", "JPY")
			in.Settings.BudgetLimit = ptr(MustMoney("500", "JPY"))
		}},
	})
}

func TestValidateABTest(t *testing.T) {
	t.Parallel()
	const f = "settings.abTestSettings.variants"
	setAB := func(enabled bool, vs ...Variant) func(in *Input) {
		return func(in *Input) { in.Settings.ABTest = &ABTestSettings{Enabled: enabled, Variants: vs} }
	}
	withVariant := func(i int, change func(v *Variant)) func(in *Input) {
		return func(in *Input) { change(&in.Settings.ABTest.Variants[i]) }
	}
	runValidationCases(t, []validationCase{
		{name: "unset", mutate: func(in *Input) { in.Settings.ABTest = nil }},
		{name: "disabled without variants", mutate: setAB(false)},
		{name: "enabled without variants", mutate: setAB(true), want: []string{f}},
		{name: "enabled with one variant", mutate: setAB(true, variants(100)...), want: []string{f}},
		{name: "disabled with one variant", mutate: setAB(false, variants(100)...)},
		{name: "three variants", mutate: setAB(true, variants(34, 33, 33)...)},
		{name: "10 variants", mutate: setAB(true, variants(10, 10, 10, 10, 10, 10, 10, 10, 10, 10)...)},
		{name: "11 variants", mutate: setAB(true, variants(10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9)...), want: []string{f}},
		{name: "key 32 characters", mutate: withVariant(0, func(v *Variant) { v.Key = strings.Repeat("k", 32) })},
		{name: "key with allowed punctuation", mutate: withVariant(0, func(v *Variant) { v.Key = "Var_1-b" })},
		{name: "key empty", mutate: withVariant(0, func(v *Variant) { v.Key = "" }), want: []string{f + "[0].key"}},
		{name: "key 33 characters", mutate: withVariant(1, func(v *Variant) { v.Key = strings.Repeat("k", 33) }), want: []string{f + "[1].key"}},
		{name: "key with a space", mutate: withVariant(0, func(v *Variant) { v.Key = "a b" }), want: []string{f + "[0].key"}},
		{name: "key with a dot", mutate: withVariant(0, func(v *Variant) { v.Key = "a.b" }), want: []string{f + "[0].key"}},
		{name: "key non-ASCII", mutate: withVariant(0, func(v *Variant) { v.Key = "ä" }), want: []string{f + "[0].key"}},
		{name: "key with trailing newline", mutate: withVariant(0, func(v *Variant) { v.Key = "A\n" }), want: []string{f + "[0].key"}},
		{name: "name empty", mutate: withVariant(0, func(v *Variant) { v.Name = "" }), want: []string{f + "[0].name"}},
		{name: "name blank", mutate: withVariant(1, func(v *Variant) { v.Name = "   " }), want: []string{f + "[1].name"}},
		{name: "name 100 characters", mutate: withVariant(0, func(v *Variant) { v.Name = strings.Repeat("n", 100) })},
		{name: "name with NUL", mutate: withVariant(1, func(v *Variant) { v.Name = "B\x00" }), want: []string{f + "[1].name"}},
		{name: "name 101 characters", mutate: withVariant(0, func(v *Variant) { v.Name = strings.Repeat("n", 101) }), want: []string{f + "[0].name"}},
		{name: "weight 1 and 99", mutate: setAB(true, variants(1, 99)...)},
		{name: "weight 100 and 0 (a concluded test)", mutate: setAB(true, variants(100, 0)...)},
		{name: "weight 101 and -1", mutate: setAB(true, variants(101, -1)...), want: []string{f + "[0].weight", f + "[1].weight"}},
		{name: "weight 0 and 50 break the sum", mutate: setAB(true, variants(50, 0)...), want: []string{f}},
		{name: "one control", mutate: withVariant(1, func(v *Variant) { v.Control = true })},
		{name: "two controls", mutate: setAB(true, Variant{Key: "A", Name: "A", Weight: 50, Control: true}, Variant{Key: "B", Name: "B", Weight: 50, Control: true}), want: []string{f + "[1].control"}},
		{name: "description 500 characters", mutate: withVariant(0, func(v *Variant) { v.Description = strings.Repeat("d", 500) })},
		{name: "description 501 characters", mutate: withVariant(0, func(v *Variant) { v.Description = strings.Repeat("d", 501) }), want: []string{f + "[0].description"}},
		{name: "description with NUL", mutate: withVariant(1, func(v *Variant) { v.Description = "x\x00" }), want: []string{f + "[1].description"}},
		{name: "every success metric", mutate: func(in *Input) { in.Settings.ABTest.SuccessMetric = SuccessRevenuePerExposure }},
		{name: "unknown success metric", mutate: func(in *Input) { in.Settings.ABTest.SuccessMetric = "roas" }, want: []string{"settings.abTestSettings.successMetric"}},
		{name: "minSampleSize 1", mutate: func(in *Input) { in.Settings.ABTest.MinSampleSize = ptr(int64(1)) }},
		{name: "minSampleSize at the bound", mutate: func(in *Input) { in.Settings.ABTest.MinSampleSize = ptr(int64(MaxMinSampleSize)) }},
		{name: "minSampleSize 0", mutate: func(in *Input) { in.Settings.ABTest.MinSampleSize = ptr(int64(0)) }, want: []string{"settings.abTestSettings.minSampleSize"}},
		{name: "minSampleSize above the bound", mutate: func(in *Input) { in.Settings.ABTest.MinSampleSize = ptr(int64(MaxMinSampleSize + 1)) }, want: []string{"settings.abTestSettings.minSampleSize"}},
		{name: "weights sum to 90", mutate: setAB(true, variants(40, 50)...), want: []string{f}},
		{name: "weights sum to 110", mutate: setAB(true, variants(60, 50)...), want: []string{f}},
		{name: "duplicate keys", mutate: withVariant(1, func(v *Variant) { v.Key = "A" }), want: []string{f + "[1].key"}},
		{name: "keys differ by case only", mutate: withVariant(1, func(v *Variant) { v.Key = "a" })},
	})
}

func TestValidateSchedulingRules(t *testing.T) {
	t.Parallel()
	const f = "settings.schedulingRules"
	withRule := func(change func(r *SchedulingRule)) func(in *Input) {
		return func(in *Input) { change(&in.Settings.SchedulingRules[0]) }
	}
	runValidationCases(t, []validationCase{
		{name: "none", mutate: func(in *Input) { in.Settings.SchedulingRules = nil }},
		{name: "20 rules", mutate: func(in *Input) { in.Settings.SchedulingRules = schedulingRules(20) }},
		{name: "21 rules", mutate: func(in *Input) { in.Settings.SchedulingRules = schedulingRules(21) }, want: []string{f}},
		{name: "every day", mutate: withRule(func(r *SchedulingRule) { r.Days = []string{"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"} })},
		{name: "days missing", mutate: withRule(func(r *SchedulingRule) { r.Days = nil }), want: []string{f + "[0].days"}},
		{name: "days empty", mutate: withRule(func(r *SchedulingRule) { r.Days = []string{} }), want: []string{f + "[0].days"}},
		{name: "day in mixed case", mutate: withRule(func(r *SchedulingRule) { r.Days = []string{"MON", "Tue"} }), want: []string{f + "[0].days[1]"}},
		{name: "day spelled out", mutate: withRule(func(r *SchedulingRule) { r.Days = []string{"MONDAY"} }), want: []string{f + "[0].days[0]"}},
		{name: "day duplicated", mutate: withRule(func(r *SchedulingRule) { r.Days = []string{"SAT", "SUN", "SAT"} }), want: []string{f + "[0].days[2]"}},
		{name: "whole day", mutate: withRule(func(r *SchedulingRule) { r.Start, r.End = "00:00", "23:59" })},
		{name: "start without leading zero", mutate: withRule(func(r *SchedulingRule) { r.Start = "9:00" }), want: []string{f + "[0].startTime"}},
		{name: "start 24:00", mutate: withRule(func(r *SchedulingRule) { r.Start = "24:00" }), want: []string{f + "[0].startTime"}},
		{name: "start minute 60", mutate: withRule(func(r *SchedulingRule) { r.Start = "12:60" }), want: []string{f + "[0].startTime"}},
		{name: "start with seconds", mutate: withRule(func(r *SchedulingRule) { r.Start = "09:00:00" }), want: []string{f + "[0].startTime"}},
		{name: "start missing", mutate: withRule(func(r *SchedulingRule) { r.Start = "" }), want: []string{f + "[0].startTime"}},
		{name: "end missing", mutate: withRule(func(r *SchedulingRule) { r.End = "" }), want: []string{f + "[0].endTime"}},
		{name: "end 12 hour clock", mutate: withRule(func(r *SchedulingRule) { r.End = "5pm" }), want: []string{f + "[0].endTime"}},
		{name: "both malformed", mutate: withRule(func(r *SchedulingRule) { r.Start, r.End = "x", "y" }), want: []string{f + "[0].startTime", f + "[0].endTime"}},
		{name: "end equal to start", mutate: withRule(func(r *SchedulingRule) { r.Start, r.End = "10:00", "10:00" }), want: []string{f + "[0].endTime"}},
		{name: "end before start crosses midnight", mutate: withRule(func(r *SchedulingRule) { r.Start, r.End = "22:00", "02:00" }), want: nil},
		{name: "end one minute after start", mutate: withRule(func(r *SchedulingRule) { r.Start, r.End = "09:59", "10:00" })},
		{name: "timezone UTC", mutate: withRule(func(r *SchedulingRule) { r.Timezone = "UTC" })},
		{name: "timezone America/New_York", mutate: withRule(func(r *SchedulingRule) { r.Timezone = "America/New_York" })},
		{name: "timezone missing", mutate: withRule(func(r *SchedulingRule) { r.Timezone = "" }), want: []string{f + "[0].timezone"}},
		{name: "timezone unknown", mutate: withRule(func(r *SchedulingRule) { r.Timezone = "Mars/Olympus_Mons" }), want: []string{f + "[0].timezone"}},
		{name: "timezone Local", mutate: withRule(func(r *SchedulingRule) { r.Timezone = "Local" }), want: []string{f + "[0].timezone"}},
		{name: "timezone offset", mutate: withRule(func(r *SchedulingRule) { r.Timezone = "+02:00" }), want: []string{f + "[0].timezone"}},
		{name: "timezone path traversal", mutate: withRule(func(r *SchedulingRule) { r.Timezone = "../../etc/passwd" }), want: []string{f + "[0].timezone"}},
		{name: "second rule broken", mutate: func(in *Input) {
			in.Settings.SchedulingRules = append(in.Settings.SchedulingRules,
				SchedulingRule{Days: []string{"SUN"}, Start: "10:00", End: "11:00", Timezone: "Nowhere"})
		}, want: []string{f + "[1].timezone"}},
	})
}

func TestValidatePersonalization(t *testing.T) {
	t.Parallel()
	const f = "settings.personalization.rules"
	runValidationCases(t, []validationCase{
		{name: "disabled without rules", mutate: func(in *Input) { in.Settings.Personalization = Personalization{} }},
		{name: "disabled with rules", mutate: func(in *Input) { in.Settings.Personalization.Enabled = false }},
		{name: "enabled without rules", mutate: func(in *Input) { in.Settings.Personalization.Rules = nil }, want: []string{f}},
		{name: "enabled with an empty list", mutate: func(in *Input) { in.Settings.Personalization.Rules = []RuleID{} }, want: []string{f}},
		{name: "duplicate rule", mutate: func(in *Input) { in.Settings.Personalization.Rules = []RuleID{ruleID(1), ruleID(1)} }, want: []string{f + "[1]"}},
		{name: "100 rules", mutate: func(in *Input) { in.Settings.Personalization.Rules = ruleIDs(100) }},
		{name: "101 rules", mutate: func(in *Input) { in.Settings.Personalization.Rules = ruleIDs(101) }, want: []string{f}},
	})
}

// Validation reports every broken rule at once, not only the first one.
func TestValidateReportsEveryViolation(t *testing.T) {
	t.Parallel()
	in := validInput()
	in.Name = "x"
	in.Description = strings.Repeat("d", 1001)
	in.Type = "BOGUS"
	in.StartDate = now.Add(-time.Hour)
	in.EndDate = ptr(now.Add(-2 * time.Hour))
	in.Budget = MustMoney("-1", "EUR")
	in.TargetingRules = []RuleID{ruleID(1), ruleID(1)}
	in.Settings.Channels = []Channel{"FAX", ChannelEmail, ChannelEmail}
	in.Settings.Frequency = "HOURLY"
	in.Settings.TargetAudience = []string{""}
	in.Settings.MaxImpressions = ptr(int64(0))
	in.Settings.BudgetLimit = ptr(MustMoney("5", "USD"))
	in.Settings.ABTest = &ABTestSettings{Enabled: true, Variants: []Variant{{Key: "a b", Name: "", Weight: -1}}}
	in.Settings.SchedulingRules = []SchedulingRule{{Days: []string{"FUNDAY"}, Start: "25:00", End: "10:00", Timezone: "Local"}}
	in.Settings.Personalization = Personalization{Enabled: true}

	errs := validate(in, nil)
	assert.ElementsMatch(t, []string{
		"name",
		"description",
		"type",
		"startDate",
		"endDate",
		"budget.amount",
		"targetingRules[1]",
		"settings.channels[0]",
		"settings.channels[2]",
		"settings.frequency",
		"settings.targetAudience[0]",
		"settings.maxImpressions",
		"settings.budgetLimit.currency",
		"settings.abTestSettings.variants",
		"settings.abTestSettings.variants[0].key",
		"settings.abTestSettings.variants[0].name",
		"settings.abTestSettings.variants[0].weight",
		"settings.abTestSettings.variants", // weights sum to 0
		"settings.schedulingRules[0].days[0]",
		"settings.schedulingRules[0].startTime",
		"settings.schedulingRules[0].timezone",
		"settings.personalization.rules",
	}, fieldsOf(errs), "violations: %+v", errs)

	// The error the service returns lists them all too.
	verr := &ValidationError{Fields: errs}
	for _, field := range []string{"name: ", "type: ", "startDate: ", "settings.frequency: "} {
		assert.Contains(t, verr.Error(), field)
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	start := time.Date(2027, 3, 1, 9, 30, 0, 123456789, paris)
	end := start.Add(time.Hour)
	in := Input{Name: "  Spring  ", Description: "\n desc \t", StartDate: start, EndDate: &end}
	in.Normalize()

	assert.Equal(t, "Spring", in.Name, "name is trimmed, inner spaces kept")
	assert.Equal(t, "desc", in.Description)
	assert.Equal(t, FrequencyOnce, in.Settings.Frequency, "empty frequency defaults to ONCE")
	for name, isNil := range map[string]bool{
		"targetingRules":                in.TargetingRules == nil,
		"settings.targetAudience":       in.Settings.TargetAudience == nil,
		"settings.channels":             in.Settings.Channels == nil,
		"settings.schedulingRules":      in.Settings.SchedulingRules == nil,
		"settings.personalization.rule": in.Settings.Personalization.Rules == nil,
	} {
		assert.False(t, isNil, "%s must be an empty list, not nil", name)
	}
	assert.Equal(t, time.UTC, in.StartDate.Location())
	assert.True(t, in.StartDate.Equal(start.Truncate(time.Microsecond)))
	assert.Equal(t, 123456000, in.StartDate.Nanosecond(), "kept to the microsecond")
	require.NotNil(t, in.EndDate)
	assert.Equal(t, time.UTC, in.EndDate.Location())
	assert.NotSame(t, &end, in.EndDate, "the caller's end date is not modified in place")

	explicit := Input{Settings: Settings{Frequency: FrequencyMonthly}}
	explicit.Normalize()
	assert.Equal(t, FrequencyMonthly, explicit.Settings.Frequency, "a set frequency is kept")
}
