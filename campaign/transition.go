package campaign

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
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
	Campaign *Campaign // after the transition (unchanged on a dry run)
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
	req.Reason = strings.TrimSpace(req.Reason)
	c, err := sc.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	s.attach(c)
	if req.ExpectedVersion != nil && *req.ExpectedVersion != c.Version() {
		return nil, ErrVersionConflict
	}
	now := s.clock()
	t, err := lifecycle.Decide(lifecycle.Subject{
		Status: c.Status(), StartDate: c.StartDate(), EndDate: c.EndDate(), TargetingRules: len(c.TargetingRules()),
		AllowUntargeted: s.cfg.AllowUntargeted, Reason: req.Reason, Now: now,
	}, req.Action)
	var forbidden *lifecycle.ForbiddenError
	if errors.As(err, &forbidden) {
		return nil, err
	}
	var violations []lifecycle.Violation
	var blocked *lifecycle.BlockedError
	if errors.As(err, &blocked) {
		violations = blocked.Violations
	}
	verified := false
	if t.NeedsActivationChecks {
		// Approval above the budget threshold is judged against the thresholds of now; the
		// write below is pinned to the version judged, so an edit that voids it cannot slip in.
		if v := c.approvalViolation(s.cfg.ApprovalThresholds); v != nil {
			violations = append(violations, *v)
		}
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
				verified = true
			}
		}
	}
	if len(violations) > 0 {
		return nil, &lifecycle.BlockedError{Status: c.Status(), Action: req.Action, Violations: violations}
	}
	res := &TransitionResult{Campaign: c, From: c.Status(), To: t.To, Action: t.Effective}
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
	next, err := sc.change(ctx, id, &read, func(c *Campaign) (Change, error) {
		ch, err := c.ApplyTransition(StatusChange{
			Transition: t, Reason: req.Reason, Actor: req.Actor, Automatic: req.Automatic,
			StopCode: req.StopCode, TargetingVerified: verified,
		}, now)
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
	next.zones, next.delivered = s.zones, delivered
	s.attach(next)
	res.Campaign, res.Applied = next, true
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
func (s *Service) Events(ctx context.Context, id ID, types []string, afterSeq int64, limit int) ([]outbox.Event, error) {
	return s.store.Events(ctx, id, types, afterSeq, limit)
}
