package targeting

import (
	"context"
	"errors"
	"fmt"
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
// personalization rule must exist in the Rules Engine and be ACTIVE. It reads the rules
// afresh (not from the cache): activation is rare and must see the engine's current truth.
type ActivationCheck struct {
	rules RuleSource
}

// NewActivationCheck returns the check over rules.
func NewActivationCheck(rules RuleSource) *ActivationCheck { return &ActivationCheck{rules: rules} }

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

// CheckActivation returns one violation per rule that is missing or not ACTIVE, targeting
// rules first, each list in its order, or an error (wrapping ErrUnavailable or
// ErrInvalidResponse) when the engine cannot tell. Each distinct rule is read once, the reads
// run concurrently (bounded), and the first error stops the rest.
func (a *ActivationCheck) CheckActivation(ctx context.Context, c *campaign.Campaign) ([]lifecycle.Violation, error) {
	type ref struct {
		field string
		id    uuid.UUID
	}
	var refs []ref
	for i, id := range c.TargetingRules() {
		refs = append(refs, ref{fmt.Sprintf("targetingRules[%d]", i), uuid.UUID(id)})
	}
	for i, id := range c.Settings().Personalization.Rules {
		refs = append(refs, ref{fmt.Sprintf("settings.personalization.rules[%d]", i), uuid.UUID(id)})
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
		case rule.Status != RuleActive:
			out = append(out, lifecycle.Violation{Field: r.field,
				Message: fmt.Sprintf("rule %s is %s, not ACTIVE", r.id, rule.Status)})
		}
	}
	return out, nil
}
