package echoapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/database/sqlite"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

// The campaign handlers alone, on a host's own *bun.DB and *echo.Echo (platform/campaigns
// mounts them with every other capability, and with the permissions and limits of the API).
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "host")
	defer os.RemoveAll(dir)

	// The host's own database and router. On SQLite, open it with the settings that keep it
	// safe under concurrent requests (busy timeout, WAL, BEGIN IMMEDIATE): sqlite.DSN.
	db, err := sqlite.Open(ctx, filepath.Join(dir, "host.db"), sqlite.Pool())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	e := echo.New()
	// The module takes the caller from the request context (httpx.WithActor). A host with its
	// own authentication sets it there; this one trusts an X-User-ID header.
	e.Use(httpx.HeaderIdentity())

	// The campaign module: its schema (with the history and events it writes), then its routes.
	if err := migrate.Up(ctx, db, bunstore.Schema()...); err != nil {
		fmt.Println(err)
		return
	}
	svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{})
	echoapi.NewHandler(svc, echoapi.HandlerConfig{Logger: slog.Default()}).Register(e.Group("/api/v1"))

	body := `{"name": "Host campaign", "type": "LOYALTY", "startDate": "2099-01-01T00:00:00Z",
		"budget": {"amount": "500", "currency": "EUR"}, "settings": {"channels": ["EMAIL"]}}`
	req := httptest.NewRequest(http.MethodPost, "/api/v1/campaigns", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User-ID", "7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("ETag"))

	// Errors are problem+json even on the host's default Echo error handler.
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/campaigns/not-an-id", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output:
	// 201 "1"
	// 404 application/problem+json
}

// The tests' schema (the campaign store's), clock and users.
var (
	sets  = bunstore.Schema()
	base  = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	alice = campaigntest.Alice
	bob   = campaigntest.Bob
)
