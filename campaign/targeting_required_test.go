package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// untargetedInput is a valid campaign without targeting rules.
func untargetedInput(name string) campaign.Input {
	in := txInput(name)
	in.TargetingRules = nil
	return in
}

// requireTargetingBlocked asserts err blocks the transition on targetingRules.
func requireTargetingBlocked(t *testing.T, err error) {
	t.Helper()
	var blocked *lifecycle.BlockedError
	require.ErrorAs(t, err, &blocked)
	require.Len(t, blocked.Violations, 1)
	assert.Equal(t, "targetingRules", blocked.Violations[0].Field)
	assert.Contains(t, blocked.Violations[0].Message, "at least one targeting rule is required")
}

func TestActivationRequiresATargetingRule(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		ctx := context.Background()
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{})
		c, err := svc.Create(ctx, alice, untargetedInput("Untargeted"))
		require.NoError(t, err, "a draft may have no rules yet")

		for _, dry := range []bool{true, false} {
			_, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice, DryRun: dry})
			requireTargetingBlocked(t, err)
		}
		got, err := svc.Get(ctx, c.ID())
		require.NoError(t, err)
		assert.Equal(t, lifecycle.StatusDraft, got.Status(), "nothing changed")
		assert.Equal(t, c.Version(), got.Version())
		hist, err := svc.Transitions(ctx, c.ID(), 0, 10)
		require.NoError(t, err)
		assert.Empty(t, hist)
		events, err := svc.Events(ctx, c.ID(), nil, 0, 10)
		require.NoError(t, err)
		require.Len(t, events, 1, "only CampaignCreated")

		// Rules added: it starts. Rules removed while PAUSED: it cannot resume.
		in := txInput("Untargeted")
		c, err = svc.Update(ctx, c.ID(), nil, in)
		require.NoError(t, err)
		_, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
		require.NoError(t, err)
		_, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionPause, Actor: &alice})
		require.NoError(t, err)
		c, err = svc.Update(ctx, c.ID(), nil, untargetedInput("Untargeted"))
		require.NoError(t, err)
		for _, action := range []lifecycle.Action{lifecycle.ActionResume, lifecycle.ActionActivate} {
			_, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: action, Actor: &alice})
			requireTargetingBlocked(t, err)
		}
		got, err = svc.Get(ctx, c.ID())
		require.NoError(t, err)
		assert.Equal(t, lifecycle.StatusPaused, got.Status())
		assert.Equal(t, c.Version(), got.Version())
	})
}

func TestUntargetedCampaignsWhenAllowed(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		ctx := context.Background()
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{AllowUntargeted: true})
		c, err := svc.Create(ctx, alice, untargetedInput("Everyone"))
		require.NoError(t, err)
		res, err := svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
		require.NoError(t, err)
		assert.True(t, res.Applied)
		_, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionPause, Actor: &alice})
		require.NoError(t, err)
		res, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionResume, Actor: &alice})
		require.NoError(t, err)
		assert.Equal(t, lifecycle.StatusActive, res.Campaign.Status())
		got, err := svc.Get(ctx, c.ID())
		require.NoError(t, err)
		assert.Equal(t, lifecycle.StatusActive, got.Status(), "stored")
		assert.WithinDuration(t, time.Now(), got.UpdatedAt(), time.Minute)
	})
}
