package targeting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// RuleSource reads rule metadata; the Client implements it.
type RuleSource interface {
	Rule(ctx context.Context, id uuid.UUID) (*Rule, error)
}

// ActivationCheck vets a campaign before it starts or resumes serving: every targeting and
// personalization rule must exist in the Rules Engine and be ACTIVE, and every targeting rule
// must be of a category whose evaluation answers a boolean eligible. When its source can
// evaluate (the Client can), each such targeting rule is also evaluated once with a neutral
// context: a rule the engine cannot run (its DSL does not parse, say) is caught here rather
// than at serving. It reads the rules afresh (not from the cache): activation is rare and must
// see the engine's current truth.
type ActivationCheck struct {
	rules      RuleSource
	categories []string
	trial      json.RawMessage
}

// DefaultTargetingCategories are the rule categories whose evaluation answers a boolean
// eligible in the Rules Engine today: PROMOTIONS ({"eligible": true, "discount_percentage":
// 10}). TAXES answers {"tax_rate": 0.21}, and other categories have no evaluation strategy.
var DefaultTargetingCategories = []string{"PROMOTIONS"}

// CheckConfig tunes the activation check. Zero values take the defaults noted.
type CheckConfig struct {
	// TargetingCategories are the categories a targeting rule may have
	// (DefaultTargetingCategories). Personalization rules may have any.
	TargetingCategories []string
	// TrialContext is the context of the trial evaluation ({}): no customer's data, so that
	// the engine's answer is about the rule alone.
	TrialContext json.RawMessage
}

// NewActivationCheck returns the check over rules.
func NewActivationCheck(rules RuleSource, cfg CheckConfig) *ActivationCheck {
	if len(cfg.TargetingCategories) == 0 {
		cfg.TargetingCategories = DefaultTargetingCategories
	}
	if len(cfg.TrialContext) == 0 {
		cfg.TrialContext = json.RawMessage(`{}`)
	}
	return &ActivationCheck{rules: rules, categories: slices.Clone(cfg.TargetingCategories), trial: cfg.TrialContext}
}

var _ campaign.TargetingVerifier = (*ActivationCheck)(nil)

// VerifiesTargeting marks this check as the one that vouches for targeting.
func (*ActivationCheck) VerifiesTargeting() bool { return true }

// freshRules bypasses a client's cache, when the source has one.
type freshRules interface {
	RuleFresh(ctx context.Context, id uuid.UUID) (*Rule, error)
}

// checkConcurrency bounds the rule reads one activation check runs at once: enough to make a
// campaign with 100 rules quick, few enough not to flood the engine.
const checkConcurrency = 8

// ref is one rule a campaign names, and where.
type ref struct {
	field     string
	id        uuid.UUID
	targeting bool
}

// evaluator is a RuleSource that can also evaluate; the Client is one.
type evaluator interface {
	Evaluate(ctx context.Context, r *Rule, evalContext json.RawMessage) (*Evaluation, error)
}

// CheckActivation returns a violation per rule that is missing, not ACTIVE or (a targeting
// rule) of a category that cannot target or that the engine cannot evaluate (quoting its
// message), targeting rules first, each list in its order, or an error (wrapping
// ErrUnavailable or ErrInvalidResponse) when the engine cannot tell. Each distinct rule is read
// once and each distinct targeting rule evaluated once, concurrently (bounded); the first error
// stops the rest.
func (a *ActivationCheck) CheckActivation(ctx context.Context, c *campaign.Campaign) ([]lifecycle.Violation, error) {
	var refs []ref
	for i, id := range c.TargetingRules() {
		refs = append(refs, ref{fmt.Sprintf("targetingRules[%d]", i), uuid.UUID(id), true})
	}
	for i, id := range c.Settings().Personalization.Rules {
		refs = append(refs, ref{fmt.Sprintf("settings.personalization.rules[%d]", i), uuid.UUID(id), false})
	}
	read := a.rules.Rule
	if f, ok := a.rules.(freshRules); ok {
		read = f.RuleFresh
	}
	var mu sync.Mutex
	found := make(map[uuid.UUID]*Rule, len(refs)) // nil: not found
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(checkConcurrency)
	for _, r := range refs {
		mu.Lock()
		_, seen := found[r.id]
		found[r.id] = nil
		mu.Unlock()
		if seen {
			continue
		}
		g.Go(func() error {
			rule, err := read(gctx, r.id)
			if err != nil && !errors.Is(err, ErrRuleNotFound) {
				return err
			}
			mu.Lock()
			found[r.id] = rule
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	failed, err := a.trials(ctx, refs, found)
	if err != nil {
		return nil, err
	}
	var out []lifecycle.Violation
	for _, r := range refs {
		switch rule := found[r.id]; {
		case rule == nil:
			out = append(out, lifecycle.Violation{Field: r.field,
				Message: fmt.Sprintf("rule %s not found in the Rules Engine", r.id)})
		default:
			if rule.Status != RuleActive {
				out = append(out, lifecycle.Violation{Field: r.field,
					Message: fmt.Sprintf("rule %s is %s, not ACTIVE", r.id, rule.Status)})
			}
			if r.targeting && !slices.Contains(a.categories, rule.Category) {
				out = append(out, lifecycle.Violation{Field: r.field,
					Message: fmt.Sprintf("rule %s has category %q, which cannot target: its evaluation gives no eligible verdict (targeting categories: %s)",
						r.id, rule.Category, strings.Join(a.categories, ", "))})
			}
			if rerr := failed[r.id]; r.targeting && rerr != nil {
				msg := fmt.Sprintf("rule %s cannot be evaluated by the Rules Engine: it answered %d", r.id, rerr.Status)
				if rerr.Message != "" {
					msg += fmt.Sprintf(" %q", rerr.Message)
				}
				out = append(out, lifecycle.Violation{Field: r.field, Message: msg})
			}
		}
	}
	return out, nil
}

// trials evaluates once, with the neutral context, each distinct targeting rule that passed
// the other checks, and returns the engine's refusal of each rule it cannot run. Any other
// failure (the engine down, an invalid answer) is an error: activation fails safe.
func (a *ActivationCheck) trials(ctx context.Context, refs []ref, found map[uuid.UUID]*Rule) (map[uuid.UUID]*RuleError, error) {
	ev, ok := a.rules.(evaluator)
	if !ok {
		return nil, nil
	}
	var mu sync.Mutex
	failed := map[uuid.UUID]*RuleError{}
	tried := map[uuid.UUID]bool{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(checkConcurrency)
	for _, r := range refs {
		rule := found[r.id]
		if !r.targeting || tried[r.id] || rule == nil || rule.Status != RuleActive || !slices.Contains(a.categories, rule.Category) {
			continue
		}
		tried[r.id] = true
		g.Go(func() error {
			_, err := ev.Evaluate(gctx, rule, a.trial)
			var rerr *RuleError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &rerr):
				// Even when the breaker counted it (no evaluation succeeded lately), the
				// engine answered in its own words about this rule: the rule is at fault.
				mu.Lock()
				failed[r.id] = rerr
				mu.Unlock()
				return nil
			default:
				return fmt.Errorf("trial evaluation of rule %s: %w", r.id, err)
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return failed, nil
}
