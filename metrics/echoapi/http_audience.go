package echoapi

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// Pages of GET /audience.
const (
	DefaultAudiencePage = 50
	MaxAudiencePage     = 100
)

// AudienceMember is one customer a campaign reached.
type AudienceMember struct {
	CustomerID      string    `json:"customerId"`
	Variant         *string   `json:"variant"` // the A/B variant of the customer's impressions
	Exposures       int64     `json:"exposures"`
	FirstExposureAt time.Time `json:"firstExposureAt"`
	LastExposureAt  time.Time `json:"lastExposureAt"`
}

// AudienceResponse is GET /campaigns/{id}/audience: the campaign's reach totals and one page
// of the customers it reached, in customer id order.
type AudienceResponse struct {
	CampaignID  string           `json:"campaignId"`
	Reach       int64            `json:"reach"`
	Impressions int64            `json:"impressions"`
	Frequency   *metrics.Fixed2  `json:"frequency"`
	Customers   []AudienceMember `json:"customers"`
	Limit       int              `json:"limit"`
	NextCursor  *string          `json:"nextCursor"`
}

func (h *Handler) audience(c echo.Context) error {
	c0, err := h.campaign(c)
	if err != nil {
		return err
	}
	limit, after, err := audiencePage(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cid := uuid.UUID(c0.ID())
	rows, err := h.store.TotalRows(ctx, cid)
	if err != nil {
		return err
	}
	out := AudienceResponse{CampaignID: c0.ID().String(), Customers: []AudienceMember{}, Limit: limit}
	for _, r := range rows {
		out.Reach += r.Reach // both fit: the store refuses totals beyond the 64-bit range
		out.Impressions += r.Impressions
	}
	if out.Reach > 0 {
		out.Frequency = &metrics.Fixed2{Decimal: decimal.NewFromInt(out.Impressions).Div(decimal.NewFromInt(out.Reach)).Round(2)}
	}
	page, err := h.store.Audience(ctx, cid, after, limit+1)
	if err != nil {
		return err
	}
	for i, e := range page {
		if i == limit {
			next := base64.RawURLEncoding.EncodeToString([]byte(page[i-1].CustomerID))
			out.NextCursor = &next
			break
		}
		m := AudienceMember{CustomerID: e.CustomerID, Exposures: e.Impressions, FirstExposureAt: e.First, LastExposureAt: e.Last}
		if e.Variant != "" {
			m.Variant = &e.Variant
		}
		out.Customers = append(out.Customers, m)
	}
	return c.JSON(http.StatusOK, out)
}

// audiencePage reads limit (1 to MaxAudiencePage) and cursor (the last customer id of the
// previous page, base64url-encoded).
func audiencePage(c echo.Context) (int, string, error) {
	var errs []httpx.FieldError
	limit := DefaultAudiencePage
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxAudiencePage {
			errs = append(errs, httpx.FieldError{Field: "limit", Message: fmt.Sprintf("must be an integer from 1 to %d", MaxAudiencePage)})
		}
		limit = n
	}
	var after string
	if s := c.QueryParam("cursor"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 || !utf8.Valid(b) || utf8.RuneCount(b) > metrics.MaxCustomerIDLen || bytes.IndexByte(b, 0) >= 0 {
			errs = append(errs, httpx.FieldError{Field: "cursor", Message: "is not a cursor this service issued"})
		}
		after = string(b)
	}
	if len(errs) > 0 {
		return 0, "", httpx.BadRequest("the query string is invalid", errs...)
	}
	return limit, after, nil
}
