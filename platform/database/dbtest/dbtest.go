// Package dbtest gives tests real databases: a fresh SQLite file always, and a fresh
// PostgreSQL schema when CAMPAIGNS_TEST_POSTGRES_URL is set (through pgx, as the binaries open
// it, or through Bun's pgdriver). With CAMPAIGNS_TEST_REQUIRE_SERVICES=1 a missing PostgreSQL
// fails the test instead of skipping it.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx/v5" driver for schema set-up
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/database/sqlite"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

// Environment variables the test suites read.
const (
	EnvPostgresURL     = "CAMPAIGNS_TEST_POSTGRES_URL"
	EnvRequireServices = "CAMPAIGNS_TEST_REQUIRE_SERVICES"
)

// The drivers a Target opens its database with.
const (
	DriverSQLite   = "sqlite"   // modernc.org/sqlite, as sqlite.Open opens it
	DriverPostgres = "postgres" // PostgreSQL through pgx, as database.OpenPostgres opens it
	DriverPgdriver = "pgdriver" // PostgreSQL through Bun's pgdriver, as a host may open it
)

// Target is one database a suite runs against.
type Target struct {
	Name   string // "sqlite", "postgres" or "pgdriver"
	Driver string // DriverSQLite, DriverPostgres or DriverPgdriver
	URL    string // PostgreSQL: the connection URL, whose search_path is the test's schema
	Path   string // SQLite: the database file
	Pool   database.Pool
}

// Pool is the pool the tests use: small, like the embedded default, but with room for the
// concurrency tests.
func Pool() database.Pool {
	return database.Pool{MaxOpenConns: 16, MaxIdleConns: 16, ConnMaxLifetime: time.Hour, ConnMaxIdleTime: time.Hour}
}

// SQLiteTarget is a fresh SQLite database file in the test's temporary directory.
func SQLiteTarget(t testing.TB) Target {
	return Target{Name: "sqlite", Driver: DriverSQLite, Path: filepath.Join(t.TempDir(), "campaigns.db"), Pool: Pool()}
}

// PostgresTarget is a fresh, empty schema in the database CAMPAIGNS_TEST_POSTGRES_URL names,
// dropped when the test ends. It skips the test when the variable is unset (fails under
// CAMPAIGNS_TEST_REQUIRE_SERVICES=1).
func PostgresTarget(t testing.TB) Target {
	t.Helper()
	base := os.Getenv(EnvPostgresURL)
	if base == "" {
		if os.Getenv(EnvRequireServices) == "1" {
			t.Fatalf("%s is not set but %s=1", EnvPostgresURL, EnvRequireServices)
		}
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/campaigns_test?sslmode=disable)", EnvPostgresURL)
	}
	schema := "t_" + randomHex(8)
	admin, err := sql.Open("pgx/v5", base)
	if err != nil {
		t.Fatalf("open %s: %v", EnvPostgresURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("create test schema (is PostgreSQL up at %s?): %v", EnvPostgresURL, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgresURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown URL parameters as session settings
	u.RawQuery = q.Encode()
	return Target{Name: "postgres", Driver: DriverPostgres, URL: u.String(), Pool: Pool()}
}

// PgdriverTarget is PostgresTarget opened through Bun's pgdriver instead of pgx.
func PgdriverTarget(t testing.TB) Target {
	t.Helper()
	target := PostgresTarget(t)
	target.Name, target.Driver = "pgdriver", DriverPgdriver
	return target
}

// Open opens target and applies the migration sets, closing the database when the test ends.
func Open(t testing.TB, target Target, sets ...migrate.Set) *bun.DB {
	t.Helper()
	db := Connect(t, target)
	if err := migrate.Up(context.Background(), db, sets...); err != nil {
		t.Fatalf("migrate %s: %v", target.Name, err)
	}
	return db
}

// Each runs fn as a subtest on SQLite and on PostgreSQL, each with a fresh migrated database.
func Each(t *testing.T, sets []migrate.Set, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()
	EachTarget(t, func(t *testing.T, target Target) { fn(t, Open(t, target, sets...)) })
}

// EachTarget runs fn as a subtest per database target, for tests that open the database
// themselves (through the wired app, say).
func EachTarget(t *testing.T, fn func(t *testing.T, target Target)) {
	t.Helper()
	targets := []struct {
		name string
		make func(testing.TB) Target
	}{{"sqlite", SQLiteTarget}, {"postgres", PostgresTarget}}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) { fn(t, tg.make(t)) })
	}
}

// Connect opens target without applying any migration, closing the database when the test
// ends.
func Connect(t testing.TB, target Target) *bun.DB {
	t.Helper()
	db, err := open(context.Background(), target)
	if err != nil {
		t.Fatalf("open %s: %v", target.Name, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func open(ctx context.Context, target Target) (*bun.DB, error) {
	switch target.Driver {
	case DriverSQLite:
		return sqlite.Open(ctx, target.Path, target.Pool)
	case DriverPostgres:
		return database.OpenPostgres(ctx, target.URL, target.Pool)
	case DriverPgdriver:
		// pgdriver sends the URL's other parameters (search_path) as session settings.
		sqldb := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(target.URL)))
		target.Pool.Apply(sqldb)
		db := bun.NewDB(sqldb, pgdialect.New())
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			return nil, err
		}
		return db, nil
	default:
		return nil, fmt.Errorf("dbtest: unknown driver %q", target.Driver)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RequireNullsInPointers fails t unless every column of T's table that may hold NULL has a
// pointer field in T: database.PreparedSlice scans pgx's rows straight into the fields, and a
// NULL into a field that is not a pointer is an error there. It checks PostgreSQL only (SQLite
// reads go through Bun) and does nothing on SQLite.
func RequireNullsInPointers[T any](t testing.TB, db *bun.DB) {
	t.Helper()
	if db.Dialect().Name() != dialect.PG {
		return
	}
	table := db.Dialect().Tables().Get(reflect.TypeFor[T]())
	rows, err := db.QueryContext(context.Background(), `SELECT column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = ? AND is_nullable = 'YES'`, table.Name)
	if err != nil {
		t.Fatalf("columns of %s: %v", table.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var column string
		if err := rows.Scan(&column); err != nil {
			t.Fatal(err)
		}
		if f, ok := table.FieldMap[column]; ok && !f.IsPtr {
			t.Errorf("%s.%s may be NULL, but %s.%s is not a pointer", table.Name, column, table.TypeName, f.GoName)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
