package targeting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Campaigns lists and reads campaigns; the campaign service implements it.
type Campaigns interface {
	List(ctx context.Context, f campaign.Filter) ([]*campaign.Campaign, *campaign.Cursor, error)
	Get(ctx context.Context, id campaign.ID) (*campaign.Campaign, error)
}

// RuleEvaluator reads and evaluates rules; the Client implements it.
type RuleEvaluator interface {
	RuleSource
	Evaluate(ctx context.Context, r *Rule, evalContext json.RawMessage) (*Evaluation, error)
}

// Evaluator decides which campaigns a customer is eligible for.
type Evaluator struct {
	campaigns   Campaigns
	rules       RuleEvaluator // nil: no Rules Engine; campaigns with rules are not eligible
	concurrency int
	now         func() time.Time
}

// NewEvaluator returns an evaluator; rules may be nil.
func NewEvaluator(campaigns Campaigns, rules RuleEvaluator, concurrency int) *Evaluator {
	return &Evaluator{campaigns: campaigns, rules: rules, concurrency: max(1, concurrency), now: time.Now}
}

// RuleResult is the verdict of one rule for one customer.
type RuleResult struct {
	RuleID   string          `json:"ruleId"`
	Eligible bool            `json:"eligible"`
	Result   json.RawMessage `json:"result"` // the engine's result object; null when it failed
	Reason   string          `json:"reason,omitempty"`
}

// Verdict is a customer's eligibility for one campaign.
type Verdict struct {
	CampaignID      string       `json:"campaignId"`
	Name            string       `json:"name"`
	Eligible        bool         `json:"eligible"`
	Reasons         []string     `json:"reasons"`
	Variant         *string      `json:"variant"`
	Targeting       []RuleResult `json:"targeting"`
	Personalization []RuleResult `json:"personalization"`
}

// Request is who is asking and in what context.
type Request struct {
	CustomerID string
	Context    json.RawMessage // a JSON object, passed to the engine as is
	Channel    campaign.Channel
}

// EligibleCampaigns returns the campaigns that are ACTIVE and SERVING now, run on the channel
// (when given) and whose targeting rules all hold for the request.
func (e *Evaluator) EligibleCampaigns(ctx context.Context, req Request) ([]Verdict, error) {
	var live []*campaign.Campaign
	f := campaign.Filter{Serving: []lifecycle.ServingStatus{lifecycle.ServingServing}, Now: e.now(),
		Channel: req.Channel, Sort: campaign.SortCreatedAt, Limit: campaign.MaxPageSize}
	for {
		page, next, err := e.campaigns.List(ctx, f)
		if err != nil {
			return nil, err
		}
		live = append(live, page...)
		if next == nil {
			break
		}
		f.After = next
	}
	verdicts := make([]Verdict, len(live))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.concurrency)
	for i, c := range live {
		g.Go(func() error {
			verdicts[i] = e.judge(gctx, c, req)
			return nil
		})
	}
	_ = g.Wait() // judge never fails: an unevaluable rule is a "no" with its reason
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Verdict, 0, len(verdicts))
	for _, v := range verdicts {
		if v.Eligible {
			out = append(out, v)
		}
	}
	return out, nil
}

// Campaign returns the verdict for one campaign, explaining every reason it is not eligible.
func (e *Evaluator) Campaign(ctx context.Context, id campaign.ID, req Request) (Verdict, error) {
	c, err := e.campaigns.Get(ctx, id)
	if err != nil {
		return Verdict{}, err
	}
	return e.judge(ctx, c, req), nil
}

// judge evaluates a campaign's rules concurrently (bounded) and fails closed: a rule that
// cannot be evaluated makes the customer not eligible, with the reason.
func (e *Evaluator) judge(ctx context.Context, c *campaign.Campaign, req Request) Verdict {
	v := Verdict{CampaignID: c.ID.String(), Name: c.Name, Reasons: []string{},
		Targeting: []RuleResult{}, Personalization: []RuleResult{}}
	if s := c.Serving(e.now()); s != lifecycle.ServingServing {
		v.Reasons = append(v.Reasons, fmt.Sprintf("the campaign is not serving (%s)", s))
	}
	if req.Channel != "" && !c.Settings.HasChannel(req.Channel) {
		v.Reasons = append(v.Reasons, fmt.Sprintf("the campaign does not run on %s", req.Channel))
	}
	v.Targeting = e.evaluateAll(ctx, c.TargetingRules, req.Context)
	for _, r := range v.Targeting {
		if !r.Eligible {
			v.Reasons = append(v.Reasons, fmt.Sprintf("rule %s: %s", r.RuleID, r.Reason))
		}
	}
	v.Eligible = len(v.Reasons) == 0
	if !v.Eligible {
		return v
	}
	if c.Settings.Personalization.Enabled {
		v.Personalization = e.evaluateAll(ctx, c.Settings.Personalization.Rules, req.Context)
	}
	if key := Assign(uuid.UUID(c.ID), req.CustomerID, c.Settings.ABTest); key != "" {
		v.Variant = &key
	}
	return v
}

func (e *Evaluator) evaluateAll(ctx context.Context, ids []campaign.RuleID, evalContext json.RawMessage) []RuleResult {
	out := make([]RuleResult, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.concurrency)
	for i, rid := range ids {
		g.Go(func() error {
			out[i] = e.evaluate(gctx, uuid.UUID(rid), evalContext)
			return nil
		})
	}
	_ = g.Wait()
	return out
}

func (e *Evaluator) evaluate(ctx context.Context, id uuid.UUID, evalContext json.RawMessage) RuleResult {
	res := RuleResult{RuleID: id.String(), Result: json.RawMessage("null")}
	if e.rules == nil {
		res.Reason = "no Rules Engine is configured to evaluate it"
		return res
	}
	r, err := e.rules.Rule(ctx, id)
	switch {
	case errors.Is(err, ErrRuleNotFound):
		res.Reason = "not found in the Rules Engine"
		return res
	case err != nil:
		res.Reason = "could not be read from the Rules Engine"
		return res
	case r.Status != RuleActive:
		res.Reason = fmt.Sprintf("is %s, not ACTIVE", r.Status)
		return res
	}
	ev, err := e.rules.Evaluate(ctx, r, evalContext)
	if err != nil {
		res.Reason = "could not be evaluated by the Rules Engine"
		return res
	}
	res.Eligible, res.Result = ev.Eligible, ev.Result
	if !ev.Eligible {
		res.Reason = "does not hold for this customer"
	}
	return res
}
