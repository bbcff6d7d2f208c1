package campaign

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/textcheck"
)

// Limits of the input. They keep rows and JSON documents small and bounded.
const (
	MinNameLen         = 3
	MaxNameLen         = 255
	MaxDescriptionLen  = 1000
	MaxTargetingRules  = 100
	MaxAudienceEntries = 100
	MaxSegmentLen      = 100
	MaxVariants        = 10
	MaxSchedulingRules = 20
	MaxVariantNameLen  = 100
	// MaxVariantDescriptionLen bounds a variant's description; MaxMinSampleSize an A/B test's
	// minimum sample size per variant.
	MaxVariantDescriptionLen = 500
	MaxMinSampleSize         = 100_000_000

	// StartDateSkew is how far in the past a new start date may be, to absorb clock skew
	// between the caller and the service.
	StartDateSkew = 5 * time.Minute
)

var (
	variantKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	clockPattern      = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	weekdays          = []string{"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}
)

// Normalize trims what a person would not mean to keep and fills documented defaults.
func (in *Input) Normalize() {
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	if in.Settings.Frequency == "" {
		in.Settings.Frequency = FrequencyOnce
	}
	// Empty lists are stored and served as [], never null.
	in.TargetingRules = nonNil(in.TargetingRules)
	in.Settings.TargetAudience = nonNil(in.Settings.TargetAudience)
	in.Settings.Channels = nonNil(in.Settings.Channels)
	in.Settings.SchedulingRules = nonNil(in.Settings.SchedulingRules)
	in.Settings.Personalization.Rules = nonNil(in.Settings.Personalization.Rules)
	if in.Settings.ABTest != nil {
		in.Settings.ABTest.Variants = nonNil(in.Settings.ABTest.Variants)
	}
	if p := in.Settings.Pacing; p != nil {
		if p.Mode == "" {
			p.Mode = lifecycle.PacingASAP
		}
		if p.Period == "" && p.DailyBudget != nil {
			p.Period = lifecycle.PeriodDaily
		} else if p.Period == "" {
			p.Period = lifecycle.PeriodFlight
		}
	}
	in.StartDate = in.StartDate.UTC().Truncate(time.Microsecond)
	if in.EndDate != nil {
		end := in.EndDate.UTC().Truncate(time.Microsecond)
		in.EndDate = &end
	}
}

// validator collects field errors.
type validator struct{ errs []FieldError }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Validate checks every rule of a campaign's input and returns all violations. prevStart is
// the stored start date when replacing a campaign (nil on create): an unchanged start date may
// lie in the past, a new one may not.
func (in Input) Validate(now time.Time, prevStart *time.Time) []FieldError {
	v := &validator{}
	v.name(in.Name)
	if n := utf8.RuneCountInString(in.Description); n > MaxDescriptionLen {
		v.add("description", "must be at most %d characters (got %d)", MaxDescriptionLen, n)
	}
	v.text("description", in.Description, textcheck.Text)
	if !slices.Contains(Types(), in.Type) {
		v.add("type", "must be one of %s", joinQuoted(Types()))
	}
	v.dates(in, now, prevStart)
	v.money("budget", in.Budget)
	if len(in.TargetingRules) > MaxTargetingRules {
		v.add("targetingRules", "must hold at most %d rules", MaxTargetingRules)
	}
	noDuplicatesIn(v, "targetingRules", in.TargetingRules)
	v.settings(in.Settings, in)
	return v.errs
}

func (v *validator) name(name string) {
	n := utf8.RuneCountInString(name)
	switch {
	case n < MinNameLen || n > MaxNameLen:
		v.add("name", "must be %d to %d characters (got %d)", MinNameLen, MaxNameLen, n)
	default:
		v.text("name", name, textcheck.Line)
	}
}

// text applies the shared text rule (no NUL, valid UTF-8; check says whether control
// characters are allowed too), so that nothing PostgreSQL cannot store reaches it.
func (v *validator) text(field, s string, check func(string) error) {
	if err := check(s); err != nil {
		v.add(field, "%s", err.Error())
	}
}

func (v *validator) dates(in Input, now time.Time, prevStart *time.Time) {
	if in.StartDate.IsZero() {
		v.add("startDate", "is required")
	} else if changed := prevStart == nil || !prevStart.Equal(in.StartDate); changed &&
		in.StartDate.Before(now.Add(-StartDateSkew)) {
		v.add("startDate", "must not be in the past")
	} else if !in.StartDate.Before(maxDate) {
		v.add("startDate", "must be before the year 10000")
	}
	if in.EndDate != nil && !in.StartDate.IsZero() && !in.EndDate.After(in.StartDate) {
		v.add("endDate", "must be after startDate")
	} else if in.EndDate != nil && !in.EndDate.Before(maxDate) {
		v.add("endDate", "must be before the year 10000")
	}
}

// maxDate bounds dates to what RFC 3339 and JSON can write (years 0 to 9999, in UTC); minDate
// to what PostgreSQL can store (it has no year 0).
var (
	maxDate = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	minDate = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
)

// InDateRange reports whether t is an instant the stores can compare with a timestamp: the
// years 1 to 9999 in UTC. PostgreSQL has no year 0, which an RFC 3339 date-time with an
// offset can fall into once in UTC.
func InDateRange(t time.Time) bool {
	t = t.UTC()
	return !t.Before(minDate) && t.Before(maxDate)
}

// money checks a positive amount in a valid currency.
func (v *validator) money(field string, m Money) {
	if m.Currency == "" {
		v.add(field+".currency", "is required")
	} else if err := m.check(); err != nil {
		v.add(field, "%s", err.Error())
	}
	if !m.Amount.IsPositive() {
		v.add(field+".amount", "must be greater than 0")
	}
}

func (v *validator) settings(s Settings, in Input) {
	budget := in.Budget
	if len(s.Channels) == 0 {
		v.add("settings.channels", "must hold at least one channel")
	}
	for i, ch := range s.Channels {
		if !slices.Contains(Channels(), ch) {
			v.add(fmt.Sprintf("settings.channels[%d]", i), "must be one of %s", joinQuoted(Channels()))
		}
	}
	noDuplicatesIn(v, "settings.channels", s.Channels)
	if !slices.Contains(Frequencies(), s.Frequency) {
		v.add("settings.frequency", "must be one of %s", joinQuoted(Frequencies()))
	}
	if len(s.TargetAudience) > MaxAudienceEntries {
		v.add("settings.targetAudience", "must hold at most %d segments", MaxAudienceEntries)
	}
	for i, seg := range s.TargetAudience {
		if n := utf8.RuneCountInString(seg); strings.TrimSpace(seg) == "" || n > MaxSegmentLen {
			v.add(fmt.Sprintf("settings.targetAudience[%d]", i), "must be 1 to %d characters", MaxSegmentLen)
		}
		v.text(fmt.Sprintf("settings.targetAudience[%d]", i), seg, textcheck.Text)
	}
	noDuplicatesIn(v, "settings.targetAudience", s.TargetAudience)
	if s.MaxImpressions != nil && *s.MaxImpressions <= 0 {
		v.add("settings.maxImpressions", "must be greater than 0")
	}
	if s.BudgetLimit != nil {
		v.money("settings.budgetLimit", *s.BudgetLimit)
		if s.BudgetLimit.Currency != budget.Currency {
			v.add("settings.budgetLimit.currency", "must be the budget's currency (%s)", budget.Currency)
		} else if s.BudgetLimit.Amount.GreaterThan(budget.Amount) {
			v.add("settings.budgetLimit.amount", "must not exceed the budget")
		}
	}
	if s.ABTest != nil {
		v.abTest(*s.ABTest)
	}
	if len(s.SchedulingRules) > MaxSchedulingRules {
		v.add("settings.schedulingRules", "must hold at most %d rules", MaxSchedulingRules)
	}
	for i, r := range s.SchedulingRules {
		v.schedulingRule(fmt.Sprintf("settings.schedulingRules[%d]", i), r)
	}
	if s.Personalization.Enabled && len(s.Personalization.Rules) == 0 {
		v.add("settings.personalization.rules", "must hold at least one rule when personalization is enabled")
	}
	if len(s.Personalization.Rules) > MaxTargetingRules {
		v.add("settings.personalization.rules", "must hold at most %d rules", MaxTargetingRules)
	}
	noDuplicatesIn(v, "settings.personalization.rules", s.Personalization.Rules)
	if s.Pacing != nil {
		v.pacing(*s.Pacing, in)
	}
}

func (v *validator) abTest(ab ABTestSettings) {
	const f = "settings.abTestSettings.variants"
	if ab.Enabled && len(ab.Variants) < 2 {
		v.add(f, "must hold at least two variants when the A/B test is enabled")
	}
	if len(ab.Variants) > MaxVariants {
		v.add(f, "must hold at most %d variants", MaxVariants)
	}
	sum, controls, keys := 0, 0, make(map[string]struct{}, len(ab.Variants))
	for i, vr := range ab.Variants {
		p := fmt.Sprintf("%s[%d]", f, i)
		if !variantKeyPattern.MatchString(vr.Key) {
			v.add(p+".key", "must be 1 to 32 letters, digits, '-' or '_'")
		} else if _, dup := keys[vr.Key]; dup {
			v.add(p+".key", "duplicates an earlier variant's key")
		}
		keys[vr.Key] = struct{}{}
		if n := utf8.RuneCountInString(vr.Name); strings.TrimSpace(vr.Name) == "" || n > MaxVariantNameLen {
			v.add(p+".name", "must be 1 to %d characters", MaxVariantNameLen)
		}
		v.text(p+".name", vr.Name, textcheck.Text)
		if n := utf8.RuneCountInString(vr.Description); n > MaxVariantDescriptionLen {
			v.add(p+".description", "must be at most %d characters (got %d)", MaxVariantDescriptionLen, n)
		}
		v.text(p+".description", vr.Description, textcheck.Text)
		if vr.Weight < 0 || vr.Weight > 100 {
			v.add(p+".weight", "must be between 0 and 100")
		}
		if vr.Control {
			controls++
			if controls > 1 {
				v.add(p+".control", "only one variant may be the control")
			}
		}
		sum += vr.Weight
	}
	if len(ab.Variants) > 0 && sum != 100 {
		v.add(f, "weights must sum to 100 (got %d)", sum)
	}
	if ab.SuccessMetric != "" && !slices.Contains(SuccessMetrics(), ab.SuccessMetric) {
		v.add("settings.abTestSettings.successMetric", "must be one of %s", joinQuoted(SuccessMetrics()))
	}
	if ab.MinSampleSize != nil && (*ab.MinSampleSize < 1 || *ab.MinSampleSize > MaxMinSampleSize) {
		v.add("settings.abTestSettings.minSampleSize", "must be between 1 and %d", MaxMinSampleSize)
	}
}

func (v *validator) schedulingRule(p string, r SchedulingRule) {
	if len(r.Days) == 0 {
		v.add(p+".days", "must hold at least one day")
	}
	for i, d := range r.Days {
		if !slices.Contains(weekdays, d) {
			v.add(fmt.Sprintf("%s.days[%d]", p, i), "must be one of %s", joinQuoted(weekdays))
		}
	}
	noDuplicatesIn(v, p+".days", r.Days)
	startOK, endOK := clockPattern.MatchString(r.Start), clockPattern.MatchString(r.End)
	if !startOK {
		v.add(p+".startTime", "must be a time of day HH:MM")
	}
	if !endOK {
		v.add(p+".endTime", "must be a time of day HH:MM")
	}
	if startOK && endOK && r.End == r.Start {
		v.add(p+".endTime", "must differ from startTime (an endTime before startTime crosses midnight)")
	}
	if r.Timezone == "" {
		v.add(p+".timezone", "is required")
	} else if _, err := time.LoadLocation(r.Timezone); err != nil || r.Timezone == "Local" {
		v.add(p+".timezone", "must be an IANA time zone such as Europe/Paris")
	}
}

// noDuplicatesIn reports the second and later occurrences of any value.
func noDuplicatesIn[T comparable](v *validator, field string, items []T) {
	seen := make(map[T]struct{}, len(items))
	for i, it := range items {
		if _, dup := seen[it]; dup {
			v.add(fmt.Sprintf("%s[%d]", field, i), "duplicates an earlier entry")
		}
		seen[it] = struct{}{}
	}
}

func joinQuoted[T ~string](values []T) string {
	parts := make([]string, len(values))
	for i, s := range values {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}
