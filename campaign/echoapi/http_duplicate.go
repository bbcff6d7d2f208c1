package echoapi

import (
	"encoding/json"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// duplicateRequest is the optional body of POST /campaigns/:id/duplicate.
type duplicateRequest struct {
	Name      *string `json:"name"`
	StartDate *string `json:"startDate"`
	// EndDate is kept raw to tell null (no end date) from absent (the source's end date).
	EndDate json.RawMessage `json:"endDate"`
	Shift   *string         `json:"shift"`
}

func (h *Handler) duplicate(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var body duplicateRequest
	if err := httpx.DecodeOptionalJSON(c, &body); err != nil {
		return err
	}
	actor, err := author(c)
	if err != nil {
		return err
	}
	req, errs := parseDuplicate(body)
	if len(errs) > 0 {
		return h.problem(&campaign.ValidationError{Fields: domainErrors(errs)}, false)
	}
	// The copy lives beside its source: /api/v1/campaigns/<source>/duplicate -> /api/v1/campaigns/<copy>.
	base := path.Dir(path.Dir(strings.TrimSuffix(c.Request().URL.Path, "/")))
	location := func(id campaign.ID) string { return base + "/" + id.String() }
	expect(c, h.svc, http.StatusCreated, location)
	camp, err := h.svc.Duplicate(c.Request().Context(), actor, id, req)
	if err != nil {
		return h.problem(err, false)
	}
	c.Response().Header().Set(echo.HeaderLocation, location(camp.ID()))
	httpx.SetETag(c, camp.Version())
	return c.JSON(http.StatusCreated, NewResponse(camp, h.svc.Now()))
}

// parseDuplicate reads the body into a DuplicateRequest, with an error for each member that
// does not parse or that clashes with another.
func parseDuplicate(body duplicateRequest) (campaign.DuplicateRequest, fieldErrors) {
	var req campaign.DuplicateRequest
	var errs fieldErrors
	if body.Name != nil {
		req.Name = strings.TrimSpace(*body.Name)
		if req.Name == "" {
			errs.add("name", "must not be blank; leave it out to name the copy \"<name> (copy)\"")
		}
	}
	if body.StartDate != nil {
		if t, ok := parseBodyDate("startDate", *body.StartDate, &errs); ok {
			req.StartDate = &t
		}
	}
	if raw := strings.TrimSpace(string(body.EndDate)); raw == "null" {
		req.NoEndDate = true
	} else if raw != "" {
		var s string
		if err := json.Unmarshal(body.EndDate, &s); err != nil {
			errs.add("endDate", "must be an RFC 3339 date-time string or null")
		} else if t, ok := parseBodyDate("endDate", s, &errs); ok {
			req.EndDate = &t
		}
	}
	if body.Shift != nil {
		d, err := campaign.ParseShift(*body.Shift)
		switch {
		case err != nil:
			errs.add("shift", err.Error())
		case body.StartDate != nil || body.EndDate != nil:
			errs.add("shift", "cannot be combined with startDate or endDate: it moves both")
		default:
			req.Shift = d
		}
	}
	return req, errs
}
