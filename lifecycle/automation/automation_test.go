package automation_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
)

// fakeCampaigns is an in-memory campaign store that records the automation's transitions.
type fakeCampaigns struct {
	ended   []automation.Target
	budgets map[uuid.UUID]automation.Budget
	applied []string
	lose    map[uuid.UUID]bool // Apply loses the race for these
}

func (f *fakeCampaigns) Ended(context.Context, int) ([]automation.Target, error) { return f.ended, nil }

func (f *fakeCampaigns) Budgets(_ context.Context, ids []uuid.UUID) ([]automation.Budget, error) {
	var out []automation.Budget
	for _, id := range ids {
		if b, ok := f.budgets[id]; ok {
			out = append(out, b)
		}
	}
	return out, nil
}

func (f *fakeCampaigns) Apply(_ context.Context, t automation.Target, a lifecycle.Action, code lifecycle.StopCode, _ string) error {
	if f.lose[t.ID] {
		return fmt.Errorf("%w: moved on", automation.ErrLost)
	}
	f.applied = append(f.applied, fmt.Sprintf("%s:%s:%s", t.ID.String()[:4], a, code))
	return nil
}

type fakeSpend struct {
	spends []automation.Spend
	asked  []time.Time
}

func (f *fakeSpend) SpendChangedSince(_ context.Context, since time.Time) ([]automation.Spend, time.Time, error) {
	f.asked = append(f.asked, since)
	return f.spends, since.Add(time.Minute), nil
}

func id(prefix string) uuid.UUID { return uuid.MustParse(prefix + "0000-0000-4000-8000-000000000000") }

func TestTick(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hundred := decimal.NewFromInt(100)
	budget := func(p string, st lifecycle.Status, paused bool) automation.Budget {
		return automation.Budget{Target: automation.Target{ID: id(p), Version: 3}, Status: st, Amount: hundred, ThresholdPaused: paused}
	}
	camps := &fakeCampaigns{
		ended: []automation.Target{{ID: id("e001"), Version: 2}, {ID: id("e002"), Version: 5}},
		budgets: map[uuid.UUID]automation.Budget{
			id("b001"): budget("b001", lifecycle.StatusActive, false), // 89.99%: nothing
			id("b002"): budget("b002", lifecycle.StatusActive, false), // 90%: pause
			id("b003"): budget("b003", lifecycle.StatusActive, true),  // 95%, paused before: nothing
			id("b004"): budget("b004", lifecycle.StatusPaused, true),  // 100%: complete
			id("b005"): budget("b005", lifecycle.StatusActive, false), // 250%: complete
			id("b006"): {Target: automation.Target{ID: id("b006")}, Status: lifecycle.StatusActive, Amount: decimal.Zero},
		},
		lose: map[uuid.UUID]bool{id("e002"): true},
	}
	spend := &fakeSpend{spends: []automation.Spend{
		{CampaignID: id("b001"), Amount: decimal.RequireFromString("89.99")},
		{CampaignID: id("b002"), Amount: decimal.RequireFromString("90")},
		{CampaignID: id("b003"), Amount: decimal.RequireFromString("95")},
		{CampaignID: id("b004"), Amount: decimal.RequireFromString("100")},
		{CampaignID: id("b005"), Amount: decimal.RequireFromString("250")},
		{CampaignID: id("b006"), Amount: decimal.RequireFromString("1")},
		{CampaignID: id("b007"), Amount: decimal.RequireFromString("1000")}, // gone: not in Budgets
	}}
	// BatchSize 2: several Budgets calls. The thresholds are the defaults (90% and 100%).
	a := automation.New(camps, automation.Config{BatchSize: 2, Budget: spend, Logger: logger})

	st, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{
		"e001:complete:END_DATE",
		"b002:pause:BUDGET_THRESHOLD",
		"b004:complete:BUDGET_EXHAUSTED",
		"b005:complete:BUDGET_EXHAUSTED",
	}, camps.applied)
	assert.Equal(t, automation.Stats{Completed: 3, Paused: 1, Skipped: 1}, st)

	// The watermark moves on: the next tick asks only for newer spend.
	_, err = a.Tick(context.Background())
	require.NoError(t, err)
	require.Len(t, spend.asked, 2)
	assert.True(t, spend.asked[0].IsZero())
	assert.Equal(t, time.Time{}.Add(time.Minute), spend.asked[1])
}

func TestTickWithoutBudgetSource(t *testing.T) {
	t.Parallel()
	camps := &fakeCampaigns{ended: []automation.Target{{ID: id("e001"), Version: 1}}}
	a := automation.New(camps, automation.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	st, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, automation.Stats{Completed: 1}, st)
}
