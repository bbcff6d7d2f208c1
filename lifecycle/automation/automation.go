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
	"sync/atomic"
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

// Budget is what the automation needs to judge a campaign's spend and impressions.
type Budget struct {
	Target
	Status lifecycle.Status
	Amount decimal.Decimal
	// Limit is the campaign's budget limit (nil: none): spend reaching it pauses (BUDGET_LIMIT).
	Limit *decimal.Decimal
	// MaxImpressions is the campaign's impression cap (nil: none): reaching it pauses
	// (CAP_REACHED).
	MaxImpressions *int64
	// ThresholdPaused says the automation already paused it once for nearing its budget.
	ThresholdPaused bool
}

// Move is one automatic transition: the action, why (code and words) and, when the campaign
// stops because its spend crossed 100% of its budget, that spend and budget (the campaign
// records a budget-exceeded event with the transition, in the same transaction).
type Move struct {
	Action   lifecycle.Action
	Code     lifecycle.StopCode
	Reason   string
	Exceeded *Exceeded
}

// Exceeded is a spend at or past 100% of the budget.
type Exceeded struct {
	Spend, Budget decimal.Decimal
}

// Campaigns is the campaign store as the automation sees it (the campaign service implements it).
type Campaigns interface {
	// Ended lists up to limit ACTIVE or PAUSED campaigns whose end date has passed.
	Ended(ctx context.Context, limit int) ([]Target, error)
	// Budgets returns the live ACTIVE or PAUSED campaigns among ids.
	Budgets(ctx context.Context, ids []uuid.UUID) ([]Budget, error)
	// Apply makes an automatic transition, pinned to t.Version: it happens once, whatever
	// the number of instances trying.
	Apply(ctx context.Context, t Target, m Move) error
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

// Config tunes the automation. Zero fields take the defaults noted.
type Config struct {
	PauseAt    decimal.Decimal // share of the budget spent that pauses (0.9)
	CompleteAt decimal.Decimal // share that completes (1.0)
	BatchSize  int             // campaigns handled per tick and kind (100)
	// Budget reports spend (default: none, and no budget automation: campaigns only complete
	// at their end date).
	Budget BudgetSource
	// Logger hears about each automatic transition (default: discard).
	Logger *slog.Logger
}

// Automation is one instance of the automation.
type Automation struct {
	campaigns Campaigns
	budget    BudgetSource // nil: no budget automation
	cfg       Config
	logger    *slog.Logger

	mu        sync.Mutex // one tick at a time per instance; it guards the watermark
	watermark time.Time
	lastTick  atomic.Int64 // Unix nanoseconds at which the last tick finished; 0: none yet
}

// LastTick is when the last tick finished, failed or not (zero before the first): the
// automation is alive while it keeps moving.
func (a *Automation) LastTick() time.Time {
	if n := a.lastTick.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// New returns an automation over campaigns.
func New(campaigns Campaigns, cfg Config) *Automation {
	if !cfg.PauseAt.IsPositive() {
		cfg.PauseAt = decimal.RequireFromString("0.9")
	}
	if !cfg.CompleteAt.IsPositive() {
		cfg.CompleteAt = decimal.NewFromInt(1)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Automation{campaigns: campaigns, budget: cfg.Budget, cfg: cfg, logger: cfg.Logger}
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
		a.apply(ctx, &st, t, Move{Action: lifecycle.ActionComplete, Code: lifecycle.StopEndDate, Reason: "the end date was reached"})
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
	spent := make(map[uuid.UUID]Spend, len(spends))
	ids := make([]uuid.UUID, 0, len(spends))
	for _, s := range spends {
		spent[s.CampaignID] = s
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
			if m, ok := a.judge(b, spent[b.ID]); ok {
				a.apply(ctx, st, b.Target, m)
			}
		}
	}
	return nil
}

// judge decides what a campaign's spend and impressions call for, if anything: completing at
// CompleteAt of the budget (with the budget-exceeded record from 100%), else pausing an ACTIVE
// campaign at its budget limit, at its impression cap, or once at PauseAt of the budget.
func (a *Automation) judge(b Budget, s Spend) (Move, bool) {
	var share decimal.Decimal
	if b.Amount.IsPositive() {
		share = s.Amount.Div(b.Amount)
	}
	pct := share.Shift(2).StringFixed(1)
	switch {
	case b.Amount.IsPositive() && share.GreaterThanOrEqual(a.cfg.CompleteAt):
		m := Move{Action: lifecycle.ActionComplete, Code: lifecycle.StopBudgetExhausted,
			Reason: fmt.Sprintf("the budget is spent (%s%%)", pct)}
		if s.Amount.GreaterThanOrEqual(b.Amount) {
			m.Exceeded = &Exceeded{Spend: s.Amount, Budget: b.Amount}
		}
		return m, true
	case b.Status != lifecycle.StatusActive:
		return Move{}, false
	case b.Limit != nil && b.Limit.IsPositive() && s.Amount.GreaterThanOrEqual(*b.Limit):
		return Move{Action: lifecycle.ActionPause, Code: lifecycle.StopBudgetLimit,
			Reason: fmt.Sprintf("spend (%s) reached the budget limit (%s)", s.Amount.String(), b.Limit.String())}, true
	case b.MaxImpressions != nil && s.Impressions >= *b.MaxImpressions:
		return Move{Action: lifecycle.ActionPause, Code: lifecycle.StopCapReached,
			Reason: fmt.Sprintf("impressions (%d) reached the cap (%d)", s.Impressions, *b.MaxImpressions)}, true
	case b.Amount.IsPositive() && !b.ThresholdPaused && share.GreaterThanOrEqual(a.cfg.PauseAt):
		return Move{Action: lifecycle.ActionPause, Code: lifecycle.StopBudgetThreshold,
			Reason: fmt.Sprintf("%s%% of the budget is spent", pct)}, true
	}
	return Move{}, false
}

// ErrLost is what Apply returns (wrapped) when another writer moved the campaign first.
var ErrLost = errors.New("the campaign changed before the automation could act")

func (a *Automation) apply(ctx context.Context, st *Stats, t Target, m Move) {
	err := a.campaigns.Apply(ctx, t, m)
	action, code, reason := m.Action, m.Code, m.Reason
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
		a.lastTick.Store(time.Now().UnixNano())
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
