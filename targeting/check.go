package targeting

import (
	"context"
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
// must be of a category whose evaluation answers a boolean eligible. It reads the rules
// afresh (not from the cache): activation is rare and must see the engine's current truth.
type ActivationCheck struct {
	rules      RuleSource
	categories []string
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
}

// NewActivationCheck returns the check over rules.
func NewActivationCheck(rules RuleSource, cfg CheckConfig) *ActivationCheck {
	if len(cfg.TargetingCategories) == 0 {
		cfg.TargetingCategories = DefaultTargetingCategories
	}
	return &ActivationCheck{rules: rules, categories: slices.Clone(cfg.TargetingCategories)}
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

// CheckActivation returns a violation per rule that is missing, not ACTIVE or (a targeting
// rule) of a category that cannot target, targeting rules first, each list in its order, or an error (wrapping ErrUnavailable or
// ErrInvalidResponse) when the engine cannot tell. Each distinct rule is read once, the reads
// run concurrently (bounded), and the first error stops the rest.
func (a *ActivationCheck) CheckActivation(ctx context.Context, c *campaign.Campaign) ([]lifecycle.Violation, error) {
	type ref struct {
		field     string
		id        uuid.UUID
		targeting bool
	}
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
		}
	}
	return out, nil
}
