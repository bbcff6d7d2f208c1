package echoapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// EventResponse is one entry of a campaign's audit trail.
type EventResponse struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	CampaignID    string          `json:"campaignId"`
	Version       int64           `json:"version"`
	Actor         *string         `json:"actor"`
	CorrelationID string          `json:"correlationId"`
	OccurredAt    time.Time       `json:"occurredAt"`
	PublishedAt   *time.Time      `json:"publishedAt"`
	Payload       json.RawMessage `json:"payload"`
}

// EventListResponse is one page of the audit trail.
type EventListResponse struct {
	Events     []EventResponse `json:"events"`
	NextCursor *string         `json:"nextCursor"`
	Limit      int             `json:"limit"`
}

// events serves GET /campaigns/:id/events: the audit trail, oldest first.
func (h *Handler) events(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	limit, after, errs := seqPage(q)
	types := splitList(q["type"])
	for _, t := range types {
		if !slices.Contains(campaign.EventTypes(), t) {
			errs.add("type", fmt.Sprintf("unknown event type %q", t))
		}
	}
	if len(errs) > 0 {
		return httpx.BadRequest("the query string is invalid", errs...)
	}
	evs, err := h.svc.Events(c.Request().Context(), id, types, after, limit+1)
	if err != nil {
		return h.problem(err, false)
	}
	out := EventListResponse{Events: make([]EventResponse, 0, min(len(evs), limit)), Limit: limit}
	for i, e := range evs {
		if i == limit {
			out.NextCursor = seqCursor(evs[i-1].Seq)
			break
		}
		out.Events = append(out.Events, newEventResponse(e))
	}
	return c.JSON(http.StatusOK, out)
}

func newEventResponse(e campaign.Event) EventResponse {
	out := EventResponse{
		ID: e.ID.String(), Type: e.Type, CampaignID: e.CampaignID.String(), Version: e.Version,
		CorrelationID: e.CorrelationID, OccurredAt: e.OccurredAt, PublishedAt: e.PublishedAt, Payload: e.Payload,
	}
	if e.Actor != nil {
		s := e.Actor.String()
		out.Actor = &s
	}
	return out
}
