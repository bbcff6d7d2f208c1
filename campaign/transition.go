package campaign

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// ActivationCheck vets a campaign before it starts or resumes serving. The targeting package
// implements one that asks the Rules Engine whether every rule the campaign uses is ACTIVE.
type ActivationCheck interface {
	// CheckActivation returns the reasons the campaign may not serve (nil: it may), or an
	// error when it cannot tell (a dependency is down): then nothing changes.
	CheckActivation(ctx context.Context, c *Campaign) ([]lifecycle.Violation, error)
}

// TargetingVerifier is an ActivationCheck that vets the campaign's targeting (the Rules Engine
// check). When at least one such check passes at an activation or resume, the campaign is
// stored with TargetingVerified set; other checks (budgets, say) do not vouch for targeting.
type TargetingVerifier interface {
	ActivationCheck
	VerifiesTargeting() bool
}

// ErrChecksUnavailable: an activation check could not reach a verdict; retry later.
var ErrChecksUnavailable = errors.New("activation checks are unavailable")

// TransitionRequest asks for one lifecycle action.
type TransitionRequest struct {
	Action lifecycle.Action
	Reason string
	// Actor is who asks; nil for the automation.
	Actor *UserID
	// Automatic marks transitions the automation makes; StopCode says why.
	Automatic bool
	StopCode  lifecycle.StopCode
	// ExpectedVersion pins the version the caller saw (If-Match); nil: the current one.
	ExpectedVersion *int64
	// DryRun runs every guard and check but changes nothing.
	DryRun bool
	// BudgetExceeded, on an automatic stop for spend, records CampaignBudgetExceeded in the
	// transition's transaction: once, since the transition is pinned to a version.
	BudgetExceeded *BudgetExceeded
}

// BudgetExceeded is a campaign's spend at or past 100% of its budget (in the budget's currency).
type BudgetExceeded struct {
	Spend, Budget decimal.Decimal
}

// TransitionResult is what a transition did (or, on a dry run, would do).
type TransitionResult struct {
	Campaign *View // after the transition (unchanged on a dry run)
	From     lifecycle.Status
	To       lifecycle.Status
	Action   lifecycle.Action // the effective action: activate on PAUSED is a resume
	Applied  bool
}

// maxTransitionAttempts bounds the re-reads after losing an optimistic-lock race when the
// caller did not pin a version.
const maxTransitionAttempts = 5

// Transition applies a lifecycle action. It returns *lifecycle.ForbiddenError when the status
// does not allow the action, *lifecycle.BlockedError listing every failed guard and check,
// ErrChecksUnavailable when a check cannot answer, ErrVersionConflict when the campaign changed
// under a pinned version, and ErrNotFound. The status change and its history row are written
// in one transaction.
func (s *Service) Transition(ctx context.Context, id ID, req TransitionRequest) (*TransitionResult, error) {
	return s.transition(ctx, s.own(), id, req)
}

func (s *Service) transition(ctx context.Context, sc scope, id ID, req TransitionRequest) (*TransitionResult, error) {
	for attempt := 1; ; attempt++ {
		res, err := s.transitionOnce(ctx, sc, id, req)
		if errors.Is(err, ErrVersionConflict) && req.ExpectedVersion == nil && attempt < maxTransitionAttempts {
			continue // someone else moved the campaign: judge again against what is there now
		}
		return res, err
	}
}

func (s *Service) transitionOnce(ctx context.Context, sc scope, id ID, req TransitionRequest) (*TransitionResult, error) {
	c, err := sc.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if req.ExpectedVersion != nil && *req.ExpectedVersion != c.Version() {
		return nil, ErrVersionConflict
	}
	now := s.clock()
	change := StatusChange{
		Action: req.Action, Reason: req.Reason, Actor: req.Actor, Automatic: req.Automatic, StopCode: req.StopCode,
		AllowUntargeted: s.cfg.AllowUntargeted, Thresholds: s.cfg.ApprovalThresholds,
	}
	// The aggregate decides (the state machine's guards, the approval); the service adds the
	// verdict of the activation checks, which call other services.
	t, err := c.Decide(change, now)
	var violations []lifecycle.Violation
	var blocked *lifecycle.BlockedError
	switch {
	case errors.As(err, &blocked):
		violations = blocked.Violations
	case err != nil:
		return nil, err
	}
	if t.NeedsActivationChecks {
		// Checks run even when a guard already failed, so that the caller sees every reason.
		// They run before the store's transaction, which must not wait on the Rules Engine;
		// the write is pinned to the version they saw.
		for _, check := range s.cfg.ActivationChecks {
			vs, err := check.CheckActivation(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrChecksUnavailable, err)
			}
			violations = append(violations, vs...)
			if tv, ok := check.(TargetingVerifier); ok && tv.VerifiesTargeting() {
				change.TargetingVerified = true
			}
		}
	}
	if len(violations) > 0 {
		return nil, &lifecycle.BlockedError{Status: c.Status(), Action: req.Action, Violations: violations}
	}
	res := &TransitionResult{Campaign: s.view(c, lifecycle.Delivered{}), From: c.Status(), To: t.To, Action: t.Effective}
	if req.DryRun {
		return res, nil
	}
	// What it delivered so far decides the serving status the answer shows (a campaign resumed
	// at its cap is CAP_REACHED, not SERVING); read before the write, so that a failed read
	// changes nothing.
	delivered, err := s.deliveredBy(ctx, id, t.To)
	if err != nil {
		return nil, err
	}
	read := c.Version()
	next, err := sc.change(withDelivered(ctx, delivered), id, &read, func(c *Campaign) (Change, error) {
		// The aggregate judges again, against the row it changes (the same version).
		ch, err := c.ApplyTransition(change, now)
		if err != nil || req.BudgetExceeded == nil {
			return ch, err
		}
		// Right after the completion, before any other follow-up (a withdrawn approval request).
		ch.Then = append([]FollowUp{{Event: EventBudgetExceeded, Data: newBudgetExceededV1(c, *req.BudgetExceeded)}}, ch.Then...)
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	res.Campaign, res.Applied = s.view(next, delivered), true
	return res, nil
}

// deliveredBy is what campaign id has delivered, when a campaign in status to can serve (the
// others' serving status does not depend on it).
func (s *Service) deliveredBy(ctx context.Context, id ID, to lifecycle.Status) (lifecycle.Delivered, error) {
	if s.cfg.Delivery == nil || to != lifecycle.StatusActive {
		return lifecycle.Delivered{}, nil
	}
	got, err := s.cfg.Delivery.Delivered(ctx, []uuid.UUID{uuid.UUID(id)})
	if err != nil {
		return lifecycle.Delivered{}, fmt.Errorf("campaign delivery totals: %w", err)
	}
	return got[uuid.UUID(id)], nil
}

// Transitions lists a campaign's status history, oldest first, after the given version. The
// history of a deleted campaign stays readable.
func (s *Service) Transitions(ctx context.Context, id ID, afterVersion int64, limit int) ([]lifecycle.Record, error) {
	return s.store.Transitions(ctx, id, afterVersion, limit)
}

// EndedBy lists campaigns the automation should complete because their end date passed.
func (s *Service) EndedBy(ctx context.Context, limit int) ([]Due, error) {
	return s.store.EndedBy(ctx, s.clock(), limit)
}

// Events lists a campaign's domain events, oldest first, after the store sequence afterSeq,
// optionally of some types only. A deleted campaign keeps its events.
func (s *Service) Events(ctx context.Context, id ID, types []string, afterSeq int64, limit int) ([]Event, error) {
	return s.store.Events(ctx, id, types, afterSeq, limit)
}
