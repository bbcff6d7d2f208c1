package campaign_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// The event observer (metrics) learns each committed event's type, and nothing of a change
// that did not commit.
func TestEventObserverSeesCommittedEventsOnly(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		var mu sync.Mutex
		var seen []string
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{ObserveEvent: func(typ string) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, typ)
		}})
		ctx := context.Background()
		in := func(name string) campaign.Input {
			f := campaigntest.Fixture(name, time.Now().Add(time.Hour).UTC().Truncate(time.Second))
			return campaign.Input{Name: f.Name(), Description: f.Description(), Type: f.Type(), TargetingRules: f.TargetingRules(), StartDate: f.StartDate(),
				EndDate: f.EndDate(), Budget: f.Budget(), Settings: campaign.Settings{Channels: f.Settings().Channels}}
		}
		c, err := svc.Create(ctx, alice, in("Observed"))
		require.NoError(t, err)
		_, err = svc.Create(ctx, alice, in("observed")) // the name is taken: rolled back
		require.ErrorIs(t, err, campaign.ErrNameTaken)
		_, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
		require.NoError(t, err)
		_, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionPause, Actor: &alice, DryRun: true})
		require.NoError(t, err)
		_, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionCancel, Actor: &alice})
		var blocked *lifecycle.BlockedError
		require.ErrorAs(t, err, &blocked, "cancel needs a reason")
		assert.Equal(t, "reason", blocked.Violations[0].Field)
		_, err = svc.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionPause, Actor: &alice})
		require.NoError(t, err)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{campaign.EventCreated, campaign.EventActivated, campaign.EventPaused}, seen)
	})
}
