package targeting

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/sony/gobreaker/v2"
)

// RuleMetrics receives the per-rule measurements of the Evaluator; platform/observability
// implements it. Only rules that fail get a series, so the label's cardinality stays with the
// broken rules.
type RuleMetrics interface {
	// RuleError counts one evaluation of rule that the Rules Engine could not run
	// (ErrRuleFailed), or that its quarantine answered without asking.
	RuleError(rule string)
	// RuleQuarantined reports whether rule is quarantined now.
	RuleQuarantined(rule string, quarantined bool)
}

type noRuleMetrics struct{}

func (noRuleMetrics) RuleError(string)             {}
func (noRuleMetrics) RuleQuarantined(string, bool) {}

// quarantine isolates rules that the Rules Engine cannot evaluate: each rule has its own
// breaker, which only that rule's failures (ErrRuleFailed) trip. A quarantined rule is not
// sent to the engine for a while; its campaigns get RULE_ERROR with the engine's last words,
// and every other rule keeps being evaluated. Outages are the client's breaker's concern.
type quarantine struct {
	after   uint32
	period  time.Duration
	logger  *slog.Logger
	metrics RuleMetrics

	mu    sync.Mutex
	rules map[uuid.UUID]*ruleState
	// lastOK is when an evaluation of any rule last succeeded (Unix nanoseconds).
	lastOK atomic.Int64
}

// ruleState is one rule's breaker and what the engine last said about it.
type ruleState struct {
	breaker *gobreaker.CircuitBreaker[struct{}]

	mu        sync.Mutex
	message   string    // the engine's last error for it
	campaigns []string  // the campaigns that last asked for it (for the log)
	failing   time.Time // when its current run of failures began (zero: none)
}

// errNotIsolated marks a rule failure that does not count toward its quarantine: no other
// evaluation succeeded since the rule began failing, so every rule may be failing alike (a
// 4xx for all of them, say), which is no reason to single this one out.
var errNotIsolated = errors.New("no other evaluation succeeded meanwhile")

// maxTrackedRules bounds the rule states kept; past it, those of healthy rules are dropped.
const maxTrackedRules = 50_000

func newQuarantine(after int, period time.Duration, logger *slog.Logger, metrics RuleMetrics) *quarantine {
	return &quarantine{after: uint32(after), period: period, logger: logger, metrics: metrics,
		rules: map[uuid.UUID]*ruleState{}}
}

// errQuarantined: the rule's breaker refused the call.
var errQuarantined = errors.New("quarantined")

// run evaluates rule id through its breaker. campaigns are those that use it in this request.
// It returns errQuarantined, with the engine's last words, when the rule is quarantined.
func (q *quarantine) run(id uuid.UUID, campaigns []string, eval func() (*Evaluation, error)) (*Evaluation, string, error) {
	s := q.state(id)
	s.mu.Lock()
	if len(campaigns) > 0 {
		s.campaigns = campaigns
	}
	s.mu.Unlock()
	var out *Evaluation
	var evalErr error // what eval said, before the breaker's marks
	_, err := s.breaker.Execute(func() (struct{}, error) {
		var err error
		out, err = eval()
		evalErr = err
		now := time.Now()
		if err == nil {
			q.lastOK.Store(now.UnixNano())
			s.mu.Lock()
			s.failing = time.Time{}
			s.mu.Unlock()
			return struct{}{}, nil
		}
		rerr := (*RuleError)(nil)
		if !errors.As(err, &rerr) || errors.Is(err, ErrUnavailable) {
			return struct{}{}, err
		}
		q.metrics.RuleError(id.String())
		// Kept before the breaker hears of the failure, so that the log of its opening
		// quotes it.
		s.mu.Lock()
		s.message = rerr.Message
		if s.failing.IsZero() {
			s.failing = now
		}
		isolated := q.lastOK.Load() > s.failing.UnixNano()
		s.mu.Unlock()
		if !isolated {
			return struct{}{}, fmt.Errorf("%w: %w", errNotIsolated, err)
		}
		return struct{}{}, err
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		q.metrics.RuleError(id.String())
		s.mu.Lock()
		defer s.mu.Unlock()
		return nil, s.message, errQuarantined
	}
	return out, "", evalErr
}

// state returns the rule's state, made on first use.
func (q *quarantine) state(id uuid.UUID) *ruleState {
	q.mu.Lock()
	defer q.mu.Unlock()
	if s, ok := q.rules[id]; ok {
		return s
	}
	if len(q.rules) >= maxTrackedRules {
		for k, s := range q.rules {
			if s.breaker.State() == gobreaker.StateClosed {
				delete(q.rules, k)
			}
		}
	}
	s := &ruleState{}
	rule := id.String()
	s.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        rule,
		MaxRequests: 1, // half-open: one trial evaluation decides
		Timeout:     q.period,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= q.after },
		// Only this rule's own failures count. An outage, a timeout, the caller leaving or an
		// invalid answer say nothing about the rule: they are left out, neither failure nor
		// success.
		IsExcluded: func(err error) bool {
			return err != nil && (!errors.Is(err, ErrRuleFailed) || errors.Is(err, ErrUnavailable) || errors.Is(err, errNotIsolated))
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			s.mu.Lock()
			msg, campaigns := s.message, s.campaigns
			s.mu.Unlock()
			switch to {
			case gobreaker.StateOpen:
				q.metrics.RuleQuarantined(rule, true)
				q.logger.Warn("the Rules Engine cannot evaluate a rule: it is quarantined, its campaigns are not served",
					slog.String("rule", rule), slog.Any("campaigns", campaigns), slog.String("engine_error", msg),
					slog.Duration("for", q.period), slog.String("from", from.String()))
			case gobreaker.StateClosed:
				q.metrics.RuleQuarantined(rule, false)
				q.logger.Info("a quarantined rule evaluates again", slog.String("rule", rule), slog.Any("campaigns", campaigns))
			}
		},
	})
	q.rules[id] = s
	return s
}
