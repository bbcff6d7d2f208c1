package echoapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/engine-rules-sp/campaigns/campaign"
)

// ExportMetrics is the metrics member of an exported line.
type ExportMetrics struct {
	Impressions  int64          `json:"impressions"`
	Clicks       int64          `json:"clicks"`
	Conversions  int64          `json:"conversions"`
	Bounces      int64          `json:"bounces"`
	Unsubscribes int64          `json:"unsubscribes"`
	Reach        int64          `json:"reach"`
	Revenue      campaign.Money `json:"revenue"`
	Cost         campaign.Money `json:"cost"`
}

// ListTotals are the totals member of a campaign in the list with includeMetrics=true: the
// export's metrics, and the pacing report of a paced campaign (mode not ASAP; the shape of GET
// /campaigns/:id's metrics.pacing, without the chart).
type ListTotals struct {
	ExportMetrics
	Pacing any `json:"pacing,omitempty"`
}

func newExportMetrics(t campaign.Totals, currency string) *ExportMetrics {
	return &ExportMetrics{
		Impressions: t.Impressions, Clicks: t.Clicks, Conversions: t.Conversions, Bounces: t.Bounces,
		Unsubscribes: t.Unsubscribes, Reach: t.Reach,
		Revenue: campaign.Money{Amount: t.Revenue, Currency: currency}, Cost: campaign.Money{Amount: t.Cost, Currency: currency},
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
