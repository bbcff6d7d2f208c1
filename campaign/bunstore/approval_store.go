package bunstore

import (
	"maps"
	"slices"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/engine-rules-sp/campaigns/campaign"
)

// approvalIn keeps the campaigns whose approval status under thresholds t is one of statuses.
// PENDING, APPROVED and REJECTED are stored; REQUIRED and NOT_REQUIRED are judged here, as
// ApprovalStatusUnder judges them: nothing stored, and the budget above (or not) the threshold
// of its currency.
func (s *Store) approvalIn(q *bun.SelectQuery, statuses []campaign.ApprovalStatus, t campaign.ApprovalThresholds) *bun.SelectQuery {
	above, args := s.aboveThreshold(t)
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		var stored []string
		for _, s := range statuses {
			switch s {
			case campaign.ApprovalRequired:
				q = q.WhereOr("(approval_status = '' AND "+above+")", args...)
			case campaign.ApprovalNotRequired:
				q = q.WhereOr("(approval_status = '' AND NOT "+above+")", args...)
			default:
				stored = append(stored, string(s))
			}
		}
		if len(stored) > 0 {
			q = q.WhereOr("approval_status IN (?)", bun.In(stored))
		}
		return q
	})
}

// aboveThreshold is a predicate true when a campaign's budget is above the threshold of its
// currency in t (zero for a currency t does not list: ApprovalThresholds.For), with its
// arguments. PostgreSQL compares NUMERIC exactly; SQLite keeps amounts
// as text and compares them as 64-bit floats, which decides exactly for thresholds below
// MaxApprovalThreshold (amounts have at most four decimals).
func (s *Store) aboveThreshold(t campaign.ApprovalThresholds) (string, []any) {
	if len(t) == 0 {
		return "(1 = 0)", nil
	}
	amount := "CAST(budget_amount AS REAL) > CAST(? AS REAL)"
	if s.db.Dialect().Name() == dialect.PG {
		amount = "budget_amount > CAST(? AS NUMERIC)"
	}
	listed := slices.Sorted(maps.Keys(t))
	parts := make([]string, 0, len(t)+1)
	args := make([]any, 0, 2*len(t)+2)
	for _, cur := range listed {
		parts = append(parts, "(budget_currency = ? AND "+amount+")")
		args = append(args, cur, t[cur].Amount.String())
	}
	parts = append(parts, "(budget_currency NOT IN (?) AND "+amount+")")
	args = append(args, bun.In(listed), "0")
	return "(" + strings.Join(parts, " OR ") + ")", args
}
