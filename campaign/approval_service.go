package campaign

import (
	"context"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// ApprovalRequest asks for one approval step (SubmitForApproval, Approve, Reject).
type ApprovalRequest struct {
	// Actor is who asks: the submitter or the decider.
	Actor UserID
	// Reason is a rejection's reason (required to reject, ignored otherwise).
	Reason string
	// ExpectedVersion pins the version the caller saw (If-Match); nil: the current one.
	ExpectedVersion *int64
}

// SubmitForApproval submits the campaign for approval (Campaign.SubmitForApproval), judged
// against the thresholds configured now.
func (s *Service) SubmitForApproval(ctx context.Context, id ID, req ApprovalRequest) (*View, error) {
	return s.approvalStep(ctx, s.own(), id, req, func(c *Campaign, t ApprovalThresholds) (Change, error) {
		return c.SubmitForApproval(req.Actor, t, s.clock())
	})
}

// Approve approves a pending campaign (Campaign.Approve): ErrSelfApproval for its author.
func (s *Service) Approve(ctx context.Context, id ID, req ApprovalRequest) (*View, error) {
	return s.approvalStep(ctx, s.own(), id, req, func(c *Campaign, t ApprovalThresholds) (Change, error) {
		return c.Approve(req.Actor, t, s.clock())
	})
}

// Reject rejects a pending campaign with req.Reason (Campaign.Reject).
func (s *Service) Reject(ctx context.Context, id ID, req ApprovalRequest) (*View, error) {
	return s.approvalStep(ctx, s.own(), id, req, func(c *Campaign, t ApprovalThresholds) (Change, error) {
		return c.Reject(req.Actor, req.Reason, t, s.clock())
	})
}

// approvalStep applies one step to the campaign as stored, in one transaction of the store:
// the step is judged against the row it changes, so no concurrent edit slips between them.
func (s *Service) approvalStep(ctx context.Context, sc scope, id ID, req ApprovalRequest, step func(*Campaign, ApprovalThresholds) (Change, error)) (*View, error) {
	c, err := sc.change(ctx, id, req.ExpectedVersion, func(c *Campaign) (Change, error) {
		return step(c, s.cfg.ApprovalThresholds)
	})
	if err != nil {
		return nil, err
	}
	return s.view(c, lifecycle.Delivered{}), nil
}

// ApprovalThresholds are the thresholds the service judges approval by (nil: none).
func (s *Service) ApprovalThresholds() ApprovalThresholds { return s.cfg.ApprovalThresholds.clone() }
