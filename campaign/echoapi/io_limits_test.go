package echoapi_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// ioServer serves the export and the import of svc over real HTTP.
func ioServer(t *testing.T, svc *campaign.Service, db *bun.DB, cfg echoapi.IOConfig) *httptest.Server {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	e := httpx.NewEcho(httpx.EchoConfig{RequestTimeout: time.Minute})
	echoapi.NewIOHandler(svc, cfg).Register(e.Group("/api/v1"))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

type importAnswer struct {
	status  int
	Type    string
	Detail  string
	Summary echoapi.ImportSummary
	Results []echoapi.LineResult
}

func postImport(t *testing.T, srv *httptest.Server, query, ctype string, body io.Reader) importAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/campaigns/import?"+query, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set(httpx.HeaderUserID, uuidOf(alice))
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	a := importAnswer{status: resp.StatusCode}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	return a
}

func uuidOf(u campaign.UserID) string { return fmt.Sprint(campaign.ID(u)) }

func validLine(name string) string {
	return fmt.Sprintf(`{"name":%q,"type":"PROMOTION","startDate":%q,"budget":{"amount":"10.00","currency":"EUR"},"settings":{"channels":["EMAIL"]}}`,
		name, time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339))
}

func liveCount(t *testing.T, db *bun.DB) int {
	t.Helper()
	n, err := db.NewSelect().Table("campaigns").Where("deleted_at IS NULL").Count(context.Background())
	require.NoError(t, err)
	return int(n)
}

// An import takes at most IOConfig.MaxLines lines (413 past it, naming the limit), and keeps
// the problems of its first MaxReportedProblems failed lines only: the answer stays bounded.
func TestImportLineCapAndBoundedReport(t *testing.T) {
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{})
		srv := ioServer(t, svc, db, echoapi.IOConfig{MaxLines: 5})
		var six strings.Builder
		for i := range 6 {
			six.WriteString(validLine(fmt.Sprintf("Cap %d", i)) + "\n")
		}
		for _, mode := range []string{"all-or-nothing", "best-effort"} {
			a := postImport(t, srv, "mode="+mode, echoapi.MediaJSONLines, strings.NewReader(six.String()))
			assert.Equal(t, http.StatusRequestEntityTooLarge, a.status, mode)
			assert.Equal(t, httpx.ProblemTypePrefix+"import-too-many-lines", a.Type, mode)
			assert.Contains(t, a.Detail, "5 campaigns (http.import_max_lines)", mode)
			assert.False(t, a.Summary.Complete, mode)
			assert.Equal(t, 5, a.Summary.Lines, mode)
		}
		assert.Equal(t, 5, liveCount(t, db), "all-or-nothing wrote nothing; best effort the five lines before the cap")

		srv = ioServer(t, svc, db, echoapi.IOConfig{})
		n := echoapi.MaxReportedProblems + 300
		a := postImport(t, srv, "mode=best-effort", echoapi.MediaJSONLines, strings.NewReader(strings.Repeat("{}\n", n)))
		require.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, n, a.Summary.Failed)
		assert.Equal(t, 300, a.Summary.ProblemsOmitted)
		require.Len(t, a.Results, n)
		with := 0
		for i, r := range a.Results {
			assert.Equal(t, echoapi.LineFailed, r.Status)
			if r.Problem != nil {
				with++
				assert.Less(t, i, echoapi.MaxReportedProblems, "the first failed lines keep their problem")
			}
		}
		assert.Equal(t, echoapi.MaxReportedProblems, with)
	})
}

// An all-or-nothing import (and a dry run) opens its transaction only once it has the whole
// body: a client that sends slowly does not hold the database (on SQLite, its write lock).
// Best effort writes each line on its own, and holds nothing while it waits for the next.
func TestImportHoldsNoTransactionWhileReading(t *testing.T) {
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{})
		srv := ioServer(t, svc, db, echoapi.IOConfig{})
		ctx := context.Background()
		for _, query := range []string{"mode=all-or-nothing", "dryRun=true", "mode=best-effort"} {
			pr, pw := io.Pipe()
			t.Cleanup(func() { _ = pw.Close() }) // before the server closes, should the test stop early
			done := make(chan importAnswer, 1)
			go func() { done <- postImport(t, srv, query, echoapi.MediaJSONLines, pr) }()
			held := "Held " + query
			_, err := io.WriteString(pw, validLine(held)+"\n"+validLine("First "+query)+"\n")
			require.NoError(t, err)
			time.Sleep(300 * time.Millisecond) // the server has the first lines

			// Another writer, meanwhile: the name of the file's first line is still free,
			// unless best effort wrote it.
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			_, err = svc.Create(wctx, alice, campaign.Input{
				Name: held, Type: campaign.TypeLoyalty, StartDate: time.Now().Add(time.Hour),
				Budget: campaign.MustMoney("10.00", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelWeb}},
			})
			cancel()
			if query == "mode=best-effort" {
				require.ErrorIs(t, err, campaign.ErrNameTaken, "best effort wrote the first line already")
			} else {
				require.NoError(t, err, "%s: a create must not wait for the import's transaction", query)
			}
			_, err = io.WriteString(pw, validLine("Last "+query)+"\n")
			require.NoError(t, err)
			require.NoError(t, pw.Close())
			a := <-done
			require.Equal(t, 3, a.Summary.Lines, query)
			assert.True(t, a.Summary.Complete, query)
			if query != "mode=best-effort" {
				require.NotNil(t, a.Results[0].Problem, query)
				assert.Equal(t, httpx.ProblemTypePrefix+"name-taken", a.Results[0].Problem.Type, query)
			}
		}
	})
}

// A CSV export writes a free-text cell that a spreadsheet would run as a formula with a
// leading quote; the import takes it off, so the round trip is exact.
func TestCSVExportFormulaCells(t *testing.T) {
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{})
		srv := ioServer(t, svc, db, echoapi.IOConfig{})
		cases := map[string]string{ // name: description
			`=HYPERLINK("http://x.test","y")`: "-1+2",
			"'=already quoted":                "@SUM(A1)",
			"+plain":                          "--minus",
			"'not a formula":                  "plain",
		}
		for name, desc := range cases {
			_, err := svc.Create(ctx, alice, campaign.Input{
				Name: name, Description: desc, Type: campaign.TypeLoyalty, StartDate: time.Now().Add(time.Hour),
				Budget: campaign.MustMoney("10.00", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelWeb}},
			})
			require.NoError(t, err, name)
		}
		resp, err := http.Get(srv.URL + "/api/v1/campaigns/export?format=csv")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(t, err)
		recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 1+len(cases))
		for _, rec := range recs[1:] {
			for _, cell := range rec[1:3] { // name, description
				if cell != "" {
					assert.NotContains(t, "=+-@\t\r", cell[:1], "a cell a spreadsheet would evaluate: %q", cell)
				}
			}
		}

		a := postImport(t, srv, "onConflict=rename", echoapi.MediaCSV, strings.NewReader(string(body)))
		require.Equal(t, http.StatusOK, a.status, a.Detail)
		for _, r := range a.Results {
			require.NotNil(t, r.ID)
			c, err := svc.Get(ctx, *r.ID)
			require.NoError(t, err)
			orig := strings.TrimSuffix(c.Name(), " (import)")
			want, ok := cases[orig]
			require.True(t, ok, "imported name %q", c.Name())
			assert.Equal(t, want, c.Description(), orig)
		}
	})
}
