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

func (f *fakeCampaigns) Apply(_ context.Context, t automation.Target, m automation.Move) error {
	if f.lose[t.ID] {
		return fmt.Errorf("%w: moved on", automation.ErrLost)
	}
	s := fmt.Sprintf("%s:%s:%s", t.ID.String()[:4], m.Action, m.Code)
	if m.Exceeded != nil {
		s += fmt.Sprintf(":exceeded %s/%s", m.Exceeded.Spend, m.Exceeded.Budget)
	}
	f.applied = append(f.applied, s)
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
	hundred, fifty := decimal.NewFromInt(100), decimal.NewFromInt(50)
	capped := int64(1000)
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
			// At its budget limit (50) well before the 90% threshold: paused for the limit.
			id("b008"): {Target: automation.Target{ID: id("b008"), Version: 1}, Status: lifecycle.StatusActive, Amount: hundred, Limit: &fifty},
			// Just under its limit: nothing.
			id("b009"): {Target: automation.Target{ID: id("b009"), Version: 1}, Status: lifecycle.StatusActive, Amount: hundred, Limit: &fifty},
			// 1000 impressions, its cap: paused for the cap.
			id("c001"): {Target: automation.Target{ID: id("c001"), Version: 1}, Status: lifecycle.StatusActive, Amount: hundred, MaxImpressions: &capped},
			// 999 impressions: nothing.
			id("c002"): {Target: automation.Target{ID: id("c002"), Version: 1}, Status: lifecycle.StatusActive, Amount: hundred, MaxImpressions: &capped},
			// Paused already (by a person): the cap does not pause it again.
			id("c003"): {Target: automation.Target{ID: id("c003"), Version: 1}, Status: lifecycle.StatusPaused, Amount: hundred, MaxImpressions: &capped},
			// Past its budget and its limit and its cap: the budget wins, and says it was exceeded.
			id("c004"): {Target: automation.Target{ID: id("c004"), Version: 1}, Status: lifecycle.StatusActive, Amount: hundred, Limit: &fifty, MaxImpressions: &capped},
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
		{CampaignID: id("b008"), Amount: decimal.RequireFromString("50")},
		{CampaignID: id("b009"), Amount: decimal.RequireFromString("49.99")},
		{CampaignID: id("c001"), Amount: decimal.RequireFromString("1"), Impressions: 1000},
		{CampaignID: id("c002"), Amount: decimal.RequireFromString("1"), Impressions: 999},
		{CampaignID: id("c003"), Amount: decimal.RequireFromString("1"), Impressions: 5000},
		{CampaignID: id("c004"), Amount: decimal.RequireFromString("100.5"), Impressions: 5000},
	}}
	// BatchSize 2: several Budgets calls. The thresholds are the defaults (90% and 100%).
	a := automation.New(camps, automation.Config{BatchSize: 2, Budget: spend, Logger: logger})

	st, err := a.Tick(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{
		"e001:complete:END_DATE",
		"b002:pause:BUDGET_THRESHOLD",
		"b004:complete:BUDGET_EXHAUSTED:exceeded 100/100",
		"b005:complete:BUDGET_EXHAUSTED:exceeded 250/100",
		"b008:pause:BUDGET_LIMIT",
		"c001:pause:CAP_REACHED",
		"c004:complete:BUDGET_EXHAUSTED:exceeded 100.5/100",
	}, camps.applied)
	assert.Equal(t, automation.Stats{Completed: 4, Paused: 3, Skipped: 1}, st)

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

// Run records each finished tick, which the "automation not ticking" alert watches.
func TestRunRecordsTheLastTick(t *testing.T) {
	a := automation.New(&fakeCampaigns{}, automation.Config{})
	assert.True(t, a.LastTick().IsZero(), "no tick yet")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	before := time.Now()
	go func() { a.Run(ctx, time.Hour); close(done) }()
	require.Eventually(t, func() bool { return !a.LastTick().IsZero() }, 5*time.Second, 5*time.Millisecond)
	cancel()
	<-done
	assert.False(t, a.LastTick().Before(before))
}
