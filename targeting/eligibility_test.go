package targeting_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/targeting"
	"github.com/engine-rules-sp/campaigns/targeting/enginetest"
)

func serving(name string, rules ...campaign.RuleID) *campaign.View {
	return stored(campaign.RehydrateParams{
		ID: campaign.NewID(), Name: name, Status: lifecycle.StatusActive, StartDate: time.Now().Add(-time.Hour),
		TargetingRules: rules, Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
	})
}

// stored is a campaign as the campaign service returns it: typed, versioned.
func stored(p campaign.RehydrateParams) *campaign.View {
	p.Type, p.Version = campaign.TypePromotion, 1
	c, err := campaign.Rehydrate(p)
	if err != nil {
		panic(err)
	}
	return campaign.NewView(c, lifecycle.Delivered{})
}

func TestEvaluationIsBoundedAndShared(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	e.Delay.Store(int64(5 * time.Millisecond)) // so that evaluations overlap
	shared := campaign.RuleID(e.AddRule("ACTIVE", enginetest.PromotionDSL))
	m := &memCampaigns{}
	for i := range 40 {
		m.all = append(m.all, serving(fmt.Sprintf("c%d", i), shared, campaign.RuleID(e.AddRule("ACTIVE", enginetest.AnyOrderDSL))))
	}
	client := targeting.NewClient(targeting.Config{URL: e.URL, BreakerFailures: 1000})
	ev := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Rules: client, Concurrency: 4})
	got, err := ev.EligibleCampaigns(context.Background(), targeting.Request{CustomerID: "c-1",
		Context: json.RawMessage(`{"order_amount": 150}`)})
	require.NoError(t, err)
	assert.Len(t, got.Eligible, 40)
	assert.EqualValues(t, 41, e.Evaluations.Load(), "the shared rule is evaluated once per request")
	assert.LessOrEqual(t, e.MaxInFlight.Load(), int64(4), "never more than the bound at once")
	assert.Greater(t, e.MaxInFlight.Load(), int64(1), "but concurrently")
}

func TestEvaluationFailsClosed(t *testing.T) {
	t.Parallel()
	e := enginetest.New(t)
	vip := campaign.RuleID(e.AddRule("ACTIVE", enginetest.PromotionDSL))
	inactive := campaign.RuleID(e.AddRule("INACTIVE", enginetest.PromotionDSL))
	m := &memCampaigns{all: []*campaign.View{serving("ok", vip), serving("inactive", vip, inactive)}}
	client := targeting.NewClient(targeting.Config{URL: e.URL, CacheTTL: time.Minute, BreakerFailures: 1000})
	ev := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Rules: client, Concurrency: 8})
	req := targeting.Request{CustomerID: "c-1", Context: json.RawMessage(`{"order_amount": 150}`)}

	got, err := ev.EligibleCampaigns(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, got.Eligible, 1)
	assert.Equal(t, "ok", got.Eligible[0].Name)
	assert.Empty(t, got.Undetermined, "an INACTIVE rule is a verdict, not a failure")

	e.Failures.Store(1000) // evaluations fail; rule metadata comes from the cache
	got, err = ev.EligibleCampaigns(context.Background(), req)
	require.NoError(t, err)
	assert.Empty(t, got.Eligible, "fail closed")
	require.Len(t, got.Undetermined, 1, "the other one is ineligible whatever the engine says")
	assert.Equal(t, "ok", got.Undetermined[0].Name)
	assert.Contains(t, got.Undetermined[0].Reasons[0], "the Rules Engine is unavailable")

	v, err := ev.Campaign(context.Background(), m.all[1].ID(), req)
	require.NoError(t, err)
	assert.False(t, v.Eligible)
	assert.False(t, v.Undetermined)

	noEngine := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Concurrency: 8})
	got, err = noEngine.EligibleCampaigns(context.Background(), req)
	require.NoError(t, err)
	assert.Empty(t, got.Eligible)
	assert.Len(t, got.Undetermined, 2)
	assert.Contains(t, got.Undetermined[0].Reasons[0], "no Rules Engine is configured")
}
