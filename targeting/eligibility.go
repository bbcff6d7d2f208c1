package targeting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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

// NewEvaluator returns an evaluator that runs at most concurrency rule evaluations at once per
// request; rules may be nil (no Rules Engine).
func NewEvaluator(campaigns Campaigns, rules RuleEvaluator, concurrency int) *Evaluator {
	return &Evaluator{campaigns: campaigns, rules: rules, concurrency: max(1, concurrency), now: time.Now}
}

// WithClock replaces the clock that decides which campaigns are serving (tests).
func (e *Evaluator) WithClock(now func() time.Time) *Evaluator {
	e.now = now
	return e
}

// RuleResult is the verdict of one rule for one customer.
type RuleResult struct {
	RuleID   string          `json:"ruleId"`
	Eligible bool            `json:"eligible"`
	Result   json.RawMessage `json:"result"` // the engine's result object; null when it failed
	Reason   string          `json:"reason,omitempty"`
	// failed: the engine could not give a verdict (as opposed to a rule that does not hold,
	// is missing or is not ACTIVE, which are verdicts).
	failed bool
}

// Verdict is a customer's eligibility for one campaign.
type Verdict struct {
	CampaignID string   `json:"campaignId"`
	Name       string   `json:"name"`
	Eligible   bool     `json:"eligible"`
	Reasons    []string `json:"reasons"`
	// Undetermined: not eligible only because a rule could not be read or evaluated (the
	// engine is down, say): the evaluation failed closed, and may pass when retried.
	Undetermined    bool         `json:"undetermined"`
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

// Eligibility is the answer for every serving campaign: those the customer is eligible for,
// and those that failed closed because a rule could not be evaluated.
type Eligibility struct {
	Eligible     []Verdict
	Undetermined []Verdict
}

// EligibleCampaigns judges every campaign that is ACTIVE and SERVING now and runs on the
// channel (when given): eligible when its targeting rules all hold for the request. Each
// distinct rule is evaluated once per request, at most e.concurrency at a time, whatever the
// number of campaigns sharing it.
func (e *Evaluator) EligibleCampaigns(ctx context.Context, req Request) (Eligibility, error) {
	now := e.now()
	var live []*campaign.Campaign
	f := campaign.Filter{Serving: []lifecycle.ServingStatus{lifecycle.ServingServing}, Now: now,
		Channel: req.Channel, Sort: campaign.SortCreatedAt, Limit: campaign.MaxPageSize}
	for {
		page, next, err := e.campaigns.List(ctx, f)
		if err != nil {
			return Eligibility{}, err
		}
		live = append(live, page...)
		if next == nil {
			break
		}
		f.After = next
	}
	r := e.newRun(req)
	var targeting []campaign.RuleID
	for _, c := range live {
		targeting = append(targeting, c.TargetingRules()...)
	}
	r.evaluate(ctx, targeting)
	verdicts := make([]Verdict, len(live))
	var personalization []campaign.RuleID
	for i, c := range live {
		verdicts[i] = r.judgeTargeting(c, now)
		if p := c.Settings().Personalization; verdicts[i].Eligible && p.Enabled {
			personalization = append(personalization, p.Rules...)
		}
	}
	r.evaluate(ctx, personalization)
	var out Eligibility
	for i, c := range live {
		v := &verdicts[i]
		switch {
		case v.Eligible:
			r.finish(v, c)
			out.Eligible = append(out.Eligible, *v)
		case v.Undetermined:
			out.Undetermined = append(out.Undetermined, *v)
		}
	}
	if err := ctx.Err(); err != nil {
		return Eligibility{}, err // the verdicts of a request cut short are not worth giving
	}
	return out, nil
}

// Campaign returns the verdict for one campaign, explaining every reason it is not eligible.
func (e *Evaluator) Campaign(ctx context.Context, id campaign.ID, req Request) (Verdict, error) {
	c, err := e.campaigns.Get(ctx, id)
	if err != nil {
		return Verdict{}, err
	}
	r := e.newRun(req)
	r.evaluate(ctx, c.TargetingRules())
	v := r.judgeTargeting(c, e.now())
	if v.Eligible {
		if p := c.Settings().Personalization; p.Enabled {
			r.evaluate(ctx, p.Rules)
		}
		r.finish(&v, c)
	}
	if err := ctx.Err(); err != nil {
		return Verdict{}, err
	}
	return v, nil
}

// run is one request's evaluations: each rule's verdict for the request's context, so that a
// rule several campaigns share is evaluated once.
type run struct {
	e   *Evaluator
	req Request

	mu      sync.Mutex
	results map[uuid.UUID]RuleResult
}

func (e *Evaluator) newRun(req Request) *run {
	return &run{e: e, req: req, results: map[uuid.UUID]RuleResult{}}
}

// evaluate evaluates the rules among ids not evaluated yet, at most e.concurrency at a time.
// It never fails: a rule that cannot be evaluated gets a failed result with its reason.
func (r *run) evaluate(ctx context.Context, ids []campaign.RuleID) {
	var g errgroup.Group
	g.SetLimit(r.e.concurrency)
	for _, rid := range ids {
		id := uuid.UUID(rid)
		r.mu.Lock()
		_, done := r.results[id]
		if !done {
			r.results[id] = RuleResult{} // claimed; filled in below
		}
		r.mu.Unlock()
		if done {
			continue
		}
		g.Go(func() error {
			res := r.e.evaluate(ctx, id, r.req.Context)
			r.mu.Lock()
			r.results[id] = res
			r.mu.Unlock()
			return nil
		})
	}
	_ = g.Wait() // the goroutines return nil: outcomes, good or bad, are in results
}

func (r *run) result(id campaign.RuleID) RuleResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.results[uuid.UUID(id)]
}

// judgeTargeting decides eligibility from the campaign's state and its targeting rules'
// results, failing closed: a rule that could not be evaluated makes it not eligible.
func (r *run) judgeTargeting(c *campaign.Campaign, now time.Time) Verdict {
	v := Verdict{CampaignID: c.ID().String(), Name: c.Name(), Reasons: []string{},
		Targeting: make([]RuleResult, len(c.TargetingRules())), Personalization: []RuleResult{}}
	definite := false // a reason that retrying will not change
	if s := c.Serving(now); s != lifecycle.ServingServing {
		v.Reasons = append(v.Reasons, fmt.Sprintf("the campaign is not serving (%s)", s))
		definite = true
	}
	if r.req.Channel != "" && !c.Settings().HasChannel(r.req.Channel) {
		v.Reasons = append(v.Reasons, fmt.Sprintf("the campaign does not run on %s", r.req.Channel))
		definite = true
	}
	for i, id := range c.TargetingRules() {
		res := r.result(id)
		v.Targeting[i] = res
		if !res.Eligible {
			v.Reasons = append(v.Reasons, fmt.Sprintf("rule %s: %s", res.RuleID, res.Reason))
			definite = definite || !res.failed
		}
	}
	v.Eligible = len(v.Reasons) == 0
	v.Undetermined = !v.Eligible && !definite
	return v
}

// finish adds to an eligible verdict its personalization results and A/B variant.
func (r *run) finish(v *Verdict, c *campaign.Campaign) {
	settings := c.Settings()
	if p := settings.Personalization; p.Enabled {
		v.Personalization = make([]RuleResult, len(p.Rules))
		for i, id := range p.Rules {
			v.Personalization[i] = r.result(id)
		}
	}
	if key := Assign(uuid.UUID(c.ID()), r.req.CustomerID, settings.ABTest); key != "" {
		v.Variant = &key
	}
}

// evaluate reads a rule (through the cache) and, when it is ACTIVE, asks the engine whether it
// holds for evalContext. Reasons name the kind of failure, never the engine's internals.
func (e *Evaluator) evaluate(ctx context.Context, id uuid.UUID, evalContext json.RawMessage) RuleResult {
	res := RuleResult{RuleID: id.String(), Result: json.RawMessage("null")}
	if e.rules == nil {
		res.Reason, res.failed = "could not be evaluated: no Rules Engine is configured", true
		return res
	}
	r, err := e.rules.Rule(ctx, id)
	switch {
	case errors.Is(err, ErrRuleNotFound):
		res.Reason = "not found in the Rules Engine"
		return res
	case err != nil:
		res.Reason, res.failed = "could not be read: "+failure(err), true
		return res
	case r.Status != RuleActive:
		res.Reason = fmt.Sprintf("is %s, not ACTIVE", r.Status)
		return res
	}
	ev, err := e.rules.Evaluate(ctx, r, evalContext)
	switch {
	case errors.Is(err, errRejected):
		// The engine is up and refuses this rule or context: asking again will not help.
		res.Reason = "was rejected by the Rules Engine (its DSL or the context does not fit its category)"
		return res
	case err != nil:
		res.Reason, res.failed = "could not be evaluated: "+failure(err), true
		return res
	}
	res.Eligible, res.Result = ev.Eligible, ev.Result
	switch {
	case !ev.Verdict:
		res.Reason = fmt.Sprintf("gives no eligible verdict (its category %q answers something else)", r.Category)
	case !ev.Eligible:
		res.Reason = "does not hold for this customer"
	}
	return res
}

// failure says why the engine gave no verdict, in words fit for an API client.
func failure(err error) string {
	switch {
	case errors.Is(err, errBreakerOpen):
		return "the Rules Engine is failing; calls are suspended for a while"
	case errors.Is(err, ErrMisconfigured):
		return "the Rules Engine URL is misconfigured"
	case errors.Is(err, ErrUnavailable):
		return "the Rules Engine is unavailable"
	case errors.Is(err, ErrInvalidResponse):
		return "the Rules Engine sent an invalid answer"
	case errors.Is(err, errRejected):
		return "the Rules Engine rejected the request"
	case errors.Is(err, errCallerGone), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "the request ran out of time"
	default:
		return "the Rules Engine could not be asked"
	}
}
