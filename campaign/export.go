package campaign

import (
	"context"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// ExportPageSize is how many campaigns an export reads per query: the export holds one page
// in memory at a time, whatever the number of campaigns.
const ExportPageSize = 500

// Totals are a campaign's all-time performance totals, as an export with includeMetrics
// shows them. Revenue and Cost are in the campaign's currency.
type Totals struct {
	Impressions  int64
	Clicks       int64
	Conversions  int64
	Bounces      int64
	Unsubscribes int64
	Reach        int64
	Revenue      decimal.Decimal
	Cost         decimal.Decimal
}

// TotalsSource reads the all-time totals of a page of campaigns in one query; the metrics
// capability's store implements it. Campaigns without any event are absent (zero totals).
type TotalsSource interface {
	CampaignTotals(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Totals, error)
}

// Export walks every live campaign that f selects (its Limit and After are the export's own),
// page after page along the keyset of f's sort, and hands each page to fn. It reads one page
// at a time: memory stays flat whatever the number of campaigns. It is not a snapshot: each
// page is read when fn is done with the previous one, so a campaign created or deleted
// meanwhile may or may not be in it; none is given twice when sorting by createdAt or
// startDate (a rename during a name-sorted export can move a campaign across the cursor).
func (s *Service) Export(ctx context.Context, f Filter, fn func(page []*View) error) error {
	f.Limit, f.After = ExportPageSize, nil
	if f.Now.IsZero() {
		f.Now = s.clock()
	}
	for {
		page, next, err := s.List(ctx, f)
		if err != nil {
			return err
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		f.After = next
	}
}
