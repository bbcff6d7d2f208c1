// Package automation moves campaigns without a person: it completes campaigns whose end date
// has passed and pauses or completes campaigns that spend their budget. It is safe with
// several instances running against one database: every transition it makes is pinned to the
// version it read, so each happens once and the other instances' attempts fail harmlessly.
package automation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// Target is one campaign at the version the automation read.
type Target struct {
	ID      uuid.UUID
	Version int64
}

// Budget is what the automation needs to judge a campaign's spend.
type Budget struct {
	Target
	Status lifecycle.Status
	Amount decimal.Decimal
	// ThresholdPaused says the automation already paused it once for nearing its budget.
	ThresholdPaused bool
}

// Campaigns is the campaign store as the automation sees it (the campaign service implements it).
type Campaigns interface {
	// Ended lists up to limit ACTIVE or PAUSED campaigns whose end date has passed.
	Ended(ctx context.Context, limit int) ([]Target, error)
	// Budgets returns the live ACTIVE or PAUSED campaigns among ids.
	Budgets(ctx context.Context, ids []uuid.UUID) ([]Budget, error)
	// Apply makes an automatic transition, pinned to t.Version.
	Apply(ctx context.Context, t Target, action lifecycle.Action, code lifecycle.StopCode, reason string) error
}

// Spend is a campaign's total spend and impressions.
type Spend struct {
	CampaignID  uuid.UUID
	Amount      decimal.Decimal
	Impressions int64
}

// BudgetSource reports spend (the metrics capability implements it).
type BudgetSource interface {
	// SpendChangedSince returns the total spend of every campaign whose spend changed after
	// since, and the watermark to pass next time.
	SpendChangedSince(ctx context.Context, since time.Time) ([]Spend, time.Time, error)
}

// Config tunes the automation.
type Config struct {
	PauseAt    decimal.Decimal // share of the budget spent that pauses (0.9)
	CompleteAt decimal.Decimal // share that completes (1.0)
	BatchSize  int             // campaigns handled per tick and kind
}

// DefaultConfig pauses at 90% and completes at 100% of the budget.
func DefaultConfig() Config {
	return Config{PauseAt: decimal.RequireFromString("0.9"), CompleteAt: decimal.NewFromInt(1), BatchSize: 100}
}

// Automation is one instance of the automation.
type Automation struct {
	campaigns Campaigns
	budget    BudgetSource // nil: no budget automation
	cfg       Config
	logger    *slog.Logger

	mu        sync.Mutex // one tick at a time per instance; it guards the watermark
	watermark time.Time
}

// New returns an automation over campaigns; budget may be nil.
func New(campaigns Campaigns, budget BudgetSource, cfg Config, logger *slog.Logger) *Automation {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultConfig().BatchSize
	}
	return &Automation{campaigns: campaigns, budget: budget, cfg: cfg, logger: logger}
}

// Stats counts what one tick did.
type Stats struct {
	Completed, Paused, Skipped int
}

// Tick runs one pass. Transitions another instance made first count as skipped.
func (a *Automation) Tick(ctx context.Context) (Stats, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var st Stats
	ended, err := a.campaigns.Ended(ctx, a.cfg.BatchSize)
	if err != nil {
		return st, fmt.Errorf("automation: ended campaigns: %w", err)
	}
	for _, t := range ended {
		a.apply(ctx, &st, t, lifecycle.ActionComplete, lifecycle.StopEndDate, "the end date was reached")
	}
	if a.budget == nil {
		return st, nil
	}
	spends, next, err := a.budget.SpendChangedSince(ctx, a.watermark)
	if err != nil {
		return st, fmt.Errorf("automation: spend: %w", err)
	}
	if err := a.budgets(ctx, &st, spends); err != nil {
		return st, err
	}
	a.watermark = next
	return st, nil
}

func (a *Automation) budgets(ctx context.Context, st *Stats, spends []Spend) error {
	spent := make(map[uuid.UUID]decimal.Decimal, len(spends))
	ids := make([]uuid.UUID, 0, len(spends))
	for _, s := range spends {
		spent[s.CampaignID] = s.Amount
		ids = append(ids, s.CampaignID)
	}
	for len(ids) > 0 {
		n := min(len(ids), a.cfg.BatchSize)
		budgets, err := a.campaigns.Budgets(ctx, ids[:n])
		if err != nil {
			return fmt.Errorf("automation: budgets: %w", err)
		}
		ids = ids[n:]
		for _, b := range budgets {
			if !b.Amount.IsPositive() {
				continue
			}
			share := spent[b.ID].Div(b.Amount)
			switch {
			case share.GreaterThanOrEqual(a.cfg.CompleteAt):
				a.apply(ctx, st, b.Target, lifecycle.ActionComplete, lifecycle.StopBudgetExhausted,
					fmt.Sprintf("the budget is spent (%s%%)", share.Shift(2).StringFixed(1)))
			case b.Status == lifecycle.StatusActive && !b.ThresholdPaused && share.GreaterThanOrEqual(a.cfg.PauseAt):
				a.apply(ctx, st, b.Target, lifecycle.ActionPause, lifecycle.StopBudgetThreshold,
					fmt.Sprintf("%s%% of the budget is spent", share.Shift(2).StringFixed(1)))
			}
		}
	}
	return nil
}

// ErrLost is what Apply returns (wrapped) when another writer moved the campaign first.
var ErrLost = errors.New("the campaign changed before the automation could act")

func (a *Automation) apply(ctx context.Context, st *Stats, t Target, action lifecycle.Action, code lifecycle.StopCode, reason string) {
	err := a.campaigns.Apply(ctx, t, action, code, reason)
	switch {
	case err == nil:
		if action == lifecycle.ActionPause {
			st.Paused++
		} else {
			st.Completed++
		}
		a.logger.InfoContext(ctx, "automatic transition", slog.String("campaign_id", t.ID.String()),
			slog.String("action", string(action)), slog.String("code", string(code)), slog.String("reason", reason))
	case errors.Is(err, ErrLost):
		st.Skipped++
	default:
		st.Skipped++
		a.logger.WarnContext(ctx, "automatic transition failed", slog.String("campaign_id", t.ID.String()),
			slog.String("action", string(action)), slog.Any("error", err))
	}
}

// Run ticks every interval until ctx is done, running also after each tick (housekeeping
// such as purging expired idempotency keys).
func (a *Automation) Run(ctx context.Context, interval time.Duration, also ...func(context.Context) error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := a.Tick(ctx); err != nil && ctx.Err() == nil {
			a.logger.WarnContext(ctx, "automation tick failed", slog.Any("error", err))
		}
		for _, fn := range also {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				a.logger.WarnContext(ctx, "housekeeping failed", slog.Any("error", err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
