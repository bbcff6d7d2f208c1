package targeting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Campaigns reads campaigns with what they delivered; the campaign service implements it.
type Campaigns interface {
	// Live returns every live ACTIVE campaign on channel ("" for all), with Delivered filled
	// when withDelivered, in a number of queries that does not grow with the campaigns.
	Live(ctx context.Context, channel campaign.Channel, withDelivered bool, now time.Time) ([]*campaign.View, error)
	// Get returns one live campaign, with Delivered filled.
	Get(ctx context.Context, id campaign.ID) (*campaign.View, error)
}

// RuleEvaluator reads and evaluates rules; the Client implements it.
type RuleEvaluator interface {
	RuleSource
	Evaluate(ctx context.Context, r *Rule, evalContext json.RawMessage) (*Evaluation, error)
}

// Evaluator decides which campaigns a customer is served: the one place that judges serving
// status, scheduling windows, per-customer frequency, impression caps, budget and budget
// limit, then the Rules Engine.
type Evaluator struct {
	campaigns   Campaigns
	rules       RuleEvaluator  // nil: no Rules Engine; campaigns with rules are not eligible
	exposures   ExposureSource // nil: no frequency check
	concurrency int
	enforce     bool // judge schedules, caps and budgets (false: status, dates and rules only)
	quarantine  *quarantine
	zones       lifecycle.Zones
	now         func() time.Time
}

// EvaluatorConfig tunes an Evaluator. Zero fields take the defaults noted.
type EvaluatorConfig struct {
	// Rules reads and evaluates the campaigns' rules (default: none, a service without a Rules
	// Engine: campaigns with rules are not eligible). Leave it unset rather than set it to a
	// nil *Client.
	Rules RuleEvaluator
	// Concurrency bounds the rule evaluations one request runs at once (16).
	Concurrency int
	// Now is the clock that decides which campaigns are serving (default: time.Now).
	Now func() time.Time
	// Exposures gives each customer's counted impressions, for the frequency caps (default:
	// none, no frequency check).
	Exposures ExposureSource
	// SkipDeliveryChecks switches the checks of scheduling windows, impression caps, budgets
	// and frequency off: then only status, dates and rules decide. It exists as the baseline
	// that measures what the checks cost; a service never sets it.
	SkipDeliveryChecks bool
	// QuarantineAfter is how many evaluations of one rule in a row the Rules Engine must fail
	// to run (ErrRuleFailed: its 500 or 4xx for that rule while others evaluate) before the
	// rule is quarantined (3).
	QuarantineAfter int
	// QuarantineFor is how long a quarantined rule is not sent to the engine; then one trial
	// evaluation decides whether it stays quarantined (1m).
	QuarantineFor time.Duration
	// Logger hears of rules quarantined and released, naming the campaigns that use them
	// (default: discard).
	Logger *slog.Logger
	// Metrics hears of each rule's failures and quarantine (default: none).
	Metrics RuleMetrics
}

// NewEvaluator returns an evaluator over campaigns.
func NewEvaluator(campaigns Campaigns, cfg EvaluatorConfig) *Evaluator {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 16
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.QuarantineAfter < 1 {
		cfg.QuarantineAfter = 3
	}
	if cfg.QuarantineFor <= 0 {
		cfg.QuarantineFor = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noRuleMetrics{}
	}
	return &Evaluator{campaigns: campaigns, rules: cfg.Rules, concurrency: cfg.Concurrency, now: cfg.Now,
		exposures: cfg.Exposures, enforce: !cfg.SkipDeliveryChecks,
		quarantine: newQuarantine(cfg.QuarantineAfter, cfg.QuarantineFor, cfg.Logger, cfg.Metrics)}
}

// ReasonCode names why a considered campaign is not served.
type ReasonCode string

// The reasons a campaign is not served, as ?explain=true reports them.
const (
	ReasonNotServingStatus ReasonCode = "NOT_SERVING_STATUS" // not SERVING by status and dates
	ReasonChannel          ReasonCode = "CHANNEL"            // does not run on the request's channel
	ReasonOutOfSchedule    ReasonCode = "OUT_OF_SCHEDULE"    // outside every scheduling window
	ReasonFrequencyCap     ReasonCode = "FREQUENCY_CAP"      // the customer saw it as often as settings.frequency allows
	ReasonCapReached       ReasonCode = "CAP_REACHED"        // impressions reached settings.maxImpressions
	ReasonBudget           ReasonCode = "BUDGET"             // spend reached the budget or settings.budgetLimit, or today's spend settings.pacing.dailyBudget
	ReasonPacing           ReasonCode = "PACING"             // ahead of its pacing plan, the throttle held this customer back in this time slot
	ReasonRuleNotMet       ReasonCode = "RULE_NOT_MET"       // a targeting rule does not hold, is missing or not ACTIVE
	ReasonRuleError        ReasonCode = "RULE_ERROR"         // the engine cannot run a targeting rule (its words in the detail); the rule is quarantined on its own
	ReasonUndetermined     ReasonCode = "UNDETERMINED"       // a rule could not be read or evaluated, or the context lacks what it needs
)

// ReasonCodes lists every reason code.
func ReasonCodes() []ReasonCode {
	return []ReasonCode{ReasonNotServingStatus, ReasonChannel, ReasonOutOfSchedule, ReasonFrequencyCap,
		ReasonCapReached, ReasonBudget, ReasonPacing, ReasonRuleNotMet, ReasonRuleError, ReasonUndetermined}
}

// Reason is one reason a campaign is not served: its code, the rule at fault (RULE_NOT_MET,
// RULE_ERROR, UNDETERMINED) and the detail in words.
type Reason struct {
	Code   ReasonCode `json:"code"`
	RuleID *string    `json:"ruleId,omitempty"`
	Detail string     `json:"detail"`
}

// holdReasons is the reason each delivery hold gives.
var holdReasons = map[lifecycle.Hold]ReasonCode{
	lifecycle.HoldBudget: ReasonBudget, lifecycle.HoldCap: ReasonCapReached, lifecycle.HoldSchedule: ReasonOutOfSchedule,
}

// RuleResult is the verdict of one rule for one customer.
type RuleResult struct {
	RuleID   string          `json:"ruleId"`
	Eligible bool            `json:"eligible"`
	Result   json.RawMessage `json:"result"` // the engine's result object; null when it failed
	Reason   string          `json:"reason,omitempty"`
	// code is the reason code of a rule that is not met: RULE_NOT_MET (it does not hold, is
	// missing or not ACTIVE: a verdict), RULE_ERROR (the engine cannot run it: a verdict until
	// the rule is fixed) or UNDETERMINED (no verdict now: the engine failed, or the context
	// lacks what the rule needs).
	code ReasonCode
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
	// Why is every reason it is not served, typed (Reasons says the same in words).
	Why []Reason `json:"-"`
}

// Request is who is asking and in what context.
type Request struct {
	CustomerID string
	Context    json.RawMessage // a JSON object, passed to the engine as is
	Channel    campaign.Channel
	// Explain asks for every reason of every campaign considered and not served; without it,
	// a campaign held back by its status, schedule, caps or budgets is not sent to the engine.
	Explain bool
}

// Eligibility is the answer for every ACTIVE campaign: those the customer is eligible for,
// those that failed closed because a rule could not be evaluated, and (when explaining) those
// not served for a definite reason.
type Eligibility struct {
	Eligible     []Verdict
	Undetermined []Verdict
	NotServed    []Verdict // only with Request.Explain
}

// EligibleCampaigns judges every live ACTIVE campaign that runs on the channel (when given):
// served when it is SERVING by its status and dates, inside a scheduling window, under its
// impression cap and budgets, under the customer's frequency cap and its targeting rules all
// hold. Each distinct rule is evaluated once per request, at most e.concurrency at a time,
// whatever the number of campaigns sharing it. The database reads do not grow in number with
// the campaigns: the campaigns, their delivered totals, the customer's exposures.
func (e *Evaluator) EligibleCampaigns(ctx context.Context, req Request) (Eligibility, error) {
	now := e.now()
	live, err := e.campaigns.Live(ctx, req.Channel, e.enforce, now)
	if err != nil {
		return Eligibility{}, err
	}
	r := e.newRun(req)
	verdicts, err := e.prejudge(ctx, r, live, now)
	if err != nil {
		return Eligibility{}, err
	}
	var targeting []campaign.RuleID
	for i, c := range live {
		if req.Explain || len(verdicts[i].Why) == 0 {
			targeting = append(targeting, c.TargetingRules()...)
			r.usedBy(c, c.TargetingRules())
		}
	}
	r.evaluate(ctx, targeting)
	var personalization []campaign.RuleID
	for i, c := range live {
		if req.Explain || len(verdicts[i].Why) == 0 {
			r.judgeRules(&verdicts[i], c)
		}
		if p := c.Settings().Personalization; verdicts[i].Eligible && p.Enabled {
			personalization = append(personalization, p.Rules...)
			r.usedBy(c, p.Rules)
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
			if req.Explain {
				out.NotServed = append(out.NotServed, *v)
			}
		case req.Explain:
			out.NotServed = append(out.NotServed, *v)
		}
	}
	if err := ctx.Err(); err != nil {
		return Eligibility{}, err // the verdicts of a request cut short are not worth giving
	}
	return out, nil
}

// Campaign returns the verdict for one campaign, explaining every reason it is not eligible:
// its rules are evaluated whatever else holds it back.
func (e *Evaluator) Campaign(ctx context.Context, id campaign.ID, req Request) (Verdict, error) {
	c, err := e.campaigns.Get(ctx, id)
	if err != nil {
		return Verdict{}, err
	}
	now := e.now()
	r := e.newRun(req)
	vs, err := e.prejudge(ctx, r, []*campaign.View{c}, now)
	if err != nil {
		return Verdict{}, err
	}
	v := vs[0]
	r.usedBy(c, c.TargetingRules())
	r.usedBy(c, c.Settings().Personalization.Rules)
	r.evaluate(ctx, c.TargetingRules())
	r.judgeRules(&v, c)
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

// prejudge gives each campaign its verdict on everything but its rules: its serving status by
// status and dates, the request's channel, its delivery holds and the customer's frequency cap
// (read once for all the campaigns still in the running).
func (e *Evaluator) prejudge(ctx context.Context, r *run, cs []*campaign.View, now time.Time) ([]Verdict, error) {
	verdicts := make([]Verdict, len(cs))
	var open []*campaign.View // SERVING by status and dates: the frequency check's concern
	for i, c := range cs {
		v := &verdicts[i]
		*v = Verdict{CampaignID: c.ID().String(), Name: c.Name(), Reasons: []string{},
			Targeting: []RuleResult{}, Personalization: []RuleResult{}}
		if s := lifecycle.Serving(c.Status(), c.StopCode(), c.StartDate(), c.EndDate(), now); s != lifecycle.ServingServing {
			v.add(Reason{Code: ReasonNotServingStatus, Detail: fmt.Sprintf("the campaign is not serving (%s)", s)})
		} else {
			open = append(open, c)
		}
		if r.req.Channel != "" && !c.Settings().HasChannel(r.req.Channel) {
			v.add(Reason{Code: ReasonChannel, Detail: fmt.Sprintf("the campaign does not run on %s", r.req.Channel)})
		}
		if !e.enforce {
			continue
		}
		d := c.Delivery()
		holds := d.Holds(now)
		for _, h := range holds {
			v.add(Reason{Code: holdReasons[h], Detail: holdDetail(h, c, d)})
		}
		if len(holds) == 0 {
			if why := pacingReason(c, d, r.req.CustomerID, now); why != "" {
				v.add(Reason{Code: ReasonPacing, Detail: why})
			}
		}
	}
	if !e.enforce || e.exposures == nil || len(open) == 0 {
		return verdicts, nil
	}
	exposed, err := e.exposuresOf(ctx, r.req.CustomerID, open)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		if why := frequencyReason(&e.zones, c, exposed[c.ID()], now); why != "" {
			verdicts[i].add(Reason{Code: ReasonFrequencyCap, Detail: why})
		}
	}
	return verdicts, nil
}

// pacingReason says why the pacing throttle holds the customer back from c at now, "" when it
// does not: the campaign is ahead of its plan, and the customer's draw for this campaign and
// time slot (lifecycle.PacingDraw) is not below the share of requests served.
func pacingReason(c *campaign.View, d lifecycle.Delivery, customerID string, now time.Time) string {
	p := d.ServeProbability(now)
	if p >= 1 || lifecycle.PacingDraw(c.ID(), customerID, now) < p {
		return ""
	}
	return fmt.Sprintf("ahead of its %s pacing plan: spent %s %s of %s planned by now; %.0f%% of requests are served",
		d.Pacing.Mode, d.PeriodSpent().StringFixed(2), c.Budget().Currency, d.Pacing.Planned(now).StringFixed(2), 100*p)
}

// holdDetail says in words why a delivery hold applies.
func holdDetail(h lifecycle.Hold, c *campaign.View, d lifecycle.Delivery) string {
	switch h {
	case lifecycle.HoldBudget:
		if d.DailySpent() && !(lifecycle.Delivery{Budget: d.Budget, BudgetLimit: d.BudgetLimit, Delivered: d.Delivered}).BudgetSpent() {
			return fmt.Sprintf("today's spend %s reached the daily budget %s %s (until midnight %s)",
				d.Delivered.PeriodSpend.String(), d.Pacing.Budget.String(), c.Budget().Currency, d.Pacing.Location)
		}
		spend, cur := d.Delivered.Spend, c.Budget().Currency
		if d.BudgetLimit != nil && spend.GreaterThanOrEqual(*d.BudgetLimit) && spend.LessThan(d.Budget) {
			return fmt.Sprintf("spend %s reached the budget limit %s %s", spend.String(), d.BudgetLimit.String(), cur)
		}
		return fmt.Sprintf("spend %s reached the budget %s %s", spend.String(), d.Budget.String(), cur)
	case lifecycle.HoldCap:
		return fmt.Sprintf("%d impressions reached maxImpressions %d", d.Delivered.Impressions, *d.MaxImpressions)
	default:
		return "outside every scheduling window now"
	}
}

// add records a definite reason (one retrying will not change).
func (v *Verdict) add(r Reason) {
	v.Why = append(v.Why, r)
	v.Reasons = append(v.Reasons, r.Detail)
}

// run is one request's evaluations: each rule's verdict for the request's context, so that a
// rule several campaigns share is evaluated once.
type run struct {
	e   *Evaluator
	req Request

	mu      sync.Mutex
	results map[uuid.UUID]RuleResult
	// users are the campaigns of this request that use each rule, for the quarantine's log.
	users map[uuid.UUID][]string
}

func (e *Evaluator) newRun(req Request) *run {
	return &run{e: e, req: req, results: map[uuid.UUID]RuleResult{}, users: map[uuid.UUID][]string{}}
}

// usedBy records that campaign c uses rules. It runs before the evaluations start.
func (r *run) usedBy(c *campaign.View, rules []campaign.RuleID) {
	for _, id := range rules {
		u := r.users[uuid.UUID(id)]
		if n := len(u); n == 0 || u[n-1] != c.ID().String() {
			r.users[uuid.UUID(id)] = append(u, c.ID().String())
		}
	}
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
			res := r.e.evaluate(ctx, id, r.req.Context, r.users[id])
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

// judgeRules adds the targeting rules' results to a prejudged verdict and decides it, failing
// closed: a rule that could not be evaluated makes the campaign not eligible, and undetermined
// when nothing definite holds it back.
func (r *run) judgeRules(v *Verdict, c *campaign.View) {
	definite := len(v.Why) > 0
	rules := c.TargetingRules()
	v.Targeting = make([]RuleResult, len(rules))
	for i, id := range rules {
		res := r.result(id)
		v.Targeting[i] = res
		if res.Eligible {
			continue
		}
		rid := res.RuleID
		code := res.code
		if code == "" {
			code = ReasonRuleNotMet
		}
		if code != ReasonUndetermined {
			definite = true
		}
		v.Why = append(v.Why, Reason{Code: code, RuleID: &rid, Detail: res.Reason})
		v.Reasons = append(v.Reasons, fmt.Sprintf("rule %s: %s", res.RuleID, res.Reason))
	}
	v.Eligible = len(v.Why) == 0
	v.Undetermined = !v.Eligible && !definite
}

// finish adds to an eligible verdict its personalization results and A/B variant.
func (r *run) finish(v *Verdict, c *campaign.View) {
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
// holds for evalContext, through the rule's quarantine. campaigns are those that use it.
// Reasons name the kind of failure and quote the engine's own words, never our internals.
func (e *Evaluator) evaluate(ctx context.Context, id uuid.UUID, evalContext json.RawMessage, campaigns []string) RuleResult {
	res := RuleResult{RuleID: id.String(), Result: json.RawMessage("null")}
	if e.rules == nil {
		res.Reason, res.code = "could not be evaluated: no Rules Engine is configured", ReasonUndetermined
		return res
	}
	r, err := e.rules.Rule(ctx, id)
	switch {
	case errors.Is(err, ErrRuleNotFound):
		res.Reason = "not found in the Rules Engine"
		return res
	case err != nil:
		res.Reason, res.code = "could not be read: "+failure(err), ReasonUndetermined
		return res
	case r.Status != RuleActive:
		res.Reason = fmt.Sprintf("is %s, not ACTIVE", r.Status)
		return res
	}
	ev, last, err := e.quarantine.run(id, campaigns, func() (*Evaluation, error) {
		return e.rules.Evaluate(ctx, r, evalContext)
	})
	var rerr *RuleError
	switch {
	case errors.Is(err, errQuarantined):
		res.code = ReasonRuleError
		res.Reason = "is quarantined: the Rules Engine cannot evaluate it" + quoted(last) + "; it is tried again later"
		return res
	case errors.Is(err, ErrUnavailable):
		// Checked first: a 500 when no evaluation succeeds lately is an outage, not the rule.
		res.Reason, res.code = "could not be evaluated: "+failure(err), ReasonUndetermined
		return res
	case errors.As(err, &rerr):
		// The engine is up and cannot run this rule: asking again will not help until the
		// rule is fixed.
		res.code = ReasonRuleError
		res.Reason = fmt.Sprintf("the Rules Engine cannot evaluate it (status %d)%s", rerr.Status, quoted(rerr.Message))
		return res
	case err != nil:
		res.Reason, res.code = "could not be evaluated: "+failure(err), ReasonUndetermined
		return res
	}
	res.Eligible, res.Result = ev.Eligible, ev.Result
	switch {
	case !ev.Verdict:
		res.Reason = fmt.Sprintf("gives no eligible verdict (its category %q answers something else)", r.Category)
	case !ev.Eligible:
		why := engineReason(ev.Result)
		if field, missing := missingContext(why); missing {
			// Not a "no": the caller did not give what the rule needs, and may retry with it.
			res.code = ReasonUndetermined
			res.Reason = contextReason(field, why, evalContext)
			return res
		}
		res.Reason = "does not hold for this customer"
		if why != "" {
			res.Reason += fmt.Sprintf(" (the Rules Engine says %q)", why)
		}
	}
	return res
}

// quoted is ": "msg"" for a message, nothing without one.
func quoted(msg string) string {
	if msg == "" {
		return ""
	}
	return fmt.Sprintf(": %q", msg)
}

// engineReason is the engine's "reason" member of a result, cut to maxEngineMessage bytes.
func engineReason(result json.RawMessage) string {
	var r struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(result, &r) != nil {
		return ""
	}
	return printable(strings.TrimSpace(r.Reason), maxEngineMessage)
}

// missingWords spot the engine's reason for a context without what the rule needs: its
// PROMOTIONS strategy answers "Missing order_amount in context" for an absent or non-numeric
// order_amount.
var (
	missingWord  = regexp.MustCompile(`(?i)\bmissing\b`)
	missingField = regexp.MustCompile(`(?i)\bmissing\s+([A-Za-z_][\w.]*)\s+in\s+(?:the\s+)?context\b`)
)

// missingContext reports whether an engine's reason says the context lacks something, and
// which field when it names one.
func missingContext(why string) (field string, missing bool) {
	if !missingWord.MatchString(why) {
		return "", false
	}
	if m := missingField.FindStringSubmatch(why); m != nil {
		return m[1], true
	}
	return "", true
}

// contextReason says what the context lacks: a field it does not have, or has with a value
// the rule cannot use (the engine says "missing" for both).
func contextReason(field, why string, evalContext json.RawMessage) string {
	if field == "" {
		return fmt.Sprintf("cannot be judged: the context lacks what the rule needs (the Rules Engine says %q)", why)
	}
	var members map[string]json.RawMessage
	_ = json.Unmarshal(evalContext, &members)
	if v, ok := members[field]; ok && string(v) != "null" {
		return fmt.Sprintf("cannot be judged: the context's %s is not of the type the rule needs (the Rules Engine says %q)", field, why)
	}
	return fmt.Sprintf("cannot be judged: the context lacks %s, which the rule needs (the Rules Engine says %q)", field, why)
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
