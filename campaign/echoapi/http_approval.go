package echoapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// ApprovalResponse is a campaign's approval as the API shows it (the "approval" member).
type ApprovalResponse struct {
	Status campaign.ApprovalStatus `json:"status"`
	// Threshold is the approval threshold of the budget's currency now: zero for a currency
	// without one of its own while approval is on (every budget in it needs approval); null
	// when approval is off (no threshold is set).
	Threshold   *campaign.Money  `json:"threshold"`
	SubmittedBy *campaign.UserID `json:"submittedBy"`
	SubmittedAt *time.Time       `json:"submittedAt"`
	DecidedBy   *campaign.UserID `json:"decidedBy"`
	DecidedAt   *time.Time       `json:"decidedAt"`
	// Reason is a rejection's reason; null otherwise.
	Reason *string `json:"reason"`
}

// newApprovalResponse renders c's approval under the thresholds of the service that read it.
func newApprovalResponse(c *campaign.View) ApprovalResponse {
	a := c.Approval() // a copy
	out := ApprovalResponse{
		Status: c.ApprovalStatus(), SubmittedBy: a.SubmittedBy, SubmittedAt: a.SubmittedAt,
		DecidedBy: a.DecidedBy, DecidedAt: a.DecidedAt,
	}
	if m, ok := c.ApprovalThresholds().For(c.Budget().Currency); ok {
		out.Threshold = &m
	}
	if a.Status == campaign.ApprovalRejected {
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
func (h *Handler) registerApproval(g httpx.Router, p echo.MiddlewareFunc) {
	none := httpx.Query()
	g.POST("/campaigns/:id/submit-for-approval", h.approvalStep(h.svc.SubmitForApproval, false, false), p, none)
	g.POST("/campaigns/:id/approve", h.approvalStep(h.svc.Approve, false, true), p, none)
	g.POST("/campaigns/:id/reject", h.approvalStep(h.svc.Reject, true, true), p, none)
}

type approvalFunc func(ctx context.Context, id campaign.ID, req campaign.ApprovalRequest) (*campaign.View, error)

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
		var req campaign.ApprovalRequest
		if needsReason {
			var body rejectRequest
			if err := httpx.DecodeJSON(c, &body); err != nil {
				return err
			}
			if body.Reason == nil {
				return h.problem(&campaign.ValidationError{Fields: []campaign.FieldError{{Field: "reason", Message: "is required: say why the campaign is rejected"}}}, false)
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
		req.Actor = campaign.UserID(actor)
		if hasIfMatch {
			req.ExpectedVersion = &ifMatch
		}
		expect(c, h.svc, http.StatusOK, nil)
		camp, err := step(c.Request().Context(), id, req)
		if err != nil {
			return h.approvalProblem(err, hasIfMatch)
		}
		httpx.SetETag(c, camp.Version())
		return c.JSON(http.StatusOK, NewResponse(camp, h.svc.Now()))
	}
}

// approvalProblem maps the approval errors to problems, the others as h.problem does.
func (h *Handler) approvalProblem(err error, viaIfMatch bool) error {
	var aerr *campaign.ApprovalStateError
	switch {
	case errors.Is(err, campaign.ErrSelfApproval):
		return httpx.NewProblem(http.StatusForbidden, "approver-is-author", "Forbidden",
			"the author of a campaign cannot approve or reject it: another manager must decide")
	case errors.Is(err, campaign.ErrSubmitterApproval):
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
