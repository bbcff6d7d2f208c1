package campaign

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

var writer = UserID(uuid.MustParse("11111111-1111-4111-8111-111111111111"))

func newDraft(t *testing.T) *Campaign {
	t.Helper()
	c, err := New(NewID(), writer, validInput(), now)
	require.NoError(t, err)
	return c
}

// at returns c as if stored in status s (the store is the only other way to a status).
func at(t *testing.T, c *Campaign, s lifecycle.Status) *Campaign {
	t.Helper()
	p := RehydrateParams{
		ID: c.ID(), Name: c.Name(), Description: c.Description(), Status: s, Type: c.Type(),
		TargetingRules: c.TargetingRules(), StartDate: c.StartDate(), EndDate: c.EndDate(), Budget: c.Budget(),
		CreatedBy: c.CreatedBy(), CreatedAt: c.CreatedAt(), UpdatedAt: c.UpdatedAt(), Settings: c.Settings(),
		Version: c.Version(), TargetingVerified: true,
	}
	out, err := Rehydrate(p)
	require.NoError(t, err)
	return out
}

func TestNewValidatesAndStartsAsDraft(t *testing.T) {
	t.Parallel()
	c := newDraft(t)
	assert.Equal(t, lifecycle.StatusDraft, c.Status())
	assert.Equal(t, int64(1), c.Version())
	assert.Equal(t, writer, c.CreatedBy())
	assert.Equal(t, now, c.CreatedAt())
	assert.False(t, c.TargetingVerified())

	in := validInput()
	in.Name = " x "
	_, err := New(NewID(), writer, in, now)
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	assert.Equal(t, []string{"name"}, fieldsOf(verr.Fields))
}

// What the getters return is a copy: changing it leaves the campaign as it was.
func TestGettersReturnCopies(t *testing.T) {
	t.Parallel()
	c := newDraft(t)
	s := c.Settings()
	s.Channels[0] = ChannelSMS
	s.ABTest.Variants[0].Weight = 99
	*s.BudgetLimit = MustMoney("1", "EUR")
	s.SchedulingRules[0].Days[0] = "SUN"
	s.Personalization.Rules[0] = ruleID(42)
	rules := c.TargetingRules()
	rules[0] = ruleID(42)
	*c.EndDate() = time.Time{}

	again := c.Settings()
	assert.Equal(t, ChannelEmail, again.Channels[0])
	assert.Equal(t, 50, again.ABTest.Variants[0].Weight)
	assert.Equal(t, "5000.00 EUR", again.BudgetLimit.String())
	assert.Equal(t, "MON", again.SchedulingRules[0].Days[0])
	assert.Equal(t, ruleID(3), again.Personalization.Rules[0])
	assert.Equal(t, ruleID(1), c.TargetingRules()[0])
	assert.False(t, c.EndDate().IsZero())

	// Nor does the input the campaign was built from alias it.
	in := validInput()
	c2, err := New(NewID(), writer, in, now)
	require.NoError(t, err)
	in.Settings.Channels[0] = ChannelSMS
	assert.Equal(t, ChannelEmail, c2.Settings().Channels[0])
}

func TestReplaceFollowsTheEditRules(t *testing.T) {
	t.Parallel()
	later := now.Add(time.Hour)
	edited := validInput()
	edited.Description = "edited"
	retargeted := validInput()
	retargeted.TargetingRules = []RuleID{ruleID(9)}

	t.Run("a draft is edited and the change lists what changed", func(t *testing.T) {
		c := newDraft(t)
		ch, err := c.Replace(edited, later)
		require.NoError(t, err)
		assert.Equal(t, "edited", c.Description())
		assert.Equal(t, later, c.UpdatedAt())
		assert.Equal(t, int64(1), c.Version(), "the store counts versions")
		assert.Equal(t, EventUpdated, ch.Event)
		require.IsType(t, UpdatedV1{}, ch.Data)
		assert.Equal(t, []string{"description"}, keys(ch.Data.(UpdatedV1).Changes))
	})
	t.Run("an active campaign refuses new rules", func(t *testing.T) {
		c := at(t, newDraft(t), lifecycle.StatusActive)
		_, err := c.Replace(retargeted, later)
		var locked *TargetingLockedError
		require.ErrorAs(t, err, &locked)
		assert.Equal(t, []string{"targetingRules"}, locked.Fields)
		assert.Equal(t, ruleID(1), c.TargetingRules()[0], "nothing changed")
	})
	t.Run("an active campaign refuses any edit", func(t *testing.T) {
		_, err := at(t, newDraft(t), lifecycle.StatusActive).Replace(edited, later)
		var serr *StateError
		require.ErrorAs(t, err, &serr)
		assert.Equal(t, "update", serr.Op)
	})
	t.Run("new rules on a paused campaign clear the targeting verdict", func(t *testing.T) {
		c := at(t, newDraft(t), lifecycle.StatusPaused)
		require.True(t, c.TargetingVerified())
		_, err := c.Replace(edited, later)
		require.NoError(t, err)
		assert.True(t, c.TargetingVerified(), "same rules: the verdict stands")
		_, err = c.Replace(retargeted, later)
		require.NoError(t, err)
		assert.False(t, c.TargetingVerified())
	})
	t.Run("invalid input changes nothing", func(t *testing.T) {
		c := newDraft(t)
		bad := validInput()
		bad.Budget = MustMoney("0", "EUR")
		_, err := c.Replace(bad, later)
		var verr *ValidationError
		require.ErrorAs(t, err, &verr)
		assert.Equal(t, "10000.00 EUR", c.Budget().String())
	})
}

func TestApplyTransition(t *testing.T) {
	t.Parallel()
	c := newDraft(t)
	activate := lifecycle.ActionActivate
	later := now.Add(time.Minute)
	ch, err := c.ApplyTransition(StatusChange{Action: activate, Actor: &writer, TargetingVerified: true}, later)
	require.NoError(t, err)
	assert.Equal(t, lifecycle.StatusActive, c.Status())
	assert.True(t, c.TargetingVerified())
	assert.Equal(t, EventActivated, ch.Event)
	require.NotNil(t, ch.Transition)
	assert.Equal(t, lifecycle.StatusDraft, ch.Transition.From)
	assert.Equal(t, lifecycle.StatusActive, ch.Transition.To)

	// A decision taken for another status is refused: the status moves only along the table.
	_, err = c.ApplyTransition(StatusChange{Action: activate}, later)
	var forbidden *lifecycle.ForbiddenError
	require.ErrorAs(t, err, &forbidden)
	assert.Equal(t, lifecycle.StatusActive, c.Status())

	// A transition without activation checks keeps the targeting verdict.
	_, err = c.ApplyTransition(StatusChange{Action: lifecycle.ActionPause, Reason: "review"}, later)
	require.NoError(t, err)
	assert.True(t, c.TargetingVerified())
}

func TestMarkDeleted(t *testing.T) {
	t.Parallel()
	_, err := at(t, newDraft(t), lifecycle.StatusActive).MarkDeleted(now)
	var serr *StateError
	require.ErrorAs(t, err, &serr)
	assert.Equal(t, "delete", serr.Op)

	c := newDraft(t)
	ch, err := c.MarkDeleted(now)
	require.NoError(t, err)
	require.NotNil(t, c.DeletedAt())
	assert.Equal(t, DeletedV1{Name: c.Name(), Status: "DRAFT"}, ch.Data)
}

func TestRehydrateRefusesWhatNoCampaignCanBe(t *testing.T) {
	t.Parallel()
	good := RehydrateParams{ID: NewID(), Status: lifecycle.StatusDraft, Type: TypeCoupon, Version: 1}
	_, err := Rehydrate(good)
	require.NoError(t, err)
	for name, mut := range map[string]func(*RehydrateParams){
		"nil id":         func(p *RehydrateParams) { p.ID = ID{} },
		"unknown status": func(p *RehydrateParams) { p.Status = "LIVE" },
		"unknown type":   func(p *RehydrateParams) { p.Type = "" },
		"version 0":      func(p *RehydrateParams) { p.Version = 0 },
	} {
		p := good
		mut(&p)
		_, err := Rehydrate(p)
		assert.ErrorIs(t, err, ErrCorrupt, name)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The A/B test's minimum sample size is a pointer: the copies have their own.
func TestSettingsCopiesOwnTheMinSampleSize(t *testing.T) {
	t.Parallel()
	in := validInput()
	n := int64(500)
	in.Settings.ABTest.MinSampleSize = &n
	c, err := New(NewID(), writer, in, now)
	require.NoError(t, err)
	*c.Settings().ABTest.MinSampleSize = 7
	n = 9
	assert.Equal(t, int64(500), *c.Settings().ABTest.MinSampleSize)
}

// The success metric of an A/B test is registered before the test starts: a paused campaign
// (it has run) keeps it; a draft may still change it, and a test enabled anew may name another.
func TestSuccessMetricIsFixedOnceTheTestStarted(t *testing.T) {
	t.Parallel()
	later := now.Add(time.Hour)
	withTest := func(metric SuccessMetric, enabled bool) Input {
		in := validInput()
		in.Settings.ABTest = &ABTestSettings{Enabled: enabled, SuccessMetric: metric, Variants: []Variant{
			{Key: "A", Name: "Plain", Weight: 50}, {Key: "B", Name: "Bold", Weight: 50}}}
		return in
	}
	started := func(in Input) *Campaign {
		c, err := New(NewID(), writer, in, now)
		require.NoError(t, err)
		return at(t, c, lifecycle.StatusPaused)
	}

	c := started(withTest(SuccessConversionRate, true))
	_, err := c.Replace(withTest(SuccessCTR, true), later)
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Len(t, verr.Fields, 1)
	assert.Equal(t, "settings.abTestSettings.successMetric", verr.Fields[0].Field)
	assert.Contains(t, verr.Fields[0].Message, `"conversionRate"`)
	assert.Equal(t, SuccessConversionRate, c.Settings().ABTest.SuccessMetric, "nothing changed")

	_, err = c.Replace(withTest(SuccessConversionRate, true), later)
	assert.NoError(t, err, "the same metric, other edits: allowed")

	// "" is ctr: naming it explicitly is no change.
	implicit := started(withTest("", true))
	_, err = implicit.Replace(withTest(SuccessCTR, true), later)
	assert.NoError(t, err)

	// A test that was off starts now: it registers its metric.
	off := started(withTest(SuccessCTR, false))
	_, err = off.Replace(withTest(SuccessRevenuePerExposure, true), later)
	assert.NoError(t, err)

	// A draft has not started: free to change.
	draft, err := New(NewID(), writer, withTest(SuccessCTR, true), now)
	require.NoError(t, err)
	_, err = draft.Replace(withTest(SuccessConversionRate, true), later)
	assert.NoError(t, err)
}
