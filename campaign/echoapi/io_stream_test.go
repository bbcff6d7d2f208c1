package echoapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// failingTotals fails from its second page on: an error after the export's first byte.
type failingTotals struct{ calls atomic.Int32 }

func (f *failingTotals) CampaignTotals(_ context.Context, ids []uuid.UUID) (map[uuid.UUID]campaign.Totals, error) {
	if f.calls.Add(1) > 1 {
		return nil, errors.New("totals store went away")
	}
	return map[uuid.UUID]campaign.Totals{}, nil
}

// An export that fails after its first byte cannot answer a problem any more: a JSON Lines
// export ends with an {"error": problem} line, and both formats are cut short, so that no
// client takes the part for the whole.
func TestExportInterruptedMidStream(t *testing.T) {
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{})
		n := campaign.ExportPageSize + 20
		for i := range n {
			in := campaign.Input{
				Name: fmt.Sprintf("Stream %04d", i), Type: campaign.TypeLoyalty, StartDate: time.Now().Add(time.Hour),
				Budget: campaign.MustMoney("10.00", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelWeb}},
			}
			_, err := svc.Create(ctx, alice, in)
			require.NoError(t, err)
		}
		totals := &failingTotals{}
		e := echo.New()
		echoapi.NewIOHandler(svc, echoapi.IOConfig{Totals: totals, Logger: slog.New(slog.DiscardHandler)}).Register(e.Group("/api/v1"))
		srv := httptest.NewServer(e)
		defer srv.Close()

		for _, format := range []string{"jsonl", "csv"} {
			totals.calls.Store(0)
			resp, err := http.Get(srv.URL + "/api/v1/campaigns/export?includeMetrics=true&format=" + format)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			var lines []string
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			_ = resp.Body.Close()
			require.ErrorIs(t, sc.Err(), io.ErrUnexpectedEOF, "%s: the body must end abruptly", format)
			if format == "csv" {
				assert.Len(t, lines, 1+campaign.ExportPageSize, "the header and the first page")
				continue
			}
			require.Len(t, lines, campaign.ExportPageSize+1, "the first page, then the error line")
			var last struct {
				Error struct {
					Type   string
					Status int
					Detail string
				}
			}
			require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &last))
			assert.Equal(t, "urn:campaigns:problem:export-interrupted", last.Error.Type)
			assert.Equal(t, http.StatusInternalServerError, last.Error.Status)
			assert.True(t, strings.Contains(last.Error.Detail, fmt.Sprint(campaign.ExportPageSize)), last.Error.Detail)
		}

		// Before the first byte, the same failure is a problem.
		totals.calls.Store(1)
		resp, err := http.Get(srv.URL + "/api/v1/campaigns/export?includeMetrics=true")
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))

		// Complete: every campaign, once, in order.
		resp, err = http.Get(srv.URL + "/api/v1/campaigns/export?sort=name")
		require.NoError(t, err)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		i := 0
		for sc.Scan() {
			var c struct{ Name string }
			require.NoError(t, json.Unmarshal(sc.Bytes(), &c))
			assert.Equal(t, fmt.Sprintf("Stream %04d", i), c.Name)
			i++
		}
		require.NoError(t, sc.Err())
		assert.Equal(t, n, i)
	})
}
