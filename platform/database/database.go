// Package database opens the service's PostgreSQL store through pgx and Bun's pgdialect, and
// holds the helpers every store uses over a *bun.DB, whichever supported driver it runs on
// (Detect): pgx's database/sql driver, Bun's pgdriver, or modernc.org/sqlite (opened by the
// sqlite sub-package, which only those who use SQLite link).
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Pool sizes a database/sql connection pool. Zero values are database/sql's defaults.
type Pool struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
}

// Apply sets db's pool sizes to p's.
func (p Pool) Apply(db *sql.DB) {
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
// The hot reads, whose text is the same at every call, are prepared instead (Prepared, and
// PreparedSlice, which also scans pgx's rows straight into the models).
//
// After a connection fault (the server restarted, failed over, or killed a connection) the
// pool pings each idle connection before its next use, and replaces the dead ones; the stores'
// transaction helpers and reads retry what the fault broke (RunInTx, Retry).
func OpenPostgres(ctx context.Context, dsn string, pool Pool) (*bun.DB, error) {
	pgcfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("database: the PostgreSQL URL (database.url or the DB_* settings) is invalid")
	}
	if !strings.Contains(dsn, "default_query_exec_mode") {
		pgcfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	// Each pool watches its connections for faults and then checks its idle ones (health.go).
	health := &poolHealth{}
	health.watch(pgcfg)
	sqldb := stdlib.OpenDB(*pgcfg, stdlib.OptionShouldPing(health.shouldPing))
	pool.Apply(sqldb)
	db := bun.NewDB(sqldb, pgdialect.New())
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("database: connect postgres: %w", err)
	}
	return db, nil
}
