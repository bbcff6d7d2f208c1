package echoapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/textcheck"
)

// listParams is the query string of the list: the filters that take a list may be repeated.
func listParams() []httpx.Param {
	return []httpx.Param{httpx.Many("status"), httpx.Many("servingStatus"), httpx.Many("type"),
		httpx.One("channel"), httpx.One("createdBy"), httpx.One("q"), httpx.One("startFrom"),
		httpx.One("startTo"), httpx.One("sort"), httpx.One("limit"), httpx.One("cursor"), httpx.Many("approvalStatus")}
}

// listRouteParams are the list route's parameters: the filters, and includeMetrics, which
// only the list (not the export, which has its own) reads.
func listRouteParams() []httpx.Param { return append(listParams(), httpx.One("includeMetrics")) }

func (h *Handler) list(c echo.Context) error {
	q := c.QueryParams()
	var errs fieldErrors
	withMetrics := parseBool(q, "includeMetrics", &errs)
	f, err := parseFilter(q)
	if err != nil || len(errs) > 0 {
		p := httpx.BadRequest("the query string is invalid", errs...)
		var fp *httpx.Problem
		if errors.As(err, &fp) {
			p.Errors = append(fp.Errors, errs...)
		}
		return p
	}
	if withMetrics && h.totals == nil {
		return httpx.BadRequest("this service has no metrics to list",
			httpx.FieldError{Field: "includeMetrics", Message: "is not available here"})
	}
	ctx := c.Request().Context()
	now := h.svc.Now()
	f.Now = now
	camps, next, err := h.svc.List(ctx, f)
	if err != nil {
		return h.problem(err, false)
	}
	var totals map[uuid.UUID]campaign.Totals
	if withMetrics && len(camps) > 0 {
		ids := make([]uuid.UUID, len(camps))
		for i, camp := range camps {
			ids[i] = uuid.UUID(camp.ID())
		}
		if totals, err = h.totals.CampaignTotals(ctx, ids); err != nil {
			return h.problem(fmt.Errorf("list totals: %w", err), false)
		}
	}
	var pacing map[uuid.UUID]any
	if withMetrics && h.pacing != nil && len(camps) > 0 {
		costs := make(map[uuid.UUID]decimal.Decimal, len(totals))
		for id, t := range totals {
			costs[id] = t.Cost
		}
		if pacing, err = h.pacing.ListPacing(ctx, camps, costs, now); err != nil {
			return h.problem(fmt.Errorf("list pacing: %w", err), false)
		}
	}
	out := ListResponse{Campaigns: make([]Response, len(camps)), Limit: f.Limit}
	for i, camp := range camps {
		out.Campaigns[i] = NewResponse(camp, now)
		if withMetrics { // a campaign without any event is absent from totals: zero
			id := uuid.UUID(camp.ID())
			out.Campaigns[i].Totals = &ListTotals{ExportMetrics: *newExportMetrics(totals[id], camp.Budget().Currency),
				Pacing: pacing[id]}
		}
	}
	if next != nil {
		s := next.Encode()
		out.NextCursor = &s
	}
	return c.JSON(http.StatusOK, out)
}

// parseFilter reads the list query (its names were checked by httpx.Query). Every problem is
// reported at once as a 400, in the order of the parameters.
func parseFilter(q url.Values) (campaign.Filter, error) {
	var errs fieldErrors
	var f campaign.Filter
	f.Statuses = parseEach(q, "status", "status", lifecycle.ParseStatus, &errs)
	f.Serving = parseEach(q, "servingStatus", "serving status", lifecycle.ParseServingStatus, &errs)
	f.Types = parseEach(q, "type", "type", parseType, &errs)
	f.Approval = parseEach(q, "approvalStatus", "approval status", campaign.ParseApprovalStatus, &errs)
	f.Channel = parseChannel(q.Get("channel"), &errs)
	f.CreatedBy = parseCreatedBy(q.Get("createdBy"), &errs)
	f.Query = parseNameSearch(q.Get("q"), &errs)
	f.StartFrom = parseDateParam(q, "startFrom", &errs)
	f.StartTo = parseDateParam(q, "startTo", &errs)
	f.Sort, f.Desc = parseSort(q.Get("sort"), &errs)
	f.Limit = parseLimit(q.Get("limit"), &errs)
	f.After = parseCursor(q.Get("cursor"), f.Sort, f.Desc, &errs)
	if len(errs) > 0 {
		return f, httpx.BadRequest("the query string is invalid", errs...)
	}
	return f, nil
}

// parseEach parses every value of the list parameter name (repeated or comma-separated);
// what names the kind of value in the error of one that does not parse.
func parseEach[T any](q url.Values, name, what string, parse func(string) (T, error), errs *fieldErrors) []T {
	var out []T
	for _, s := range splitList(q[name]) {
		v, err := parse(s)
		if err != nil {
			errs.add(name, fmt.Sprintf("unknown %s %q", what, s))
			continue
		}
		out = append(out, v)
	}
	return out
}

func parseType(s string) (campaign.Type, error) {
	if !slices.Contains(campaign.Types(), campaign.Type(s)) {
		return "", fmt.Errorf("unknown type %q", s)
	}
	return campaign.Type(s), nil
}

func parseChannel(s string, errs *fieldErrors) campaign.Channel {
	if s != "" && !slices.Contains(campaign.Channels(), campaign.Channel(s)) {
		errs.add("channel", fmt.Sprintf("unknown channel %q", s))
	}
	return campaign.Channel(s)
}

func parseCreatedBy(s string, errs *fieldErrors) *campaign.UserID {
	if s == "" {
		return nil
	}
	id, err := campaign.ParseUserID(s)
	if err != nil {
		errs.add("createdBy", "must be a UUID")
	}
	return &id
}

// parseNameSearch reads q, a substring of names: the database compares it with names, so it
// must be text a name could hold.
func parseNameSearch(s string, errs *fieldErrors) string {
	s = strings.TrimSpace(s)
	if err := textcheck.Line(s); err != nil {
		errs.add("q", err.Error())
	} else if utf8.RuneCountInString(s) > campaign.MaxNameLen {
		errs.add("q", fmt.Sprintf("must be at most %d characters", campaign.MaxNameLen))
	}
	return s
}

func parseDateParam(q url.Values, name string, errs *fieldErrors) *time.Time {
	s := q.Get(name)
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	switch {
	case err != nil:
		errs.add(name, "must be an RFC 3339 date-time such as 2026-01-31T00:00:00Z")
	case !campaign.InDateRange(t):
		errs.add(name, "must be from the year 1 to the year 9999 in UTC")
	}
	return &t
}

// parseSort reads "name" or "-name" (descending); the default is the newest first.
func parseSort(s string, errs *fieldErrors) (campaign.SortField, bool) {
	if s == "" {
		return campaign.SortCreatedAt, true
	}
	field := campaign.SortField(strings.TrimPrefix(s, "-"))
	if !slices.Contains(campaign.SortFields(), field) {
		errs.add("sort", "must be createdAt, name or startDate, with a leading '-' for descending order")
	}
	return field, strings.HasPrefix(s, "-")
}

func parseLimit(s string, errs *fieldErrors) int {
	if s == "" {
		return campaign.DefaultPageSize
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > campaign.MaxPageSize {
		errs.add("limit", fmt.Sprintf("must be an integer from 1 to %d", campaign.MaxPageSize))
	}
	return n
}

// parseCursor reads a cursor, which must be one this service issued for the same sort.
func parseCursor(s string, sort campaign.SortField, desc bool, errs *fieldErrors) *campaign.Cursor {
	if s == "" {
		return nil
	}
	cur, err := campaign.DecodeCursor(s)
	switch {
	case err != nil || !cursorValueOK(cur):
		errs.add("cursor", "is not a cursor this service issued")
	case cur.Sort != sort || cur.Desc != desc:
		errs.add("cursor", "belongs to another sort order; repeat the sort of the first page")
	}
	return cur
}

// cursorValueOK: a cursor's sort key is compared in SQL, so a forged one must hold what this
// service writes (a name without NUL, a time within the database's range).
func cursorValueOK(c *campaign.Cursor) bool {
	if c.Sort == campaign.SortName {
		return textcheck.Text(c.Value) == nil
	}
	t, err := time.Parse(time.RFC3339Nano, c.Value)
	return err == nil && campaign.InDateRange(t)
}

// splitList accepts repeated parameters and comma-separated values alike.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
