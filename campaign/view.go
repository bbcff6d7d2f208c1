package campaign

import (
	"context"
	"time"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// View is a campaign as a reader sees it: the aggregate, and what the service that read it
// knows beside it at that moment: what the campaign has delivered (all-time impressions and
// spend, from the metrics totals) and the approval thresholds it is judged by. Those are read
// models, never stored with the campaign and never part of its rules; the service's reads and
// writes hand out Views so that the serving and approval statuses a caller sees are judged as
// the service judges them.
type View struct {
	*Campaign
	delivered  lifecycle.Delivered
	zones      *lifecycle.Zones
	thresholds ApprovalThresholds
}

// NewView is c as a reader that knows what it delivered, d, sees it: no approval thresholds,
// time zones loaded afresh. The Service builds its own Views.
func NewView(c *Campaign, d lifecycle.Delivered) *View { return &View{Campaign: c, delivered: d} }

// Delivered is what the campaign has delivered so far (all-time impressions and spend), as the
// reader knew it; zero when it did not read it (a campaign that cannot serve by its status and
// dates, or a service without delivery totals).
func (v *View) Delivered() lifecycle.Delivered { return v.delivered }

// WithDelivered returns a copy of the view that has delivered d.
func (v *View) WithDelivered(d lifecycle.Delivered) *View {
	cp := *v
	cp.delivered = d
	return &cp
}

// Delivery is what, beyond its status and dates, decides whether the campaign is served (see
// Campaign.DeliveryWith), with what it delivered.
func (v *View) Delivery() lifecycle.Delivery { return v.DeliveryWith(v.zones, v.delivered) }

// Serving is the campaign's serving status at now: its status and dates, then, when those say
// SERVING, its scheduling windows, impression cap and budgets against Delivered.
func (v *View) Serving(now time.Time) lifecycle.ServingStatus {
	return v.ServingWith(v.zones, v.delivered, now)
}

// ApprovalStatus is the campaign's approval status under the thresholds of the service that
// read it (see Campaign.ApprovalStatusUnder).
func (v *View) ApprovalStatus() ApprovalStatus { return v.ApprovalStatusUnder(v.thresholds) }

// ApprovalThresholds are the thresholds the service that read the campaign judges it by.
func (v *View) ApprovalThresholds() ApprovalThresholds { return v.thresholds.clone() }

// deliveredKey carries, in the context of a write, what the campaign had delivered when the
// use case read it (a transition to ACTIVE reads it first), for WrittenView.
type deliveredKey struct{}

func withDelivered(ctx context.Context, d lifecycle.Delivered) context.Context {
	return context.WithValue(ctx, deliveredKey{}, d)
}

// WrittenView is c as a write of the service leaves it, viewed as the use case will hand it
// out, ctx being the write's context. A store's write hands c to the context's hooks inside
// its transaction (the recovery point of a keyed request, platform/idempotency, renders the
// request's answer from it there), before the use case has returned its View.
func (s *Service) WrittenView(ctx context.Context, c *Campaign) *View {
	d, _ := ctx.Value(deliveredKey{}).(lifecycle.Delivered)
	return s.view(c, d)
}

// PacingPlan is the campaign's pacing as the pacing index judges it (Campaign.PacingPlan),
// zones loaded by the service that read it.
func (v *View) PacingPlan() lifecycle.Pacing { return v.Campaign.PacingPlan(v.zones) }
