package echoapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/database/sqlite"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

// A host that opens SQLite as the Example does serves concurrent writes without SQLITE_BUSY.
func TestExampleSettingsServeConcurrentCreates(t *testing.T) {
	t.Parallel()
	const n = 50
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "host.db"), sqlite.Pool())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, migrate.Up(ctx, db, bunstore.Schema()...))
	e := echo.New()
	e.Use(httpx.HeaderIdentity())
	echoapi.NewHandler(campaign.NewService(bunstore.New(db), campaign.ServiceConfig{}), echoapi.HandlerConfig{Logger: slog.New(slog.DiscardHandler)}).Register(e.Group("/api/v1"))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	statuses := make([]int, n)
	bodies := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"name": "Concurrent %d", "type": "LOYALTY", "startDate": "2099-01-01T00:00:00Z",
				"budget": {"amount": "500", "currency": "EUR"}, "settings": {"channels": ["EMAIL"]}}`, i)
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/campaigns", strings.NewReader(body))
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-User-ID", "7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11")
			<-start
			resp, err := srv.Client().Do(req)
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			statuses[i] = resp.StatusCode
			if resp.StatusCode != http.StatusCreated {
				b, _ := io.ReadAll(resp.Body)
				bodies[i] = string(b)
			}
		})
	}
	close(start)
	wg.Wait()

	created := 0
	for i, st := range statuses {
		if st == http.StatusCreated {
			created++
		} else {
			t.Logf("request %d: %d %s", i, st, bodies[i])
		}
	}
	assert.Equal(t, n, created, "201s out of %d concurrent creates", n)
	rows, err := db.NewSelect().Table("campaigns").Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, n, rows)
	events, err := db.NewSelect().Table("outbox_events").Where("type = ?", campaign.EventCreated).Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, n, events)
}
