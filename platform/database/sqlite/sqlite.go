// Package sqlite opens the embedded default's store: a SQLite file through the pure-Go
// modernc.org/sqlite driver (no cgo) and Bun's sqlitedialect, with its writers queued in Go.
//
// It is a package of its own so that a host on PostgreSQL links no SQLite driver: only those
// who import it do.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/engine-rules-sp/campaigns/platform/database"
)

// Pool is the pool of the embedded default (configs/config.yaml): a few connections kept
// open. SQLite admits one writer at a time, so more connections only queue for it.
func Pool() database.Pool {
	return database.Pool{MaxOpenConns: 8, MaxIdleConns: 8, ConnMaxLifetime: 30 * time.Minute, ConnMaxIdleTime: 5 * time.Minute}
}

// DSN is the DSN (for the "sqlite" driver of modernc.org/sqlite) of the SQLite file at path,
// with the settings that make it safe under concurrent use:
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
// Open uses it; a host that opens the database itself should too.
func DSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating it and its folder if needed) the SQLite file at path with DSN's
// settings and pool's sizes (Pool: the embedded default's), and checks it answers. Its
// writers queue in Go for the file's one write lock (see writeGate) while its readers run
// concurrently. It is how the binaries open SQLite, and how a host should.
func Open(ctx context.Context, path string, pool database.Pool) (*bun.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("database: create %s: %w", dir, err)
		}
	}
	connector, err := newGatedConnector(DSN(path), path)
	if err != nil {
		return nil, fmt.Errorf("database: open sqlite: %w", err)
	}
	sqldb := sql.OpenDB(connector)
	pool.Apply(sqldb)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("database: connect sqlite: %w", err)
	}
	return db, nil
}
