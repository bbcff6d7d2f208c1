package echoapi_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/database/sqlite"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

// A host service mounts the campaign module on its own *bun.DB and *echo.Echo.
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

// A host writes a campaign in its own transaction, next to its own rows: all land or none, and
// the event relay and the observers hear of the campaign only if the transaction commits.
func ExampleService_InTx() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "host")
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "host.db"), sqlite.Pool())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	if err := migrate.Up(ctx, db, bunstore.Schema()...); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE offers (campaign_id TEXT NOT NULL)"); err != nil {
		fmt.Println(err)
		return
	}
	svc := campaign.NewService(bunstore.New(db), campaign.ServiceConfig{
		ObserveEvent: func(eventType string) { fmt.Println("observed", eventType) },
	})
	actor := campaign.UserID(uuid.MustParse("7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11"))
	in := campaign.Input{
		Name: "Host offer", Type: campaign.TypeLoyalty, StartDate: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		Budget: campaign.MustMoney("500", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
	}

	for _, commit := range []bool{false, true} {
		var w *campaign.TxService
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			w = svc.InTx(bunstore.New(tx))
			c, err := w.Create(ctx, actor, in) // the row and its CampaignCreated event, in tx
			if err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(&map[string]any{"campaign_id": c.ID().String()}).
				TableExpr("offers").Exec(ctx); err != nil {
				return err
			}
			if !commit {
				return errors.New("the host changed its mind")
			}
			return nil
		})
		fmt.Println("transaction:", err)
		// After the transaction, whatever its outcome: announces only what committed.
		if err := w.Committed(ctx); err != nil {
			fmt.Println(err)
		}
	}
	n, _ := db.NewSelect().Table("campaigns").Count(ctx)
	fmt.Println("campaigns:", n)
	// Output:
	// transaction: the host changed its mind
	// transaction: <nil>
	// observed CampaignCreated
	// campaigns: 1
}

// The tests' schema (the campaign store's), clock and users.
var (
	sets  = bunstore.Schema()
	base  = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	alice = campaigntest.Alice
	bob   = campaigntest.Bob
)
