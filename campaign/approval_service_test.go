package campaign_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

func approvalInput(name string, at time.Time, budget string) campaign.Input {
	in := campaigntest.GoldenInput()
	in.Name, in.StartDate, in.EndDate = name, at.Add(time.Hour), nil
	in.Budget = campaign.MustMoney(budget, "EUR")
	return in
}

// The approval record survives the store on both databases, and the threshold is judged when
// each thing happens: the same stored campaign is NOT_REQUIRED under one configuration and
// REQUIRED under another, and an approval given under one stands under the next.
func TestApprovalIsStoredAndJudgedNow(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		db := dbtest.Open(t, target, sets...)
		clock := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		now := func() time.Time { return clock }
		none := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{Now: now})
		th, err := campaign.NewApprovalThresholds(map[string]string{"EUR": "20000.00"})
		require.NoError(t, err)
		strict := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{Now: now, ApprovalThresholds: th})
		ctx := context.Background()

		c, err := none.Create(ctx, alice, approvalInput("Judged now", clock, "25000"))
		require.NoError(t, err)
		assert.Equal(t, campaign.ApprovalNotRequired, c.ApprovalStatus())
		got, err := strict.Get(ctx, c.ID())
		require.NoError(t, err)
		assert.Equal(t, campaign.ApprovalRequired, got.ApprovalStatus(), "a threshold configured later applies")
		_, err = strict.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice, DryRun: true})
		var blocked *lifecycle.BlockedError
		require.ErrorAs(t, err, &blocked)
		assert.Equal(t, "approval", blocked.Violations[0].Field)

		_, err = strict.SubmitForApproval(ctx, c.ID(), campaign.ApprovalRequest{Actor: alice})
		require.NoError(t, err)
		clock = clock.Add(time.Minute)
		v := int64(2)
		_, err = strict.Approve(ctx, c.ID(), campaign.ApprovalRequest{Actor: bob, ExpectedVersion: &v})
		require.NoError(t, err)

		got, err = none.Get(ctx, c.ID())
		require.NoError(t, err)
		a := got.Approval()
		assert.Equal(t, campaign.ApprovalApproved, a.Status, "stored, whatever the thresholds")
		assert.Equal(t, alice, *a.SubmittedBy)
		assert.Equal(t, bob, *a.DecidedBy)
		assert.Equal(t, clock, *a.DecidedAt)
		assert.Equal(t, clock.Add(-time.Minute), *a.SubmittedAt)
		assert.Equal(t, int64(3), got.Version())

		res, err := strict.Transition(ctx, c.ID(), campaign.TransitionRequest{Action: lifecycle.ActionActivate, Actor: &alice})
		require.NoError(t, err)
		assert.Equal(t, lifecycle.StatusActive, res.Campaign.Status())

		page, _, err := strict.List(ctx, campaign.Filter{Approval: []campaign.ApprovalStatus{campaign.ApprovalApproved}})
		require.NoError(t, err)
		require.Len(t, page, 1)
		assert.Equal(t, c.ID(), page[0].ID())
		page, _, err = none.List(ctx, campaign.Filter{Approval: []campaign.ApprovalStatus{campaign.ApprovalRequired}})
		require.NoError(t, err)
		assert.Empty(t, page)

		// The history has the steps, with their actors, in version order.
		recs, err := strict.Transitions(ctx, c.ID(), 0, 10)
		require.NoError(t, err)
		require.Len(t, recs, 3)
		assert.Equal(t, []lifecycle.Action{campaign.ActionSubmitForApproval, campaign.ActionApprove, lifecycle.ActionActivate},
			[]lifecycle.Action{recs[0].Action, recs[1].Action, recs[2].Action})
		assert.Equal(t, uuid.UUID(bob), *recs[1].Actor)
	})
}

// The SQL filter judges REQUIRED and NOT_REQUIRED exactly as the aggregate does, boundaries
// included, on both databases.
func TestApprovalFilterMatchesTheAggregate(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		db := dbtest.Open(t, target, sets...)
		clock := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		th, err := campaign.NewApprovalThresholds(map[string]string{"EUR": "99999999999.99", "JPY": "500", "BHD": "1.001"})
		require.NoError(t, err)
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{Now: func() time.Time { return clock }, ApprovalThresholds: th})
		ctx := context.Background()
		budgets := []campaign.Money{
			campaign.MustMoney("99999999999.99", "EUR"), campaign.MustMoney("100000000000.00", "EUR"),
			campaign.MustMoney("99999999999.98", "EUR"), campaign.MustMoney("999999999999999.99", "EUR"),
			campaign.MustMoney("500", "JPY"), campaign.MustMoney("501", "JPY"),
			campaign.MustMoney("1.001", "BHD"), campaign.MustMoney("1.002", "BHD"), campaign.MustMoney("1.000", "BHD"),
			// USD has no threshold of its own: zero applies, so both need approval.
			campaign.MustMoney("100000000000.00", "USD"), campaign.MustMoney("0.01", "USD"),
		}
		want := map[campaign.ApprovalStatus][]campaign.ID{}
		for i, b := range budgets {
			in := approvalInput("Boundary "+b.String(), clock, "1")
			in.Budget = b
			in.Settings.BudgetLimit = nil
			c, err := svc.Create(ctx, alice, in)
			require.NoError(t, err, i)
			want[c.ApprovalStatus()] = append(want[c.ApprovalStatus()], c.ID())
		}
		assert.Len(t, want[campaign.ApprovalRequired], 6)
		for _, st := range []campaign.ApprovalStatus{campaign.ApprovalRequired, campaign.ApprovalNotRequired} {
			page, _, err := svc.List(ctx, campaign.Filter{Approval: []campaign.ApprovalStatus{st}, Limit: 100})
			require.NoError(t, err)
			var got []campaign.ID
			for _, c := range page {
				got = append(got, c.ID())
			}
			assert.ElementsMatch(t, want[st], got, st)
		}
	})
}

// Approve races an edit that voids the request: exactly one wins, and the campaign is never
// APPROVED with a budget nobody approved.
func TestApproveRacesAVoidingEdit(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		db := dbtest.Open(t, target, sets...)
		clock := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		th, err := campaign.NewApprovalThresholds(map[string]string{"EUR": "20000"})
		require.NoError(t, err)
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{Now: func() time.Time { return clock }, ApprovalThresholds: th})
		ctx := audit.WithActor(context.Background(), uuid.UUID(alice))
		for i := range 8 {
			in := approvalInput("Race "+uuid.NewString()[:8], clock, "25000")
			c, err := svc.Create(ctx, alice, in)
			require.NoError(t, err)
			_, err = svc.SubmitForApproval(ctx, c.ID(), campaign.ApprovalRequest{Actor: alice})
			require.NoError(t, err)
			edited := in
			edited.Budget = campaign.MustMoney("30000", "EUR")
			var wg sync.WaitGroup
			var approveErr, editErr error
			wg.Go(func() { _, approveErr = svc.Approve(ctx, c.ID(), campaign.ApprovalRequest{Actor: bob}) })
			wg.Go(func() { _, editErr = svc.Update(ctx, c.ID(), nil, edited) })
			wg.Wait()
			require.NoError(t, editErr, i)
			got, err := svc.Get(ctx, c.ID())
			require.NoError(t, err)
			assert.Equal(t, "30000.00 EUR", got.Budget().String())
			if approveErr == nil {
				// Approved first, then voided by the edit.
				assert.Equal(t, campaign.ApprovalRequired, got.ApprovalStatus(), i)
			} else {
				var aerr *campaign.ApprovalStateError
				require.ErrorAs(t, approveErr, &aerr, i)
				assert.Equal(t, campaign.ApprovalRequired, got.ApprovalStatus(), i)
			}
		}
	})
}

// The approval steps in a host's transaction land with it or not at all, and are announced
// only once committed.
func TestApprovalStepsInTx(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		var ann announcements
		cfg := ann.config()
		th, err := campaign.NewApprovalThresholds(map[string]string{"EUR": "20000"})
		require.NoError(t, err)
		cfg.ApprovalThresholds = th
		svc := campaign.NewService(bunstore.New(db), cfg)
		ctx := context.Background()
		c, err := svc.Create(ctx, alice, approvalInput("In a host's transaction", time.Now().UTC(), "25000"))
		require.NoError(t, err)
		_, before := ann.get()

		for _, commit := range []bool{false, true} {
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			w := svc.InTx(bunstore.New(tx))
			_, err = w.SubmitForApproval(ctx, c.ID(), campaign.ApprovalRequest{Actor: alice})
			require.NoError(t, err)
			_, err = w.Approve(ctx, c.ID(), campaign.ApprovalRequest{Actor: alice})
			require.ErrorIs(t, err, campaign.ErrSelfApproval)
			got, err := w.Reject(ctx, c.ID(), campaign.ApprovalRequest{Actor: bob, Reason: "not this quarter"})
			require.NoError(t, err, "a failed step is undone in its savepoint; the transaction goes on")
			assert.Equal(t, campaign.ApprovalRejected, got.ApprovalStatus())
			if commit {
				require.NoError(t, tx.Commit())
			} else {
				require.NoError(t, tx.Rollback())
			}
			require.NoError(t, w.Committed(ctx))
			stored, err := svc.Get(ctx, c.ID())
			require.NoError(t, err)
			_, observed := ann.get()
			if !commit {
				assert.Equal(t, campaign.ApprovalRequired, stored.ApprovalStatus(), "rolled back")
				assert.Equal(t, before, observed)
				continue
			}
			assert.Equal(t, campaign.ApprovalRejected, stored.ApprovalStatus())
			assert.Equal(t, "not this quarter", stored.Approval().Reason)
			assert.Equal(t, append(before, campaign.EventSubmittedForApproval, campaign.EventRejected), observed)
		}
	})
}
