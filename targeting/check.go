package targeting

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

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

// CheckActivation returns one violation per rule that is missing or not ACTIVE, or an error
// (wrapping ErrUnavailable or ErrInvalidResponse) when the engine cannot tell.
func (a *ActivationCheck) CheckActivation(ctx context.Context, c *campaign.Campaign) ([]lifecycle.Violation, error) {
	var out []lifecycle.Violation
	check := func(field string, ids []campaign.RuleID) error {
		for i, rid := range ids {
			id := uuid.UUID(rid)
			var r *Rule
			var err error
			if f, ok := a.rules.(freshRules); ok {
				r, err = f.RuleFresh(ctx, id)
			} else {
				r, err = a.rules.Rule(ctx, id)
			}
			switch {
			case errors.Is(err, ErrRuleNotFound):
				out = append(out, lifecycle.Violation{Field: fmt.Sprintf("%s[%d]", field, i),
					Message: fmt.Sprintf("rule %s not found in the Rules Engine", id)})
			case err != nil:
				return err
			case r.Status != RuleActive:
				out = append(out, lifecycle.Violation{Field: fmt.Sprintf("%s[%d]", field, i),
					Message: fmt.Sprintf("rule %s is %s, not ACTIVE", id, r.Status)})
			}
		}
		return nil
	}
	if err := check("targetingRules", c.TargetingRules); err != nil {
		return nil, err
	}
	if err := check("settings.personalization.rules", c.Settings.Personalization.Rules); err != nil {
		return nil, err
	}
	return out, nil
}
