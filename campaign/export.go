package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

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
func (s *Service) Export(ctx context.Context, f Filter, fn func(page []*Campaign) error) error {
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

// ExportMetrics is the metrics member of an exported line.
type ExportMetrics struct {
	Impressions  int64 `json:"impressions"`
	Clicks       int64 `json:"clicks"`
	Conversions  int64 `json:"conversions"`
	Bounces      int64 `json:"bounces"`
	Unsubscribes int64 `json:"unsubscribes"`
	Reach        int64 `json:"reach"`
	Revenue      Money `json:"revenue"`
	Cost         Money `json:"cost"`
}

func newExportMetrics(t Totals, currency string) *ExportMetrics {
	return &ExportMetrics{
		Impressions: t.Impressions, Clicks: t.Clicks, Conversions: t.Conversions, Bounces: t.Bounces,
		Unsubscribes: t.Unsubscribes, Reach: t.Reach,
		Revenue: Money{Amount: t.Revenue, Currency: currency}, Cost: Money{Amount: t.Cost, Currency: currency},
	}
}

// CSV columns. The campaign's own members are flattened; settings stay one JSON column.
// channels repeats settings.channels (space-separated) for spreadsheets; an import checks
// that the two agree.
var (
	csvColumns = []string{
		"id", "name", "description", "type", "status", "servingStatus", "targetingRules",
		"startDate", "endDate", "budgetAmount", "budgetCurrency", "channels",
		"createdBy", "createdAt", "updatedAt", "version", "targetingVerified", "settings",
	}
	csvMetricColumns = []string{
		"impressions", "clicks", "conversions", "bounces", "unsubscribes", "reach", "revenue", "cost",
	}
)

// CSVHeader is the header row of a CSV export.
func CSVHeader(withMetrics bool) []string {
	h := append([]string(nil), csvColumns...)
	if withMetrics {
		h = append(h, csvMetricColumns...)
	}
	return h
}

// csvRecord is r as a CSV row of CSVHeader(m != nil).
func csvRecord(r Response, m *ExportMetrics) ([]string, error) {
	settings, err := json.Marshal(r.Settings)
	if err != nil {
		return nil, fmt.Errorf("encode settings of %s: %w", r.ID, err)
	}
	rules := make([]string, len(r.TargetingRules))
	for i, id := range r.TargetingRules {
		rules[i] = id.String()
	}
	channels := make([]string, len(r.Settings.Channels))
	for i, ch := range r.Settings.Channels {
		channels[i] = string(ch)
	}
	end := ""
	if r.EndDate != nil {
		end = r.EndDate.Format(time.RFC3339Nano)
	}
	rec := []string{
		r.ID.String(), csvText(r.Name), csvText(r.Description), string(r.Type), string(r.Status), string(r.ServingStatus),
		strings.Join(rules, " "), r.StartDate.Format(time.RFC3339Nano), end,
		r.Budget.Amount.StringFixed(r.Budget.Scale()), r.Budget.Currency, strings.Join(channels, " "),
		r.CreatedBy.String(), r.CreatedAt.Format(time.RFC3339Nano), r.UpdatedAt.Format(time.RFC3339Nano),
		strconv.FormatInt(r.Version, 10), strconv.FormatBool(r.TargetingVerified), string(settings),
	}
	if m != nil {
		rec = append(rec,
			strconv.FormatInt(m.Impressions, 10), strconv.FormatInt(m.Clicks, 10),
			strconv.FormatInt(m.Conversions, 10), strconv.FormatInt(m.Bounces, 10),
			strconv.FormatInt(m.Unsubscribes, 10), strconv.FormatInt(m.Reach, 10),
			m.Revenue.Amount.StringFixed(m.Revenue.Scale()), m.Cost.Amount.StringFixed(m.Cost.Scale()))
	}
	return rec, nil
}

// A CSV export's free-text cells (name, description) that a spreadsheet would read as a
// formula (starting with =, +, -, @, a tab or a carriage return) get a leading ' (OWASP's
// advice against CSV injection); a CSV import takes it off again. So that the round trip is
// exact, a text that already starts with quotes before such a character gets one more:
// "=x" is written '=x, "'=x" is written ''=x, and the import drops exactly one quote from both.

// formulaLike says whether s, past its leading quotes, starts as a formula would.
func formulaLike(s string) bool {
	s = strings.TrimLeft(s, "'")
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
}

// csvText is s as a CSV export writes a free-text cell.
func csvText(s string) string {
	if formulaLike(s) {
		return "'" + s
	}
	return s
}

// csvUntext is the text of a free-text cell a CSV import reads: csvText undone.
func csvUntext(s string) string {
	if strings.HasPrefix(s, "'") && formulaLike(s) {
		return s[1:]
	}
	return s
}
