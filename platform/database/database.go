// Package database opens the service's store: PostgreSQL through pgx and Bun's pgdialect, or
// SQLite through the pure-Go modernc driver and Bun's sqlitedialect.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/engine-rules-sp/campaigns/platform/config"
)

// Open connects to the configured database, applies pool settings and checks it answers.
func Open(ctx context.Context, cfg config.DatabaseConfig) (*bun.DB, error) {
	switch cfg.Driver {
	case config.DriverPostgres:
		return OpenPostgres(ctx, cfg.PostgresURL(), cfg)
	case config.DriverSQLite:
		return OpenSQLite(ctx, cfg.SQLitePath, cfg)
	default:
		return nil, fmt.Errorf("database: unknown driver %q", cfg.Driver)
	}
}

// OpenPostgres opens a PostgreSQL pool through pgx's database/sql adapter.
//
// Bun writes arguments into the SQL text, so every statement text is new to the server. pgx's
// default mode would prepare (and cache, and evict) each one: two round trips per query. The
// simple protocol sends it in one. A DSN that sets default_query_exec_mode keeps its choice.
func OpenPostgres(ctx context.Context, dsn string, cfg config.DatabaseConfig) (*bun.DB, error) {
	pgcfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("database: the PostgreSQL URL (database.url or the DB_* settings) is invalid")
	}
	if !strings.Contains(dsn, "default_query_exec_mode") {
		pgcfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	sqldb := stdlib.OpenDB(*pgcfg)
	pool(sqldb, cfg)
	db := bun.NewDB(sqldb, pgdialect.New())
	return db, ping(ctx, db, "postgres")
}

// OpenSQLite opens (creating if needed) the SQLite file at path in WAL mode. Transactions
// begin IMMEDIATE so that a writer waits for the lock (busy timeout) at BEGIN instead of
// failing at its first write.
func OpenSQLite(ctx context.Context, path string, cfg config.DatabaseConfig) (*bun.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("database: create %s: %w", dir, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("database: open sqlite: %w", err)
	}
	pool(sqldb, cfg)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	return db, ping(ctx, db, "sqlite")
}

func pool(db *sql.DB, cfg config.DatabaseConfig) {
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxIdleConns)
	db.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	db.SetConnMaxIdleTime(cfg.ConnMaxIdleTime)
}

func ping(ctx context.Context, db *bun.DB, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return fmt.Errorf("database: connect %s: %w", name, err)
	}
	return nil
}
