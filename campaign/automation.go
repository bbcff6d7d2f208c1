package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
	"github.com/engine-rules-sp/campaigns/lifecycle/history"
)

// The Service is the automation's view of campaigns.
var _ automation.Campaigns = (*Service)(nil)

// Ended lists ACTIVE or PAUSED campaigns past their end date (automation.Campaigns).
func (s *Service) Ended(ctx context.Context, limit int) ([]automation.Target, error) {
	due, err := s.repo.EndedBy(ctx, s.clock(), limit)
	if err != nil {
		return nil, err
	}
	out := make([]automation.Target, len(due))
	for i, d := range due {
		out[i] = automation.Target{ID: uuid.UUID(d.ID), Version: d.Version}
	}
	return out, nil
}

// Budgets returns the live ACTIVE or PAUSED campaigns among ids with their budgets
// (automation.Campaigns).
func (s *Service) Budgets(ctx context.Context, ids []uuid.UUID) ([]automation.Budget, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []struct {
		ID       uuid.UUID       `bun:"id"`
		Version  int64           `bun:"version"`
		Status   string          `bun:"status"`
		Amount   decimal.Decimal `bun:"budget_amount"`
		Settings string          `bun:"settings"`
	}
	err := s.repo.db.NewSelect().Table("campaigns").Column("id", "version", "status", "budget_amount", "settings").
		Where("id IN (?)", bun.In(ids)).Where("deleted_at IS NULL").
		Where("status IN (?)", bun.In([]string{string(lifecycle.StatusActive), string(lifecycle.StatusPaused)})).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("campaign budgets: %w", err)
	}
	paused, err := history.AutomaticWith(ctx, s.repo.db, ids, lifecycle.StopBudgetThreshold)
	if err != nil {
		return nil, err
	}
	out := make([]automation.Budget, len(rows))
	for i, r := range rows {
		var set Settings
		if err := json.Unmarshal([]byte(r.Settings), &set); err != nil {
			return nil, fmt.Errorf("decode settings of %s: %w", r.ID, err)
		}
		out[i] = automation.Budget{
			Target: automation.Target{ID: r.ID, Version: r.Version}, Status: lifecycle.Status(r.Status),
			Amount: r.Amount, MaxImpressions: set.MaxImpressions, ThresholdPaused: paused[r.ID],
		}
		if set.BudgetLimit != nil {
			limit := set.BudgetLimit.Amount
			out[i].Limit = &limit
		}
	}
	return out, nil
}

// Apply makes an automatic transition pinned to t.Version (automation.Campaigns). Losing the
// race to another writer is automation.ErrLost.
// A move whose spend crossed the budget records CampaignBudgetExceeded with the transition.
func (s *Service) Apply(ctx context.Context, t automation.Target, m automation.Move) error {
	req := TransitionRequest{
		Action: m.Action, Reason: m.Reason, Automatic: true, StopCode: m.Code, ExpectedVersion: &t.Version,
	}
	if m.Exceeded != nil {
		req.BudgetExceeded = &BudgetExceeded{Spend: m.Exceeded.Spend, Budget: m.Exceeded.Budget}
	}
	_, err := s.Transition(ctx, ID(t.ID), req)
	var forbidden *lifecycle.ForbiddenError
	if errors.Is(err, ErrVersionConflict) || errors.Is(err, ErrNotFound) || errors.As(err, &forbidden) {
		return fmt.Errorf("%w: %w", automation.ErrLost, err)
	}
	return err
}
