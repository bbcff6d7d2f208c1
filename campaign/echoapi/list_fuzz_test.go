package echoapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/database/sqlite"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

// countingTotals stands in for the metrics store's totals (this test is about parsing the
// query): every campaign asked for has 7 impressions, and the ids of each call are kept.
type countingTotals struct{ calls [][]uuid.UUID }

func (c *countingTotals) CampaignTotals(_ context.Context, ids []uuid.UUID) (map[uuid.UUID]campaign.Totals, error) {
	c.calls = append(c.calls, ids)
	out := make(map[uuid.UUID]campaign.Totals, len(ids))
	for _, id := range ids {
		out[id] = campaign.Totals{Impressions: 7}
	}
	return out, nil
}

// countingPacing stands in for the metrics capability's pacing reports: it gives the first
// campaign of each page a report and keeps the size of each page it was asked about.
type countingPacing struct{ calls []int }

func (c *countingPacing) ListPacing(_ context.Context, page []*campaign.View, _ map[uuid.UUID]decimal.Decimal, _ time.Time) (map[uuid.UUID]any, error) {
	c.calls = append(c.calls, len(page))
	return map[uuid.UUID]any{uuid.UUID(page[0].ID()): map[string]any{"pacingIndex": 1.5}}, nil
}

func newListFuzzServer(tb testing.TB) (*echo.Echo, *countingTotals, *countingPacing) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	e := httpx.NewEcho(httpx.EchoConfig{Logger: logger, BodyLimit: 1 << 20, RequestTimeout: 5 * time.Second})
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "list.db"), sqlite.Pool())
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = db.Close() })
	require.NoError(tb, migrate.Up(ctx, db, bunstore.Schema()...))
	totals, pacing := &countingTotals{}, &countingPacing{}
	echoapi.NewHandler(campaign.NewService(bunstore.New(db), campaign.ServiceConfig{}),
		echoapi.HandlerConfig{Logger: logger, Totals: totals, Pacing: pacing}).Register(e.Group("/api/v1"))
	for i := range 3 {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/campaigns", strings.NewReader(fmt.Sprintf(fuzzValidBody, fmt.Sprintf("List fuzz %d", i))))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		req.Header.Set("X-User-ID", fuzzUserID)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		require.Equal(tb, http.StatusCreated, rec.Code, rec.Body.String())
	}
	return e, totals, pacing
}

// FuzzListQuery: whatever the query string, the list answers a page (200) or a problem
// (400), never a server error; a page asked with includeMetrics=true gives every campaign
// its totals, in one read for the page (and one pacing read, whose reports only the campaigns
// it names carry), and a page without it gives none.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{
		"includeMetrics=true", "includeMetrics=false&sort=-name&limit=2", "includeMetrics=yes&status=NOPE",
		"includeMetrics=true&includeMetrics=false", "includeMetrics=TRUE", "includeMetrics=1&limit=0",
		"status=DRAFT,ACTIVE&includeMetrics=true&q=fuzz", "cursor=%zz&includeMetrics=true", "includeMetrics", "",
	} {
		f.Add(s)
	}
	e, totals, pacing := newListFuzzServer(f)
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/campaigns", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		calls, pacingCalls := len(totals.calls), len(pacing.calls)
		e.ServeHTTP(rec, req)
		require.Less(t, rec.Code, 500, "query %q answered %s", raw, rec.Body.String())
		if rec.Code != http.StatusOK {
			require.Equal(t, http.StatusBadRequest, rec.Code, "query %q: %s", raw, rec.Body.String())
			require.Equal(t, httpx.ProblemContentType, rec.Header().Get(echo.HeaderContentType))
			return
		}
		var page struct {
			Campaigns []map[string]json.RawMessage `json:"campaigns"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
		q, _ := url.ParseQuery(raw)
		with := q.Get("includeMetrics") == "true"
		if with && len(page.Campaigns) > 0 {
			require.Len(t, totals.calls, calls+1, "one totals read per page")
			require.Equal(t, []int{len(page.Campaigns)}, pacing.calls[pacingCalls:], "one pacing read per page")
		} else {
			require.Len(t, totals.calls, calls, "no totals read")
			require.Len(t, pacing.calls, pacingCalls, "no pacing read")
		}
		for i, c := range page.Campaigns {
			if with {
				pacingMember := ""
				if i == 0 {
					pacingMember = `,"pacing":{"pacingIndex":1.5}`
				}
				require.JSONEq(t, `{"impressions":7,"clicks":0,"conversions":0,"bounces":0,"unsubscribes":0,"reach":0,
					"revenue":{"amount":"0.00","currency":"EUR"},"cost":{"amount":"0.00","currency":"EUR"}`+pacingMember+`}`, string(c["totals"]))
			} else {
				require.NotContains(t, c, "totals")
			}
		}
	})
}
