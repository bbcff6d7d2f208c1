package echoapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
)

// MaxBulkIDs is how many campaigns one bulk action may name.
const MaxBulkIDs = 100

// DefaultBulkConcurrency is how many campaigns of a bulk action are acted on at once: each
// action is a few round trips and a commit, which overlap on PostgreSQL (a third of the
// sequential time for 100 pauses in BenchmarkBulkConcurrency); SQLite's one writer gains
// little but loses nothing.
const DefaultBulkConcurrency = 4

// BulkActions are the actions POST /campaigns/bulk/{action} runs: the lifecycle actions and
// delete.
func BulkActions() []string {
	return []string{"activate", "pause", "resume", "complete", "cancel", "delete"}
}

// bulkRequest is the body of a bulk action.
type bulkRequest struct {
	IDs    []string `json:"ids"`
	Reason *string  `json:"reason"`
}

// BulkResult is what the single action did to one campaign: Status is the HTTP status it would
// have answered, with the campaign on success (none after a delete) or the problem on failure.
type BulkResult struct {
	ID       string         `json:"id"`
	Status   int            `json:"status"`
	Campaign *Response      `json:"campaign,omitempty"`
	Problem  *httpx.Problem `json:"problem,omitempty"`
}

// BulkSummary counts the results.
type BulkSummary struct {
	Total     int `json:"total"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
}

// BulkResponse is the answer to a bulk action: one result per id, in the request's order.
type BulkResponse struct {
	Action  string       `json:"action"`
	DryRun  bool         `json:"dryRun"`
	Results []BulkResult `json:"results"`
	Summary BulkSummary  `json:"summary"`
}

// ParseBulkRequest reads the body of a bulk action strictly: 1 to MaxBulkIDs campaign ids,
// each once, and a reason when the action takes one (delete does not). A body that cannot be
// read is a 400 problem; ids that break the rules are a *ValidationError naming each.
func ParseBulkRequest(body []byte, takesReason bool) (ids []campaign.ID, reason string, err error) {
	var req bulkRequest
	if err := httpx.DecodeJSONBytes(body, &req); err != nil {
		return nil, "", err
	}
	if req.Reason != nil {
		if !takesReason {
			return nil, "", httpx.BadRequest("delete takes no reason",
				httpx.FieldError{Field: "reason", Message: "unknown field"})
		}
		reason = *req.Reason
	}
	var errs fieldErrors
	switch n := len(req.IDs); {
	case req.IDs == nil:
		errs.add("ids", "is required")
	case n == 0 || n > MaxBulkIDs:
		errs.add("ids", fmt.Sprintf("must hold 1 to %d campaign ids (got %d)", MaxBulkIDs, n))
	}
	if len(errs) > 0 {
		return nil, "", &campaign.ValidationError{Fields: domainErrors(errs)}
	}
	ids = make([]campaign.ID, len(req.IDs))
	first := make(map[campaign.ID]int, len(req.IDs))
	for i, s := range req.IDs {
		id, perr := campaign.ParseID(s)
		if perr != nil {
			errs.add(fmt.Sprintf("ids[%d]", i), "must be a campaign id (a UUID)")
			continue
		}
		if j, seen := first[id]; seen {
			errs.add(fmt.Sprintf("ids[%d]", i), fmt.Sprintf("repeats ids[%d]: name each campaign once", j))
			continue
		}
		first[id], ids[i] = i, id
	}
	if len(errs) > 0 {
		return nil, "", &campaign.ValidationError{Fields: domainErrors(errs)}
	}
	return ids, reason, nil
}

// registerBulk mounts POST /campaigns/bulk/{action}, one route per action so that each has
// its own permission.
func (h *Handler) registerBulk(g httpx.Router, mw ...echo.MiddlewareFunc) {
	mw = append(mw, httpx.Query(httpx.One("dryRun")))
	for _, action := range BulkActions() {
		g.POST("/campaigns/bulk/"+action, h.bulk(action), mw...)
	}
}

// bulk runs one action on each campaign of the body, each in its own transaction as the
// single route would, so that one failure leaves the others alone (up to bulkN at once).
// If-Match does not apply: each campaign is acted on at its current version.
func (h *Handler) bulk(name string) echo.HandlerFunc {
	return func(c echo.Context) error {
		dryRun, err := boolParam(c, "dryRun")
		if err != nil {
			return err
		}
		if c.Request().Header.Get("If-Match") != "" {
			return httpx.BadRequest("a bulk action acts on each campaign's current version; If-Match does not apply",
				httpx.FieldError{Field: "If-Match", Message: "is not accepted by bulk actions"})
		}
		body, err := httpx.ReadJSON(c)
		if err != nil {
			return err
		}
		ids, reason, err := ParseBulkRequest(body, name != "delete")
		if err != nil {
			return h.problem(err, false)
		}
		ctx := c.Request().Context()
		var actor *campaign.UserID
		if a, ok := audit.Actor(ctx); ok {
			u := campaign.UserID(a)
			actor = &u
		}
		out := BulkResponse{Action: name, DryRun: dryRun, Results: make([]BulkResult, len(ids))}
		base := strings.TrimSuffix(c.Request().URL.Path, "/bulk/"+name)
		// Each campaign is its own transaction, as on the single route, so they may run side
		// by side; the results keep the request's order.
		var fromRecords atomic.Int64 // results replayed from a keyed first run's records
		var g errgroup.Group
		g.SetLimit(h.bulkN)
		for i, id := range ids {
			g.Go(func() error {
				res, replayed := h.bulkKeyed(ctx, name, id, actor, reason, dryRun)
				if replayed {
					fromRecords.Add(1)
				}
				if res.Problem != nil {
					instance := base + "/" + id.String()
					if name != "delete" {
						instance += "/" + name
					}
					res.Problem.Instance, res.Problem.RequestID = instance, audit.CorrelationID(ctx)
				}
				out.Results[i] = res
				return nil
			})
		}
		_ = g.Wait() // the goroutines report failures as results, never as errors
		retryAfter := 0
		for i, res := range out.Results {
			if res.Problem == nil {
				out.Summary.Succeeded++
				continue
			}
			out.Summary.Failed++
			if res.Status >= 500 {
				// A retry may do what this one could not: the answer must not be replayed
				// under the same Idempotency-Key.
				httpx.ForgetAnswer(c)
			}
			if s, err := strconv.Atoi(res.Problem.Headers["Retry-After"]); err == nil && s > retryAfter {
				retryAfter = s
			}
			out.Results[i].Problem.Headers = nil
		}
		if retryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfter))
		}
		out.Summary.Total = len(ids)
		if fromRecords.Load() == int64(len(ids)) {
			// A retry of a keyed request whose every campaign had been acted on: nothing was
			// done again, as when the whole answer is replayed.
			c.Response().Header().Set(idempotency.ReplayedHeader, "true")
		}
		return c.JSON(http.StatusOK, out)
	}
}

// bulkSlot runs bulkOne in one of the handler's shared slots. It stands in for Echo's recover
// middleware, which does not see this goroutine: a panic is one campaign's 500, not the
// process's end.
// bulkKeyed acts on one campaign of a bulk action. Under an Idempotency-Key each campaign's
// write records its result in its own transaction (platform/idempotency), so that a retry
// whose first run committed some of them answers those from their records instead of acting
// twice, and acts on the others.
func (h *Handler) bulkKeyed(ctx context.Context, name string, id campaign.ID, actor *campaign.UserID, reason string, dryRun bool) (res BulkResult, replayed bool) {
	if dryRun || !idempotency.Keyed(ctx) {
		return h.bulkSlot(ctx, name, id, actor, reason, dryRun), false
	}
	step := id.String()
	if res, ok := h.bulkRecorded(ctx, step); ok {
		return res, true
	}
	res = h.bulkSlot(idempotency.Step(ctx, step, h.bulkAnswer(name, id)), name, id, actor, reason, dryRun)
	if res.Problem != nil {
		// Another run of the same request may have acted on it first.
		if rec, ok := h.bulkRecorded(ctx, step); ok {
			return rec, true
		}
	}
	return res, false
}

// bulkRecorded is the recorded result of one campaign of the keyed bulk action in ctx.
func (h *Handler) bulkRecorded(ctx context.Context, step string) (BulkResult, bool) {
	a, ok, err := idempotency.Recorded(ctx, step)
	if err != nil {
		h.logger.WarnContext(ctx, "bulk action: could not read a campaign's recorded result", slog.Any("error", err))
		return BulkResult{}, false
	}
	var res BulkResult
	if !ok || json.Unmarshal(a.Body, &res) != nil {
		return BulkResult{}, false
	}
	return res, true
}

func (h *Handler) bulkSlot(ctx context.Context, name string, id campaign.ID, actor *campaign.UserID, reason string, dryRun bool) (res BulkResult) {
	select {
	case h.bulkSlots <- struct{}{}:
		defer func() { <-h.bulkSlots }()
	case <-ctx.Done():
		return BulkResult{ID: id.String(), Problem: h.problemOf(ctx, ctx.Err()), Status: http.StatusServiceUnavailable}
	}
	defer func() {
		if v := recover(); v != nil {
			h.logger.ErrorContext(ctx, "bulk action panicked for one campaign", slog.Any("panic", v),
				slog.String("campaignId", id.String()), slog.String("stack", string(debug.Stack())))
			res = BulkResult{ID: id.String(), Problem: h.problemOf(ctx, fmt.Errorf("bulk %s: panic: %v", name, v)),
				Status: http.StatusInternalServerError}
		}
	}()
	return h.bulkOne(ctx, name, id, actor, reason, dryRun)
}

// bulkOne runs the action on one campaign and reports it as the single route would answer.
func (h *Handler) bulkOne(ctx context.Context, name string, id campaign.ID, actor *campaign.UserID, reason string, dryRun bool) BulkResult {
	res := BulkResult{ID: id.String()}
	var camp *campaign.View
	var err error
	if name == "delete" {
		camp, err = h.bulkDelete(ctx, id, dryRun)
		res.Status = http.StatusNoContent
	} else {
		action, _ := lifecycle.ParseAction(name) // the route names are the known actions
		var tr *campaign.TransitionResult
		tr, err = h.svc.Transition(ctx, id, campaign.TransitionRequest{Action: action, Reason: reason, Actor: actor, DryRun: dryRun})
		if err == nil {
			camp = tr.Campaign
		}
		res.Status = http.StatusOK
	}
	if err != nil {
		res.Problem = h.problemOf(ctx, err)
		res.Status = res.Problem.Status
		return res
	}
	if camp != nil {
		r := NewResponse(camp, h.svc.Now())
		res.Campaign = &r
	}
	return res
}

// bulkDelete deletes campaign id, or on a dry run tells whether it could be (the aggregate's
// own rule, on a copy that is not stored). It returns the campaign on a dry run only: a
// deleted campaign is not shown.
func (h *Handler) bulkDelete(ctx context.Context, id campaign.ID, dryRun bool) (*campaign.View, error) {
	if !dryRun {
		return nil, h.svc.Delete(ctx, id, nil)
	}
	camp, err := h.svc.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	probe := *camp
	if _, err := probe.MarkDeleted(h.svc.Now()); err != nil {
		return nil, err
	}
	return camp, nil
}

// problemOf is the problem the single route would have answered for err. An error no problem
// describes is logged and shown as the opaque 500 (or 503 when the request ran out of time).
func (h *Handler) problemOf(ctx context.Context, err error) *httpx.Problem {
	var p *httpx.Problem
	if errors.As(h.problem(err, false), &p) {
		cp := *p
		return &cp
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return httpx.NewProblem(http.StatusServiceUnavailable, "unavailable", "Service unavailable",
			"the service could not answer in time; nothing more was done for this campaign, retry it")
	}
	if p := httpx.DatabaseProblem(err); p != nil {
		h.logger.WarnContext(ctx, "bulk action failed for one campaign on a database fault", slog.Any("error", err))
		return p
	}
	h.logger.ErrorContext(ctx, "bulk action failed for one campaign", slog.Any("error", err))
	return &httpx.Problem{Type: "about:blank", Title: http.StatusText(http.StatusInternalServerError),
		Status: http.StatusInternalServerError, Detail: "an unexpected error occurred; quote the requestId when reporting it"}
}
