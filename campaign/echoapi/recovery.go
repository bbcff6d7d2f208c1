package echoapi

import (
	"context"
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/idempotency"
)

// expect tells the idempotency layer, before the route's one write, how the route answers once
// that write has committed: status, the campaign as the write left it, its ETag, and a
// Location (location, when not nil). The answer is rendered and stored inside the write's
// transaction, so that a retry of a keyed request whose answer was lost replays it instead of
// writing again. It does nothing for a request without an Idempotency-Key.
func expect(c echo.Context, svc *campaign.Service, status int, location func(campaign.ID) string) {
	idempotency.Expect(c, CampaignAnswer(svc, status, location))
}

// CampaignAnswer renders the answer of a route whose write stores one campaign, as the route
// writes it itself: status, the campaign's representation, its ETag, and a Location when
// location is not nil. Other capabilities' routes that change a campaign through the service
// use it too.
func CampaignAnswer(svc *campaign.Service, status int, location func(campaign.ID) string) idempotency.Render {
	return func(ctx context.Context, written any) (idempotency.Answer, error) {
		c, ok := written.(*campaign.Campaign)
		if !ok {
			return idempotency.Answer{}, fmt.Errorf("echoapi: the write stored a %T, not a campaign", written)
		}
		v := svc.WrittenView(ctx, c)
		h := map[string]string{"ETag": httpx.ETag(v.Version())}
		if location != nil {
			h[echo.HeaderLocation] = location(v.ID())
		}
		return idempotency.JSONAnswer(status, NewResponse(v, svc.Now()), h)
	}
}

// bulkAnswer renders one campaign's result of a bulk action once its write has committed.
func (h *Handler) bulkAnswer(name string, id campaign.ID) idempotency.Render {
	return func(ctx context.Context, written any) (idempotency.Answer, error) {
		res := BulkResult{ID: id.String(), Status: 200}
		if name == "delete" {
			res.Status = 204
		} else {
			c, ok := written.(*campaign.Campaign)
			if !ok {
				return idempotency.Answer{}, fmt.Errorf("echoapi: the write stored a %T, not a campaign", written)
			}
			r := NewResponse(h.svc.WrittenView(ctx, c), h.svc.Now())
			res.Campaign = &r
		}
		return idempotency.JSONAnswer(res.Status, res, nil)
	}
}
