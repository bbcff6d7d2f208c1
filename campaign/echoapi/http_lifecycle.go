package echoapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// RetryAfterChecks is the Retry-After (seconds) sent when activation checks are unavailable.
const RetryAfterChecks = 30

type transitionRequest struct {
	Reason string `json:"reason"`
}

// DryRunResponse is what a transition would do, or every reason it cannot happen.
type DryRunResponse struct {
	DryRun         bool                  `json:"dryRun"`
	Action         lifecycle.Action      `json:"action"`
	Allowed        bool                  `json:"allowed"`
	From           lifecycle.Status      `json:"from"`
	To             *lifecycle.Status     `json:"to"`
	AllowedActions []lifecycle.Action    `json:"allowedActions"`
	Violations     []lifecycle.Violation `json:"violations"`
	Campaign       Response              `json:"campaign"`
}

// TransitionResponse is one row of a campaign's status history.
type TransitionResponse struct {
	ID         string           `json:"id"`
	Version    int64            `json:"version"`
	From       lifecycle.Status `json:"from"`
	To         lifecycle.Status `json:"to"`
	Action     lifecycle.Action `json:"action"`
	Reason     string           `json:"reason"`
	Actor      *string          `json:"actor"`
	Automatic  bool             `json:"automatic"`
	OccurredAt string           `json:"occurredAt"`
}

// TransitionListResponse is one page of history.
type TransitionListResponse struct {
	Transitions []TransitionResponse `json:"transitions"`
	NextCursor  *string              `json:"nextCursor"`
	Limit       int                  `json:"limit"`
}

func (h *Handler) transition(name string) echo.HandlerFunc {
	action, _ := lifecycle.ParseAction(name) // the route names are the known actions
	return func(c echo.Context) error {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		dryRun, err := boolParam(c, "dryRun")
		if err != nil {
			return err
		}
		ifMatch, hasIfMatch, err := httpx.IfMatch(c)
		if err != nil {
			return err
		}
		var body transitionRequest
		if err := httpx.DecodeOptionalJSON(c, &body); err != nil {
			return err
		}
		req := campaign.TransitionRequest{Action: action, Reason: body.Reason, DryRun: dryRun}
		if hasIfMatch {
			req.ExpectedVersion = &ifMatch
		}
		if actor, ok := audit.Actor(c.Request().Context()); ok {
			u := campaign.UserID(actor)
			req.Actor = &u
		}
		expect(c, h.svc, http.StatusOK, nil)
		res, err := h.svc.Transition(c.Request().Context(), id, req)
		if dryRun {
			return h.dryRun(c, id, action, res, err, hasIfMatch)
		}
		if err != nil {
			return h.problem(err, hasIfMatch)
		}
		httpx.SetETag(c, res.Campaign.Version())
		return c.JSON(http.StatusOK, NewResponse(res.Campaign, h.svc.Now()))
	}
}

// dryRun answers 200 with the verdict, whether the transition would pass or not; only
// errors that leave no verdict (unknown campaign, checks unavailable) stay errors.
func (h *Handler) dryRun(c echo.Context, id campaign.ID, action lifecycle.Action, res *campaign.TransitionResult, err error, viaIfMatch bool) error {
	var forbidden *lifecycle.ForbiddenError
	var blocked *lifecycle.BlockedError
	out := DryRunResponse{DryRun: true, Action: action, Violations: []lifecycle.Violation{}}
	switch {
	case err == nil:
		out.Allowed, out.From, out.To = true, res.From, &res.To
		out.Campaign = NewResponse(res.Campaign, h.svc.Now())
	case errors.As(err, &forbidden), errors.As(err, &blocked):
		camp, gerr := h.svc.Get(c.Request().Context(), id)
		if gerr != nil {
			return h.problem(gerr, false)
		}
		out.From, out.Campaign = camp.Status(), NewResponse(camp, h.svc.Now())
		if forbidden != nil {
			out.Violations = []lifecycle.Violation{{Field: "status", Message: forbidden.Error()}}
		} else {
			out.Violations = blocked.Violations
			if t, ok := lifecycle.Lookup(camp.Status(), action); ok {
				out.To = &t.To
			}
		}
	default:
		return h.problem(err, viaIfMatch)
	}
	out.AllowedActions = lifecycle.Allowed(out.From)
	httpx.SetETag(c, out.Campaign.Version)
	return c.JSON(http.StatusOK, out)
}

func (h *Handler) transitions(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	limit, after, errs := seqPage(c.QueryParams())
	if len(errs) > 0 {
		return httpx.BadRequest("the query string is invalid", errs...)
	}
	recs, err := h.svc.Transitions(c.Request().Context(), id, after, limit+1)
	if err != nil {
		return h.problem(err, false)
	}
	out := TransitionListResponse{Transitions: []TransitionResponse{}, Limit: limit}
	for i, r := range recs {
		if i == limit {
			out.NextCursor = seqCursor(recs[i-1].Version)
			break
		}
		out.Transitions = append(out.Transitions, newTransitionResponse(r))
	}
	return c.JSON(http.StatusOK, out)
}

// seqPage reads the limit and cursor of a history list whose cursor is a sequence number
// (a version, a store sequence).
func seqPage(q url.Values) (limit int, after int64, errs fieldErrors) {
	limit = campaign.DefaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > campaign.MaxPageSize {
			errs.add("limit", fmt.Sprintf("must be an integer from 1 to %d", campaign.MaxPageSize))
		} else {
			limit = n
		}
	}
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			errs.add("cursor", "is not a cursor this service issued")
		} else {
			after = n
		}
	}
	return limit, after, errs
}

func seqCursor(seq int64) *string {
	s := strconv.FormatInt(seq, 10)
	return &s
}

func newTransitionResponse(r lifecycle.Record) TransitionResponse {
	out := TransitionResponse{
		ID: r.ID.String(), Version: r.Version, From: r.From, To: r.To, Action: r.Action,
		Reason: r.Reason, Automatic: r.Automatic, OccurredAt: r.OccurredAt.Format("2006-01-02T15:04:05.999999Z07:00"),
	}
	if r.Actor != nil {
		s := r.Actor.String()
		out.Actor = &s
	}
	return out
}

// boolParam reads an optional true/false query parameter.
func boolParam(c echo.Context, name string) (bool, error) {
	s := c.QueryParam(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, httpx.BadRequest("the query string is invalid",
			httpx.FieldError{Field: name, Message: "must be true or false"})
	}
	return v, nil
}
