package campaign

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

var (
	manager  = UserID(uuid.MustParse("22222222-2222-4222-8222-222222222222"))
	eurLimit = mustThresholds(map[string]string{"EUR": "9000.00"}) // validInput's budget is 10,000.00 EUR
)

func mustThresholds(raw map[string]string) ApprovalThresholds {
	t, err := NewApprovalThresholds(raw)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNewApprovalThresholds(t *testing.T) {
	t.Parallel()
	got, err := NewApprovalThresholds(map[string]string{"eur": " 10000.00 ", "JPY": "12000"})
	require.NoError(t, err)
	assert.Equal(t, "10000.00 EUR", got["EUR"].String(), "codes are upper-cased: configuration keys arrive lower-cased")
	assert.Equal(t, "12000 JPY", got["JPY"].String())
	none, err := NewApprovalThresholds(nil)
	require.NoError(t, err)
	assert.False(t, none.Requires(MustMoney("1000000", "EUR")))

	for raw, why := range map[string]string{
		"XXY=1":             "ISO 4217",
		"EUR=ten":           "not a decimal",
		"EUR=0":             "positive",
		"EUR=-5":            "positive",
		"EUR=10.001":        "decimals",
		"JPY=1.5":           "decimals",
		"EUR=100000000000":  "below",
		"EUR=1,eur=2":       "twice",
		"EUR=1e3":           "",
		"EUR=99999999999.9": "",
	} {
		m := map[string]string{}
		for pair := range strings.SplitSeq(raw, ",") {
			k, v, _ := strings.Cut(pair, "=")
			m[k] = v
		}
		_, err := NewApprovalThresholds(m)
		if why == "" {
			continue // accepted or not, never a panic; the rules above are the contract
		}
		var terr *ThresholdError
		require.ErrorAs(t, err, &terr, raw)
		assert.Contains(t, terr.Error(), why, raw)
	}
}

// Strictly above: a budget equal to the threshold needs no approval; another currency's
// threshold does not apply, but a currency without one of its own has zero while approval is
// on, so every budget in it needs approval.
func TestThresholdsRequire(t *testing.T) {
	t.Parallel()
	th := mustThresholds(map[string]string{"EUR": "10000", "JPY": "500"})
	assert.False(t, th.Requires(MustMoney("10000.00", "EUR")))
	assert.True(t, th.Requires(MustMoney("10000.01", "EUR")))
	assert.True(t, th.Requires(MustMoney("501", "JPY")))
	assert.True(t, th.Requires(MustMoney("5000000.00", "USD")), "USD has no threshold: zero applies")
	assert.True(t, th.Requires(MustMoney("0.01", "USD")))
	limit, ok := th.For("USD")
	require.True(t, ok)
	assert.Equal(t, "0.00 USD", limit.String())
	assert.False(t, th.Listed("USD"))
	assert.True(t, th.Listed("EUR"))

	var off ApprovalThresholds
	assert.False(t, off.Requires(MustMoney("5000000.00", "USD")), "approval off: nothing needs it")
	_, ok = off.For("USD")
	assert.False(t, ok)
}

// The reproduction: an approved 12,000 EUR campaign switched to 5,000,000 USD, with only EUR
// listed, loses its approval and may not start until it is approved again in USD.
func TestCurrencySwitchNeedsApprovalAgain(t *testing.T) {
	t.Parallel()
	th := mustThresholds(map[string]string{"EUR": "10000.00"})
	c := newDraft(t)
	in := validInput()
	in.Budget = MustMoney("12000.00", "EUR")
	in.Settings.BudgetLimit = nil
	_, err := c.Replace(in, now)
	require.NoError(t, err)
	_, err = c.SubmitForApproval(writer, th, now)
	require.NoError(t, err)
	_, err = c.Approve(manager, th, now)
	require.NoError(t, err)
	require.Nil(t, c.approvalViolation(th))

	in.Budget = MustMoney("5000000.00", "USD")
	ch, err := c.Replace(in, now)
	require.NoError(t, err)
	require.Len(t, ch.Then, 1, "the approval is voided")
	assert.Equal(t, EventApprovalVoided, ch.Then[0].Event)
	assert.Equal(t, ApprovalRequired, c.ApprovalStatusUnder(th))
	v := c.approvalViolation(th)
	require.NotNil(t, v)
	assert.Contains(t, v.Message, "no approval threshold is set for USD")

	sub, err := c.SubmitForApproval(writer, th, now)
	require.NoError(t, err)
	assert.Equal(t, MoneyV1{"0.00", "USD"}, sub.Data.(SubmittedForApprovalV1).Threshold)
	_, err = c.Approve(manager, th, now)
	require.NoError(t, err)
	assert.Nil(t, c.approvalViolation(th))
}

func TestApprovalWorkflow(t *testing.T) {
	t.Parallel()
	c := newDraft(t)
	assert.Equal(t, ApprovalNotRequired, c.ApprovalStatusUnder(nil))
	assert.Equal(t, ApprovalRequired, c.ApprovalStatusUnder(eurLimit))
	require.NotNil(t, c.approvalViolation(eurLimit))
	assert.Equal(t, "approval", c.approvalViolation(eurLimit).Field)
	assert.Nil(t, c.approvalViolation(nil), "no threshold, no gate")

	ch, err := c.SubmitForApproval(writer, eurLimit, now)
	require.NoError(t, err)
	assert.Equal(t, EventSubmittedForApproval, ch.Event)
	assert.Equal(t, SubmittedForApprovalV1{Budget: MoneyV1{"10000.00", "EUR"}, Threshold: MoneyV1{"9000.00", "EUR"}}, ch.Data)
	require.NotNil(t, ch.Transition)
	assert.Equal(t, ActionSubmitForApproval, ch.Transition.Action)
	assert.Equal(t, lifecycle.StatusDraft, ch.Transition.From)
	assert.Equal(t, lifecycle.StatusDraft, ch.Transition.To)
	assert.Equal(t, ApprovalPending, c.ApprovalStatusUnder(nil), "a stored status does not depend on thresholds")
	assert.Equal(t, writer, *c.Approval().SubmittedBy)
	require.NotNil(t, c.approvalViolation(eurLimit), "pending is not approved")

	var serr *ApprovalStateError
	_, err = c.SubmitForApproval(writer, eurLimit, now)
	require.ErrorAs(t, err, &serr)
	assert.Equal(t, ApprovalPending, serr.Status)

	_, err = c.Approve(writer, eurLimit, now)
	assert.ErrorIs(t, err, ErrSelfApproval, "the author cannot approve")
	_, err = c.Reject(writer, "no thanks", eurLimit, now)
	assert.ErrorIs(t, err, ErrSelfApproval, "nor reject")

	later := now.Add(time.Hour)
	ch, err = c.Reject(manager, "  split it by channel ", eurLimit, later)
	require.NoError(t, err)
	assert.Equal(t, EventRejected, ch.Event)
	d := ch.Data.(ApprovalDecisionV1)
	assert.Equal(t, "REJECTED", d.Decision)
	assert.Equal(t, "split it by channel", d.Reason)
	assert.Equal(t, "split it by channel", ch.Transition.Reason)
	assert.Equal(t, uuid.UUID(writer), *d.SubmittedBy)
	assert.Equal(t, ApprovalRejected, c.ApprovalStatusUnder(eurLimit))
	assert.Contains(t, c.approvalViolation(eurLimit).Message, "rejected")

	// Edited, a rejected campaign stays rejected, and is submitted again.
	in := validInput()
	in.Budget = MustMoney("9500.00", "EUR")
	ch, err = c.Replace(in, later)
	require.NoError(t, err)
	assert.Empty(t, ch.Then, "nothing to void")
	assert.Nil(t, ch.Transition)
	assert.Equal(t, ApprovalRejected, c.ApprovalStatusUnder(eurLimit))
	ch, err = c.SubmitForApproval(writer, eurLimit, later)
	require.NoError(t, err)
	assert.True(t, ch.Data.(SubmittedForApprovalV1).Resubmission)
	assert.Nil(t, c.Approval().DecidedBy, "the decision of the earlier request is gone")
	assert.Empty(t, c.Approval().Reason)

	_, err = c.Approve(manager, nil, later)
	require.NoError(t, err, "an approval stands even when no threshold is set any more")
	assert.Equal(t, ApprovalApproved, c.ApprovalStatusUnder(eurLimit))
	assert.Nil(t, c.approvalViolation(eurLimit))
	_, err = c.Approve(manager, eurLimit, later)
	require.ErrorAs(t, err, &serr)
	assert.Equal(t, ApprovalApproved, serr.Status)
}

func TestRejectNeedsAReason(t *testing.T) {
	t.Parallel()
	for _, reason := range []string{"", "  no  ", "a\x00bc", strings.Repeat("x", MaxRejectReasonLen+1)} {
		c := newDraft(t)
		_, err := c.SubmitForApproval(writer, eurLimit, now)
		require.NoError(t, err)
		_, err = c.Reject(manager, reason, eurLimit, now)
		var verr *ValidationError
		require.ErrorAs(t, err, &verr, "%q", reason)
		assert.Equal(t, []string{"reason"}, fieldsOf(verr.Fields))
		assert.Equal(t, ApprovalPending, c.ApprovalStatusUnder(eurLimit), "nothing changed")
	}
}

func TestSubmitNeedsAnEditableCampaignAboveItsThreshold(t *testing.T) {
	t.Parallel()
	var aerr *ApprovalStateError
	_, err := newDraft(t).SubmitForApproval(writer, nil, now)
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, ApprovalNotRequired, aerr.Status)
	assert.Contains(t, aerr.Error(), "approval is off")
	_, err = newDraft(t).SubmitForApproval(writer, mustThresholds(map[string]string{"EUR": "10000"}), now)
	require.ErrorAs(t, err, &aerr)
	assert.Contains(t, aerr.Error(), "not above")

	for _, s := range []lifecycle.Status{lifecycle.StatusActive, lifecycle.StatusCompleted, lifecycle.StatusCancelled} {
		var serr *StateError
		_, err := at(t, newDraft(t), s).SubmitForApproval(writer, eurLimit, now)
		require.ErrorAs(t, err, &serr, s)
	}
	_, err = at(t, newDraft(t), lifecycle.StatusPaused).SubmitForApproval(writer, eurLimit, now)
	assert.NoError(t, err, "a paused campaign may be submitted (to resume after an edit)")
}

// A change of anything the campaign serves voids a pending or standing approval; a new name
// or description keeps it.
func TestEditsVoidTheApproval(t *testing.T) {
	t.Parallel()
	edits := map[string]func(*Input){
		"budget":                   func(in *Input) { in.Budget = MustMoney("10000.01", "EUR") },
		"startDate":                func(in *Input) { in.StartDate = in.StartDate.Add(time.Hour) },
		"endDate":                  func(in *Input) { in.EndDate = nil },
		"type":                     func(in *Input) { in.Type = TypeLoyalty },
		"targetingRules":           func(in *Input) { in.TargetingRules = []RuleID{ruleID(9)} },
		"settings.targetAudience":  func(in *Input) { in.Settings.TargetAudience = []string{"vip"} },
		"settings.channels":        func(in *Input) { in.Settings.Channels = []Channel{ChannelSMS} },
		"settings.frequency":       func(in *Input) { in.Settings.Frequency = FrequencyWeekly },
		"settings.maxImpressions":  func(in *Input) { in.Settings.MaxImpressions = ptr(int64(200000)) },
		"settings.budgetLimit":     func(in *Input) { in.Settings.BudgetLimit = nil },
		"settings.abTestSettings":  func(in *Input) { in.Settings.ABTest = nil },
		"settings.schedulingRules": func(in *Input) { in.Settings.SchedulingRules[0].End = "18:00" },
		"settings.personalization": func(in *Input) { in.Settings.Personalization = Personalization{} },
		"settings.pacing": func(in *Input) {
			in.Settings.Pacing = &Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodFlight}
		},
		"": func(in *Input) { in.Name, in.Description = "Renamed sale", "reworded" },
	}
	for field, edit := range edits {
		for _, approve := range []bool{false, true} {
			c := newDraft(t)
			_, err := c.SubmitForApproval(writer, eurLimit, now)
			require.NoError(t, err)
			want := ApprovalPending
			if approve {
				_, err = c.Approve(manager, eurLimit, now)
				require.NoError(t, err)
				want = ApprovalApproved
			}
			in := validInput()
			edit(&in)
			ch, err := c.Replace(in, now.Add(time.Minute))
			require.NoError(t, err)
			assert.Equal(t, EventUpdated, ch.Event)
			if field == "" {
				assert.Equal(t, want, c.ApprovalStatusUnder(eurLimit), "other edits keep it")
				assert.Empty(t, ch.Then)
				continue
			}
			assert.Equal(t, ApprovalRequired, c.ApprovalStatusUnder(eurLimit), field)
			assert.Equal(t, Approval{}, c.Approval(), field)
			require.Len(t, ch.Then, 1, field)
			assert.Equal(t, EventApprovalVoided, ch.Then[0].Event)
			v := ch.Then[0].Data.(ApprovalVoidedV1)
			assert.Equal(t, string(want), v.VoidedStatus)
			assert.Equal(t, []string{field}, v.ChangedFields)
			require.NotNil(t, ch.Transition, field)
			assert.Equal(t, ActionVoidApproval, ch.Transition.Action)
			assert.Contains(t, ch.Transition.Reason, field)
		}
	}
}

func TestDecisionsNeedAPendingLiveCampaign(t *testing.T) {
	t.Parallel()
	var aerr *ApprovalStateError
	_, err := newDraft(t).Approve(manager, eurLimit, now)
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, ApprovalRequired, aerr.Status)

	c := newDraft(t)
	_, err = c.SubmitForApproval(writer, eurLimit, now)
	require.NoError(t, err)
	p := RehydrateParams{ID: c.ID(), Name: c.Name(), Status: lifecycle.StatusCancelled, Type: c.Type(),
		StartDate: c.StartDate(), Budget: c.Budget(), CreatedBy: c.CreatedBy(), Version: 3, Approval: c.Approval()}
	cancelled, err := Rehydrate(p)
	require.NoError(t, err)
	var serr *StateError
	_, err = cancelled.Approve(manager, eurLimit, now)
	require.ErrorAs(t, err, &serr)

	p.Approval.Status = "MAYBE"
	_, err = Rehydrate(p)
	require.ErrorIs(t, err, ErrCorrupt)
	p.Approval.Status = ApprovalRequired // derived, never stored
	_, err = Rehydrate(p)
	require.ErrorIs(t, err, ErrCorrupt)
}

// The approval record is a copy: changing what Approval returns changes nothing.
func TestApprovalGetterReturnsACopy(t *testing.T) {
	t.Parallel()
	c := newDraft(t)
	_, err := c.SubmitForApproval(writer, eurLimit, now)
	require.NoError(t, err)
	a := c.Approval()
	*a.SubmittedBy = manager
	*a.SubmittedAt = time.Time{}
	assert.Equal(t, writer, *c.Approval().SubmittedBy)
	assert.Equal(t, now, *c.Approval().SubmittedAt)
}

func FuzzNewApprovalThresholds(f *testing.F) {
	for _, s := range []string{"10000.00", "0", "-1", "1e3", "99999999999.99", "1.001", "", " 5 ", "NaN"} {
		f.Add("EUR", s)
		f.Add("jpy", s)
	}
	f.Fuzz(func(t *testing.T, code, amount string) {
		th, err := NewApprovalThresholds(map[string]string{code: amount})
		if err != nil {
			var terr *ThresholdError
			require.ErrorAs(t, err, &terr)
			return
		}
		for cur, m := range th {
			require.Equal(t, cur, m.Currency)
			require.True(t, m.Amount.IsPositive())
			require.True(t, m.Amount.LessThan(MaxApprovalThreshold))
			require.NoError(t, m.check())
		}
	})
}

// A campaign that ends while pending leaves no approver's queue; an approval given stays on
// record.
func TestEndingWithdrawsAPendingRequest(t *testing.T) {
	t.Parallel()
	c := newDraft(t)
	_, err := c.SubmitForApproval(writer, eurLimit, now)
	require.NoError(t, err)
	tr := lifecycle.ActionCancel
	ch, err := c.ApplyTransition(StatusChange{Action: tr, Reason: "budget withdrawn", Actor: &writer}, now)
	require.NoError(t, err)
	assert.Equal(t, EventCancelled, ch.Event)
	require.Len(t, ch.Then, 1)
	assert.Equal(t, EventApprovalVoided, ch.Then[0].Event)
	assert.Equal(t, []string{"status"}, ch.Then[0].Data.(ApprovalVoidedV1).ChangedFields)
	assert.Equal(t, ApprovalRequired, c.ApprovalStatusUnder(eurLimit))

	c = newDraft(t)
	_, err = c.SubmitForApproval(writer, eurLimit, now)
	require.NoError(t, err)
	_, err = c.Approve(manager, eurLimit, now)
	require.NoError(t, err)
	ch, err = c.ApplyTransition(StatusChange{Action: tr, Reason: "budget withdrawn", Actor: &writer}, now)
	require.NoError(t, err)
	assert.Empty(t, ch.Then)
	assert.Equal(t, ApprovalApproved, c.ApprovalStatusUnder(eurLimit))
}

// Who submitted a request cannot decide it, even when they are not the campaign's author: a
// manager who edits a colleague's campaign (voiding its approval) and submits it needs another
// manager's decision.
func TestSubmitterCannotDecideTheirApprovalRequest(t *testing.T) {
	t.Parallel()
	c := newDraft(t) // written by writer
	_, err := c.SubmitForApproval(manager, eurLimit, now)
	require.NoError(t, err)
	_, err = c.Approve(manager, eurLimit, now)
	require.ErrorIs(t, err, ErrSubmitterApproval)
	_, err = c.Reject(manager, "changed my mind", eurLimit, now)
	require.ErrorIs(t, err, ErrSubmitterApproval)
	assert.Equal(t, ApprovalPending, c.ApprovalStatusUnder(eurLimit), "nothing changed")
	_, err = c.Approve(writer, eurLimit, now)
	require.ErrorIs(t, err, ErrSelfApproval, "the author still cannot")

	third := UserID(uuid.MustParse("33333333-3333-4333-8333-333333333333"))
	_, err = c.Approve(third, eurLimit, now)
	require.NoError(t, err)
	assert.Equal(t, ApprovalApproved, c.ApprovalStatusUnder(eurLimit))
}
