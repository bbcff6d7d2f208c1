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
func Open(ctx context.Context, cfg config.Database) (*bun.DB, error) {
	switch cfg.Driver {
	case config.DriverPostgres:
		return OpenPostgres(ctx, cfg.PostgresURL(), PoolOf(cfg))
	case config.DriverSQLite:
		return OpenSQLite(ctx, cfg.SQLitePath, PoolOf(cfg))
	default:
		return nil, fmt.Errorf("database: unknown driver %q", cfg.Driver)
	}
}

// Pool sizes a database/sql connection pool. Zero values are database/sql's defaults.
type Pool struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
}

// PoolOf is the pool the configuration asks for.
func PoolOf(cfg config.Database) Pool {
	return Pool{
		MaxOpenConns: cfg.MaxOpenConns, MaxIdleConns: cfg.MaxIdleConns,
		ConnMaxLifetime: cfg.ConnMaxLifetime, ConnMaxIdleTime: cfg.ConnMaxIdleTime,
	}
}

// SQLitePool is the pool of the embedded default (configs/config.yaml): a few connections
// kept open. SQLite admits one writer at a time, so more connections only queue for it.
func SQLitePool() Pool {
	return Pool{MaxOpenConns: 8, MaxIdleConns: 8, ConnMaxLifetime: 30 * time.Minute, ConnMaxIdleTime: 5 * time.Minute}
}

func (p Pool) apply(db *sql.DB) {
	db.SetMaxOpenConns(p.MaxOpenConns)
	db.SetMaxIdleConns(p.MaxIdleConns)
	db.SetConnMaxLifetime(p.ConnMaxLifetime)
	db.SetConnMaxIdleTime(p.ConnMaxIdleTime)
}

// OpenPostgres opens a PostgreSQL pool through pgx's database/sql adapter.
//
// Bun writes arguments into the SQL text, so every statement text is new to the server. pgx's
// default mode would prepare (and cache, and evict) each one: two round trips per query. The
// simple protocol sends it in one. A DSN that sets default_query_exec_mode keeps its choice.
// The hot reads, whose text is the same at every call, are prepared instead (Prepared).
func OpenPostgres(ctx context.Context, dsn string, pool Pool) (*bun.DB, error) {
	pgcfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("database: the PostgreSQL URL (database.url or the DB_* settings) is invalid")
	}
	if !strings.Contains(dsn, "default_query_exec_mode") {
		pgcfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	sqldb := stdlib.OpenDB(*pgcfg)
	pool.apply(sqldb)
	db := bun.NewDB(sqldb, pgdialect.New())
	return db, ping(ctx, db, "postgres")
}

// SQLiteDSN is the DSN (for the "sqlite" driver of modernc.org/sqlite) of the SQLite file at
// path, with the settings that make it safe under concurrent use:
//
//   - busy_timeout(10000): a connection that finds the database locked waits up to 10 s for it
//     instead of failing at once with SQLITE_BUSY;
//   - journal_mode(WAL): readers and the writer do not block each other;
//   - synchronous(NORMAL): with WAL, a crash cannot corrupt the file (the last commits before
//     a power loss may be lost) and commits do not wait for fsync;
//   - foreign_keys(ON);
//   - _txlock=immediate: transactions take the write lock at BEGIN, where the busy timeout
//     applies. A deferred transaction would take it at its first write, and that upgrade fails
//     at once with SQLITE_BUSY, whatever the timeout, if another connection wrote since the
//     transaction's first read.
//
// OpenSQLite uses it; a host that opens the database itself should too.
func SQLiteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// OpenSQLite opens (creating it and its folder if needed) the SQLite file at path with
// SQLiteDSN's settings and pool's sizes (SQLitePool: the embedded default's), and checks it
// answers. Its writers queue in Go for the file's one write lock (see writeGate) while its
// readers run concurrently. It is how the binaries open SQLite, and how a host should.
func OpenSQLite(ctx context.Context, path string, pool Pool) (*bun.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("database: create %s: %w", dir, err)
		}
	}
	connector, err := newGatedConnector(SQLiteDSN(path), path)
	if err != nil {
		return nil, fmt.Errorf("database: open sqlite: %w", err)
	}
	sqldb := sql.OpenDB(connector)
	pool.apply(sqldb)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	return db, ping(ctx, db, "sqlite")
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
