package targeting_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/targeting"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

// capEvery is an exposure source in which the customer saw the listed campaigns at at; it
// counts its reads.
type capEvery struct {
	capped map[campaign.ID]bool
	at     time.Time
	reads  int
	asked  int
}

func (f *capEvery) Exposures(_ context.Context, _ string, ids []campaign.ID) (map[campaign.ID]targeting.Exposure, error) {
	f.reads++
	f.asked += len(ids)
	out := map[campaign.ID]targeting.Exposure{}
	for _, id := range ids {
		if f.capped[id] {
			out[id] = targeting.Exposure{Impressions: 1, Last: f.at}
		}
	}
	return out, nil
}

func codes(rs []targeting.Reason) []targeting.ReasonCode {
	out := make([]targeting.ReasonCode, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}

// Explain reports, for every campaign considered and not served, every reason, typed; without
// explain the held-back campaigns are not sent to the engine.
func TestExplainGivesEveryReason(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	vip := campaign.RuleID(e.AddRule("ACTIVE", enginetest.PromotionDSL))
	es := campaign.RuleID(e.AddRule("ACTIVE", enginetest.BigOrderDSL))
	// Sunday 2026-11-29 08:52 in Madrid.
	now := time.Date(2026, 11, 29, 7, 52, 0, 0, time.UTC)
	madridSunday3to4 := []campaign.SchedulingRule{{Days: []string{"SUN"}, Start: "03:00", End: "04:00", Timezone: "Europe/Madrid"}}
	cap100 := int64(100)
	limit := campaign.MustMoney("50.00", "EUR")

	mk := func(name string, edit func(p *campaign.RehydrateParams), rules ...campaign.RuleID) *campaign.View {
		p := campaign.RehydrateParams{
			ID: campaign.NewID(), Name: name, Status: lifecycle.StatusActive, StartDate: now.Add(-time.Hour),
			TargetingRules: rules, Budget: campaign.MustMoney("100.00", "EUR"),
			Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
		}
		if edit != nil {
			edit(&p)
		}
		return stored(p)
	}
	none := func(*campaign.RehydrateParams) {}
	ok := mk("ok", none, vip)
	outOfSchedule := mk("out of schedule", func(p *campaign.RehydrateParams) { p.Settings.SchedulingRules = madridSunday3to4 }, vip)
	capReached := mk("cap reached", func(p *campaign.RehydrateParams) { p.Settings.MaxImpressions = &cap100 }, vip).
		WithDelivered(lifecycle.Delivered{Impressions: 100})
	budget := mk("budget limit", func(p *campaign.RehydrateParams) { p.Settings.BudgetLimit = &limit }, vip).
		WithDelivered(lifecycle.Delivered{Spend: decimal.RequireFromString("50")})
	once := func(p *campaign.RehydrateParams) { p.Settings.Frequency = campaign.FrequencyOnce }
	frequency := mk("frequency", once, vip)
	ruleNotMet := mk("rule not met", none, vip, es)
	pending := mk("pending", func(p *campaign.RehydrateParams) { p.StartDate = now.Add(time.Hour) }, vip)
	everything := mk("everything", func(p *campaign.RehydrateParams) {
		p.Settings.SchedulingRules, p.Settings.MaxImpressions = madridSunday3to4, &cap100
		p.Settings.Frequency = campaign.FrequencyOnce
	}, es).WithDelivered(lifecycle.Delivered{Impressions: 500})
	m := &memCampaigns{all: []*campaign.View{ok, outOfSchedule, capReached, budget, frequency, ruleNotMet, pending, everything}}
	freq := &capEvery{capped: map[campaign.ID]bool{frequency.ID(): true, everything.ID(): true}, at: now}
	client := targeting.NewClient(targeting.Config{URL: e.URL, BreakerFailures: 1000})
	ev := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Rules: client, Concurrency: 4,
		Now: func() time.Time { return now }, Exposures: freq})
	req := targeting.Request{CustomerID: "c-1", Context: json.RawMessage(`{"order_amount": 150}`)}

	got, err := ev.EligibleCampaigns(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, got.Eligible, 1)
	assert.Equal(t, "ok", got.Eligible[0].Name)
	assert.Empty(t, got.Undetermined)
	assert.Empty(t, got.NotServed, "only explain lists them")
	assert.EqualValues(t, 2, e.Evaluations.Load(), "held-back campaigns' rules are not evaluated: vip once, es for the rule-not-met one")
	assert.Equal(t, 1, freq.reads, "one frequency read for every campaign")

	req.Explain = true
	got, err = ev.EligibleCampaigns(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, got.Eligible, 1)
	why := map[string][]targeting.ReasonCode{}
	for _, v := range got.NotServed {
		why[v.Name] = codes(v.Why)
	}
	assert.Equal(t, map[string][]targeting.ReasonCode{
		"out of schedule": {targeting.ReasonOutOfSchedule},
		"cap reached":     {targeting.ReasonCapReached},
		"budget limit":    {targeting.ReasonBudget},
		"frequency":       {targeting.ReasonFrequencyCap},
		"rule not met":    {targeting.ReasonRuleNotMet},
		"pending":         {targeting.ReasonNotServingStatus},
		"everything":      {targeting.ReasonCapReached, targeting.ReasonOutOfSchedule, targeting.ReasonFrequencyCap, targeting.ReasonRuleNotMet},
	}, why)
	for _, v := range got.NotServed {
		for _, r := range v.Why {
			assert.NotEmpty(t, r.Detail)
			if r.Code == targeting.ReasonRuleNotMet {
				require.NotNil(t, r.RuleID)
				assert.Equal(t, uuidOf(es), *r.RuleID)
			}
		}
	}

	// The engine fails: the rule-bound verdicts become UNDETERMINED with the rule and why.
	e.Failures.Store(1000)
	one, err := ev.Campaign(context.Background(), ok.ID(), targeting.Request{CustomerID: "c-2", Context: json.RawMessage(`{"order_amount": 150}`), Explain: true})
	require.NoError(t, err)
	assert.True(t, one.Undetermined)
	require.Equal(t, []targeting.ReasonCode{targeting.ReasonUndetermined}, codes(one.Why))
	assert.Contains(t, one.Why[0].Detail, "unavailable")
	// Held back by something definite as well: a verdict (not undetermined), whose why still
	// names the rule that could not be evaluated.
	both, err := ev.Campaign(context.Background(), outOfSchedule.ID(), targeting.Request{CustomerID: "c-2", Context: json.RawMessage(`{"order_amount": 150}`), Explain: true})
	require.NoError(t, err)
	assert.False(t, both.Undetermined, "out of schedule whatever the rule says")
	assert.Equal(t, []targeting.ReasonCode{targeting.ReasonOutOfSchedule, targeting.ReasonUndetermined}, codes(both.Why))

	// Switched off, only status, dates and rules decide.
	e.Failures.Store(0)
	off := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Rules: client, Concurrency: 4,
		Now: func() time.Time { return now }, Exposures: freq, SkipDeliveryChecks: true})
	got, err = off.EligibleCampaigns(context.Background(), targeting.Request{CustomerID: "c-3", Context: json.RawMessage(`{"order_amount": 150}`)})
	require.NoError(t, err)
	assert.Len(t, got.Eligible, 5, "ok, out of schedule, cap reached, budget limit, frequency")
}

func uuidOf(id campaign.RuleID) string { return campaign.ID(id).String() }
