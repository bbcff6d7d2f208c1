package campaigns_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/campaigns"
	"github.com/engine-rules-sp/campaigns/platform/database/sqlite"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/embedded"
)

// A host on SQLite with NATS in its own process: the embedded default, as the binaries run
// it. The host authenticates its users itself and tells the service who calls (Identify).
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "host")
	defer os.RemoveAll(dir)

	db, err := sqlite.Open(ctx, filepath.Join(dir, "host.db"), sqlite.Pool())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	nc, err := natsx.Connect(ctx, natsx.Config{InProcess: srv})
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()

	client, err := campaigns.New(db, nc.JS, campaigns.Config{
		Identify: func(r *http.Request) (campaigns.Caller, error) {
			// The host's authentication found its user; here, a header stands in for it.
			user := r.Header.Get("X-User")
			if user == "" {
				return campaigns.Caller{}, nil // anonymous: refused with 401
			}
			return campaigns.Caller{ID: user, Roles: []auth.Role{auth.RoleEditor}}, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	e := echo.New()
	client.Mount(e.Group("/api/v1"))
	if err := client.Start(ctx); err != nil {
		log.Fatal(err)
	}

	body := `{"name": "Host campaign", "type": "LOYALTY", "startDate": "2099-01-01T00:00:00Z",
		"budget": {"amount": "500", "currency": "EUR"}, "settings": {"channels": ["EMAIL"]}}`
	for _, user := range []string{"ada@example.com", ""} {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/campaigns", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-User", user)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
		body = strings.Replace(body, "Host campaign", "Another", 1)
	}

	// Stop after the HTTP server: it publishes what the last requests committed.
	if err := client.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	pending, _ := client.OutboxBacklog(ctx)
	fmt.Println("unpublished events:", pending)
	// Output:
	// 201 application/json
	// 401 application/problem+json
	// unpublished events: 0
}

// A host writes a campaign in its own transaction, next to its own rows: all land or none, and
// the relay and the observers hear of the campaign only if the transaction commits.
func ExampleClient_InTx() {
	ctx := context.Background()
	db, nc, done := embeddedDefault(ctx) // SQLite and NATS in-process, as in Example
	defer done()
	client, err := campaigns.New(db, nc.JS, campaigns.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	// The host's own table.
	if _, err := db.ExecContext(ctx, "CREATE TABLE orders (id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL)"); err != nil {
		log.Fatal(err)
	}
	author := campaign.UserID(campaigns.ActorID("ada@example.com"))
	in := campaign.Input{
		Name: "Order bonus", Type: campaign.TypeLoyalty, StartDate: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		Budget: campaign.MustMoney("500", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
	}

	for _, commit := range []bool{false, true} {
		var w *campaign.TxService
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			w = client.InTx(tx)
			c, err := w.Create(ctx, author, in) // the campaign and its CampaignCreated event, in tx
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO orders (id, campaign_id) VALUES (?, ?)", "order-1", c.ID().String()); err != nil {
				return err
			}
			if !commit {
				return errors.New("the order was refused")
			}
			return nil
		})
		fmt.Println("transaction:", err)
		// Whatever the outcome: announces only what committed.
		if err := w.Committed(ctx); err != nil {
			log.Fatal(err)
		}
	}
	var orders, live int
	_ = db.NewSelect().TableExpr("orders").ColumnExpr("count(*)").Scan(ctx, &orders)
	_ = db.NewSelect().TableExpr("campaigns").ColumnExpr("count(*)").Scan(ctx, &live)
	fmt.Println("orders:", orders, "campaigns:", live)
	// Output:
	// transaction: the order was refused
	// transaction: <nil>
	// orders: 1 campaigns: 1
}

// A host on PostgreSQL (pgx's database/sql driver) with an external NATS server: it links
// neither the embedded NATS server nor the SQLite driver. TestPostgreSQLExample runs it.
func Example_postgreSQL() {
	ctx := context.Background()
	sqldb, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	db := bun.NewDB(sqldb, pgdialect.New())
	defer db.Close()
	nc, err := nats.Connect(os.Getenv("NATS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}

	client, err := campaigns.New(db, js, campaigns.Config{
		Identify: func(r *http.Request) (campaigns.Caller, error) {
			return campaigns.Caller{ID: r.Header.Get("X-User"), Roles: []auth.Role{auth.RoleAdmin}}, nil
		},
		AllowUntargeted: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		log.Fatal(err)
	}
	// Another router than Echo: the service's own handler, mounted where its routes say.
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", client.Handler("/api/v1"))

	body := `{"name": "Spring sale", "type": "PROMOTION", "startDate": "2099-03-01T09:00:00Z",
		"budget": {"amount": "1000", "currency": "EUR"}, "settings": {"channels": ["WEB"]}}`
	req := httptest.NewRequest(http.MethodPost, "/api/v1/campaigns", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User", "ada")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	if err := client.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	pending, _ := client.OutboxBacklog(ctx)
	fmt.Println("unpublished events:", pending)
}

// embeddedDefault opens what Example opens: a SQLite file and a NATS server in this process,
// in a temporary directory; done closes them and removes it.
func embeddedDefault(ctx context.Context) (*bun.DB, *natsx.Conn, func()) {
	dir, _ := os.MkdirTemp("", "host")
	db, err := sqlite.Open(ctx, filepath.Join(dir, "host.db"), sqlite.Pool())
	if err != nil {
		log.Fatal(err)
	}
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	nc, err := natsx.Connect(ctx, natsx.Config{InProcess: srv})
	if err != nil {
		log.Fatal(err)
	}
	return db, nc, func() {
		nc.Close()
		srv.Close()
		_ = db.Close()
		_ = os.RemoveAll(dir)
	}
}
