package campaign

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/lifecycle/automation"
)

// The Service is the automation's view of campaigns.
var _ automation.Campaigns = (*Service)(nil)

// Ended lists ACTIVE or PAUSED campaigns past their end date (automation.Campaigns).
func (s *Service) Ended(ctx context.Context, limit int) ([]automation.Target, error) {
	due, err := s.store.EndedBy(ctx, s.clock(), limit)
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
	return s.store.Budgets(ctx, ids)
}

// Apply makes an automatic transition pinned to t.Version (automation.Campaigns). Losing the
// race to another writer is automation.ErrLost.
func (s *Service) Apply(ctx context.Context, t automation.Target, action lifecycle.Action, code lifecycle.StopCode, reason string) error {
	_, err := s.Transition(ctx, ID(t.ID), TransitionRequest{
		Action: action, Reason: reason, Automatic: true, StopCode: code, ExpectedVersion: &t.Version,
	})
	var forbidden *lifecycle.ForbiddenError
	if errors.Is(err, ErrVersionConflict) || errors.Is(err, ErrNotFound) || errors.As(err, &forbidden) {
		return fmt.Errorf("%w: %w", automation.ErrLost, err)
	}
	return err
}
