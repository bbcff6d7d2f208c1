package campaign

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// ApprovalResponse is a campaign's approval as the API shows it (the "approval" member).
type ApprovalResponse struct {
	Status ApprovalStatus `json:"status"`
	// Threshold is the approval threshold of the budget's currency now; null when none is set.
	Threshold   *Money     `json:"threshold"`
	SubmittedBy *UserID    `json:"submittedBy"`
	SubmittedAt *time.Time `json:"submittedAt"`
	DecidedBy   *UserID    `json:"decidedBy"`
	DecidedAt   *time.Time `json:"decidedAt"`
	// Reason is a rejection's reason; null otherwise.
	Reason *string `json:"reason"`
}

// newApprovalResponse renders c's approval under the thresholds of the service that read it.
func newApprovalResponse(c *Campaign) ApprovalResponse {
	a := c.approval
	out := ApprovalResponse{
		Status: c.ApprovalStatus(), SubmittedBy: userPtr(a.SubmittedBy), SubmittedAt: utcPtr(a.SubmittedAt),
		DecidedBy: userPtr(a.DecidedBy), DecidedAt: utcPtr(a.DecidedAt),
	}
	if m, ok := c.thresholds.For(c.budget.Currency); ok {
		out.Threshold = &m
	}
	if a.Status == ApprovalRejected {
		r := a.Reason
		out.Reason = &r
	}
	return out
}

// rejectRequest is the body of POST .../reject.
type rejectRequest struct {
	Reason *string `json:"reason"`
}

// registerApproval mounts the approval routes under g.
func (h *Handler) registerApproval(g *echo.Group, p echo.MiddlewareFunc) {
	none := httpx.Query()
	g.POST("/campaigns/:id/submit-for-approval", h.approvalStep(h.svc.SubmitForApproval, false, false), p, none)
	g.POST("/campaigns/:id/approve", h.approvalStep(h.svc.Approve, false, true), p, none)
	g.POST("/campaigns/:id/reject", h.approvalStep(h.svc.Reject, true, true), p, none)
}

type approvalFunc func(ctx context.Context, id ID, req ApprovalRequest) (*Campaign, error)

// approvalStep serves one approval step. Submit and approve take no body members (an empty
// object, or no body); reject requires {"reason": "..."}. If-Match is optional on submit, as
// on the lifecycle actions; a decision (decides) requires one naming a version (not "*"): a
// manager decides on the campaign they read, never on a version edited and resubmitted since.
func (h *Handler) approvalStep(step approvalFunc, needsReason, decides bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		ifMatch, hasIfMatch, err := httpx.IfMatch(c)
		if err != nil {
			return err
		}
		if decides && !hasIfMatch {
			return httpx.PreconditionRequired("say which version of the campaign you decide on: send If-Match: \"<version>\" (its ETag when you read it; * is not accepted)")
		}
		var req ApprovalRequest
		if needsReason {
			var body rejectRequest
			if err := httpx.DecodeJSON(c, &body); err != nil {
				return err
			}
			if body.Reason == nil {
				return h.problem(&ValidationError{Fields: []FieldError{{Field: "reason", Message: "is required: say why the campaign is rejected"}}}, false)
			}
			req.Reason = *body.Reason
		} else {
			var body struct{}
			if err := httpx.DecodeOptionalJSON(c, &body); err != nil {
				return err
			}
		}
		actor, ok := audit.Actor(c.Request().Context())
		if !ok {
			return httpx.BadRequest("the caller is unknown: an approval step records who took it; send an X-User-ID header holding your user id (a UUID)",
				httpx.FieldError{Field: httpx.HeaderUserID, Message: "is required"})
		}
		req.Actor = UserID(actor)
		if hasIfMatch {
			req.ExpectedVersion = &ifMatch
		}
		camp, err := step(c.Request().Context(), id, req)
		if err != nil {
			return h.approvalProblem(err, hasIfMatch)
		}
		httpx.SetETag(c, camp.Version())
		return c.JSON(http.StatusOK, NewResponse(camp, h.svc.clock()))
	}
}

// approvalProblem maps the approval errors to problems, the others as h.problem does.
func (h *Handler) approvalProblem(err error, viaIfMatch bool) error {
	var aerr *ApprovalStateError
	switch {
	case errors.Is(err, ErrSelfApproval):
		return httpx.NewProblem(http.StatusForbidden, "approver-is-author", "Forbidden",
			"the author of a campaign cannot approve or reject it: another manager must decide")
	case errors.Is(err, ErrSubmitterApproval):
		return httpx.NewProblem(http.StatusForbidden, "approver-is-submitter", "Forbidden",
			"who submitted a campaign for approval cannot approve or reject that request: another manager must decide")
	case errors.As(err, &aerr):
		p := httpx.Conflict("invalid-approval-state", aerr.Error())
		p.Extra = map[string]any{"approvalStatus": aerr.Status}
		return p
	default:
		return h.problem(err, viaIfMatch)
	}
}
