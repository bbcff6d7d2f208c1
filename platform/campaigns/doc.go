// Package campaigns is the campaigns service as one client: New wires every capability
// (campaigns, their lifecycle and approval, targeting, tracking and reporting, the domain
// events) over a host's *bun.DB and NATS JetStream; Migrate applies the schema; Mount serves
// the HTTP API on a host's Echo group, with its permissions, body limits and request ids;
// Start runs the background work and Stop ends it, publishing what is committed.
//
//	client, err := campaigns.New(db, js, campaigns.Config{Identify: identify})
//	if err != nil { ... }               // a *ConfigError names the field
//	err = client.Migrate(ctx)
//	client.Mount(e.Group("/api/v1"))
//	err = client.Start(ctx)
//	...                                 // serve; on shutdown, stop serving first
//	err = client.Stop(shutdownCtx)      // waits, publishes the outbox, releases the leases
//
// The binaries (platform/app) are thin over the same client. Nothing is global: two clients
// live side by side in one process.
//
// # Embedding
//
// The service is a library first: a Go service embeds all of it with one client,
// platform/campaigns, in the manner of river's Client: New, Migrate, Mount, Start,
// Stop, InTx. The host keeps its own *bun.DB, its own Echo, its own authentication and its
// own tables. This is a complete host, run by CI as written (.ci/embed-host): PostgreSQL through
// pgx's database/sql driver, an external NATS, the routes under /api/v1.
//
// # A complete host
//
//	// A host service with its own Echo, its own database and its own authentication embeds the
//	// whole campaigns service under /api/v1.
//	package main
//
//	import (
//		"context"
//		"database/sql"
//		"errors"
//		"log"
//		"net/http"
//		"os"
//		"os/signal"
//		"syscall"
//		"time"
//
//		_ "github.com/jackc/pgx/v5/stdlib" // pgx's database/sql driver, "pgx"
//		"github.com/labstack/echo/v4"
//		"github.com/nats-io/nats.go"
//		"github.com/nats-io/nats.go/jetstream"
//		"github.com/uptrace/bun"
//		"github.com/uptrace/bun/dialect/pgdialect"
//
//		"github.com/engine-rules-sp/campaigns/platform/auth"
//		"github.com/engine-rules-sp/campaigns/platform/campaigns"
//	)
//
//	type userKey struct{}
//
//	// authenticate stands in for the host's own authentication: it trusts X-User-ID.
//	func authenticate(next echo.HandlerFunc) echo.HandlerFunc {
//		return func(c echo.Context) error {
//			r := c.Request()
//			if user := r.Header.Get("X-User-ID"); user != "" {
//				c.SetRequest(r.WithContext(context.WithValue(r.Context(), userKey{}, user)))
//			}
//			return next(c)
//		}
//	}
//
//	// identify tells the campaigns service who calls, as the host's authentication found it.
//	func identify(r *http.Request) (campaigns.Caller, error) {
//		user, ok := r.Context().Value(userKey{}).(string)
//		if !ok {
//			return campaigns.Caller{}, nil // anonymous: the service answers 401
//		}
//		return campaigns.Caller{ID: user, Roles: []auth.Role{auth.RoleAdmin}}, nil
//	}
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
//		defer stop()
//		sqldb, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
//		check(err)
//		db := bun.NewDB(sqldb, pgdialect.New())
//		defer db.Close()
//		nc, err := nats.Connect(os.Getenv("NATS_URL"))
//		check(err)
//		defer nc.Close()
//		js, err := jetstream.New(nc)
//		check(err)
//
//		client, err := campaigns.New(db, js, campaigns.Config{Identify: identify, AllowUntargeted: true})
//		check(err)
//		check(client.Migrate(ctx))
//		e := echo.New()
//		e.Use(authenticate)
//		client.Mount(e.Group("/api/v1"))
//		check(client.Start(ctx))
//
//		srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PORT"), Handler: e}
//		go func() {
//			if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
//				log.Fatal(err)
//			}
//		}()
//		<-ctx.Done()
//		shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
//		defer cancel()
//		check(srv.Shutdown(shutdown)) // first the requests, then the events they committed
//		check(client.Stop(shutdown))  // waits for the worker, publishes the outbox
//	}
//
//	func check(err error) {
//		if err != nil {
//			log.Fatal(err)
//		}
//	}
//
// .ci/embed-host extracts that block, builds it against the checkout, checks that main stays
// within 40 lines and that it links none of nats-server, modernc.org/sqlite and viper, then
// runs it on a fresh database and NATS server: it creates and activates a campaign, tracks
// events and sees them counted in GET .../metrics, sees the domain events published in the
// audit trail (publishedAt), and stops it with SIGTERM (exit 0, no event left unpublished).
//
// # What New wires
//
// Everything the binaries run: the campaign service and its Bun store, the
// approval workflow, the Rules Engine client and activation check (when Config.RulesEngine is
// set), the serving decision with frequency caps, tracking (/track, the aggregator, the
// exposures), the delivery totals that hold a campaign back at its cap or budget, the automation,
// the outbox relay, Idempotency-Key, and the cache invalidation between them. Every feature works
// with the zero Config; the only ones that can be switched off say so in their field
// (RulesEngine: nil, Worker.Disabled, Events.IgnoreOthers). New checks the whole
// Config and refuses what cannot work with a *campaigns.ConfigError naming the field
// (campaigns: Config.Tracking.Stream.Partitions: must be from 1 to 1024 (0: 16)), and refuses a
// database driver it cannot serve (database.ErrUnsupportedDriver, which names the supported
// ones).
//
// # Drivers
//
// PostgreSQL through pgx's database/sql driver or through Bun's own pgdriver,
// and SQLite through the pure-Go modernc.org/sqlite (open it with sqlite.Open of
// platform/database/sqlite, which sets a busy timeout, WAL and BEGIN IMMEDIATE, and queues
// writers in Go: see its package documentation). Each is tested end to end
// (TestEverySupportedDriver: CRUD, the 409 of a taken name, the prepared reads, a lifecycle
// action, tracking counted, events published).
//
// # Security travels with the routes
//
// Mount puts the client's own middleware in front of each
// route: problem+json errors whatever the host's error handler, a request id (the one the host's
// middleware put in the context, else X-Request-ID, else a new one; it is the
// correlationid of the events), the body limit (413), the caller's identity and its
// authorization, and Idempotency-Key on POSTs. The host says who calls with Config.Identify
// and, if it wants its own rules, decides with Config.Authorize; by default the role table of
// platform/auth applies (campaigns.Routes lists every route and the permission it needs:
// anonymous 401, a role without the permission 403; TestEveryMountedRouteIsGuarded walks
// them all). A caller id need not be a UUID: the author and the actor of the records are
// campaigns.ActorID(id), the id itself when it is a UUID, else a name-based UUID of it.
//
// # Another router
//
// client.Handler("/api/v1") is an http.Handler serving the same routes,
// guarded the same way: mount it at that prefix (mux.Handle("/api/v1/", h)).
//
// # Start and Stop
//
// Start readies the tracking stream, subscribes to the domain events (so
// that /track sees changes made by other instances) and runs the worker in the background:
// the relay, the aggregator, the automation, the purge of expired keys. Stop(ctx) waits for
// the worker, publishes what is still in the outbox and gives the relay's lease up; stop serving
// first, as the host above does, so that the last requests' events are committed. A process that
// runs the worker elsewhere sets Worker.Disabled; one that must decide when it runs calls
// RunWorker(ctx) and Drain(ctx) itself (the worker binary does, once its schema is there).
//
// # Write in your own transaction
//
// The InTx API, in the spirit of river's InsertTx: client.InTx(tx) binds the campaign service to your bun.Tx: Create, Duplicate,
// Update, Transition, the approval steps and Delete write the campaign row, its history and
// its events in your transaction, each in a savepoint (a failed write leaves the transaction
// usable). Call Committed once it has ended: it announces only what committed (the relay woken,
// the observers told), and returns campaign.ErrTxOpen while the transaction is open.
//
//	var w *campaign.TxService
//	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
//		w = client.InTx(tx)
//		c, err := w.Create(ctx, author, in)
//		if err != nil {
//			return err
//		}
//		return saveOrder(ctx, tx, order, c.ID()) // your own write, same transaction
//	})
//	if w != nil {
//		_ = w.Committed(ctx) // whatever err is: it announces only what committed
//	}
//
// # On SQLite with NATS in-process
//
// The embedded default: sqlite.Open and
// embedded.Start of platform/natsx/embedded, passed to natsx.Connect as InProcess. The
// embedded server holds its data dir with a lock file: a second process on it is refused with
// *datadir.InUseError. Those two packages are the only ones that link the SQLite driver and
// nats-server.
//
// # Approval thresholds
//
// campaign.ServiceConfig{ApprovalThresholds: t} with
// t, err := campaign.NewApprovalThresholds(map[string]string{"EUR": "10000.00"}); the service
// has SubmitForApproval, Approve and Reject (campaign.ApprovalRequest{Actor, Reason,
// ExpectedVersion}), also on TxService. The aggregate keeps the rules:
// Campaign.SubmitForApproval, Approve, Reject return the Change to store, and Replace
// voids the approval itself. The workflow over HTTP is in the API reference (/docs, tag
// approval).
//
// # Examples and the packages beneath
//
// The runnable examples of platform/campaigns are the reference: Example (SQLite, embedded
// NATS), ExampleClient_InTx (a host table in the same transaction) and Example_postgreSQL
// (pgx, an external NATS, the routes on net/http's mux; TestPostgreSQLExample runs it). The
// capability packages beneath the client are usable on their own: campaign is the aggregate
// and its service, campaign/bunstore its store, campaign/echoapi its handlers, and so on
// (see Layout (README.md#layout)); the client is one composition of them. Two clients live side by side
// in one process: nothing is global.
//
// What a host links, measured on the host above (go list -deps, go build on linux/amd64):
//
//	| | library packages a host imports | constructors it calls | host lines (non-blank, non-comment: all / main) | go list -deps | binary |
//	|---|---|---|---|---|---|
//	| before the client (the previous README's steps 1–8) | 8 | 13 | 93 / 53 | 404 | 40.2 MB |
//	| platform/campaigns (the host above) | 2 | 1 | 73 / 31 | 368 | 33.6 MB |
//
// (Most of the host above is its own: opening the database and NATS, its authentication, its
// server and its shutdown. The service takes five calls of its main: New, Migrate, Mount,
// Start and Stop.)
package campaigns
