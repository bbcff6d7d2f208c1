package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	msqlite "modernc.org/sqlite"
)

func TestReadOnlyRecognisesReads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"SELECT 1", true},
		{"  \n\tselect * FROM t", true},
		{"-- the campaign\nSELECT * FROM t", true},
		{"/* why */ /* and how */ SELECT 1", true},
		{"/* unterminated SELECT 1", false},
		{"-- only a comment", false},
		{"VALUES (1), (2)", true},
		{"EXPLAIN QUERY PLAN DELETE FROM t", true},
		{"WITH x AS (SELECT 1) SELECT * FROM x", true},
		{"with recursive n(i) AS (VALUES(1) UNION ALL SELECT i+1 FROM n) SELECT i FROM n", true},
		{"WITH x AS (SELECT 'delete' AS a, \"update\" FROM t) SELECT * FROM x", true},
		{"WITH x AS (SELECT 1 -- insert\n) SELECT * FROM x", true},
		{"WITH x AS (SELECT deleted_at, inserted FROM t) SELECT * FROM x", true},
		{"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", false},
		{"WITH x AS (SELECT 1) update t SET a = 1", false},
		{"WITH x AS (SELECT 1) DELETE FROM t", false},
		{"WITH x AS (SELECT 1) REPLACE INTO t VALUES (1)", false},
		{"INSERT INTO t VALUES (1)", false},
		{"/* SELECT */ INSERT INTO t VALUES (1)", false},
		{"UPDATE t SET a = 1", false},
		{"DELETE FROM t", false},
		{"REPLACE INTO t VALUES (1)", false},
		{"CREATE TABLE t (a)", false},
		{"PRAGMA wal_checkpoint", false},
		{"selected", false},
		{"sel", false},
		{"", false},
	} {
		assert.Equal(t, tc.want, readOnly(tc.query), "%q", tc.query)
	}
}

// impatientDSN is DSN with no busy timeout: a connection that finds the file locked
// fails at once with SQLITE_BUSY. Writers on it only all commit when they queue on the gate.
func impatientDSN(path string) string {
	return strings.Replace(DSN(path), "busy_timeout%2810000%29", "busy_timeout%280%29", 1)
}

// openGated opens a fresh file, with impatientDSN, as Open does (gated) or through
// modernc's plain connector.
func openGated(t *testing.T, gated bool) *bun.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gate.db")
	dsn := impatientDSN(path)
	require.NotEqual(t, DSN(path), dsn)
	var connector driver.Connector
	var err error
	if gated {
		connector, err = newGatedConnector(dsn, path)
	} else {
		connector, err = msqlite.NewConnector(dsn)
	}
	require.NoError(t, err)
	sqldb := sql.OpenDB(connector)
	Pool().Apply(sqldb)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.ExecContext(context.Background(), "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
	require.NoError(t, err)
	_, err = db.ExecContext(context.Background(), "INSERT INTO counter (id, n) VALUES (1, 0)")
	require.NoError(t, err)
	// Every connection of the pool is opened now, one at a time. Opening one runs the DSN's
	// pragmas, outside the gate, as opening a reader must (it would otherwise wait for the
	// writer); with no busy timeout they could find the file locked by a writer, where the
	// real DSN's busy timeout waits. The writers under test then find their connections open.
	conns := make([]bun.Conn, 0, Pool().MaxOpenConns)
	for range Pool().MaxOpenConns {
		c, err := db.Conn(context.Background())
		require.NoError(t, err)
		require.NoError(t, c.PingContext(context.Background()))
		conns = append(conns, c)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	return db
}

// concurrentWrites runs every kind of write (transactions, statements outside one, INSERT ...
// RETURNING through a query) from many goroutines at once and returns the errors and the
// increments that committed.
func concurrentWrites(t *testing.T, db *bun.DB) (errs []error, committed int) {
	ctx := context.Background()
	const goroutines, each = 8, 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				var err error
				switch (g + i) % 3 {
				case 0:
					err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
						var n int
						if err := tx.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, "UPDATE counter SET n = ? WHERE id = 1", n+1)
						return err
					})
				case 1:
					_, err = db.ExecContext(ctx, "UPDATE counter SET n = n + 1 WHERE id = 1")
				default:
					var n int
					err = db.QueryRowContext(ctx, "UPDATE counter SET n = n + 1 WHERE id = 1 RETURNING n").Scan(&n)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, db.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&committed))
	return errs, committed
}

// Concurrent writers all commit without SQLite's busy handler: with no busy timeout at all,
// none of them finds the file locked, since they queue on the gate. The same writers without
// the gate fail with SQLITE_BUSY, so the busy handler is what they would otherwise rely on.
func TestSQLiteConcurrentWritersAllCommit(t *testing.T) {
	t.Parallel()
	errs, n := concurrentWrites(t, openGated(t, true))
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 8*40, n, "every increment, read-modify-write ones included, committed")

	// Whether two ungated writers meet is up to the scheduler: on a loaded machine a run can
	// pass without a collision, so the control gets a few runs to show one.
	for range 5 {
		if errs, _ = concurrentWrites(t, openGated(t, false)); len(errs) > 0 {
			break
		}
	}
	require.NotEmpty(t, errs, "ungated writers with no busy timeout collide")
	assert.ErrorContains(t, errs[0], "SQLITE_BUSY")
}

// While a write transaction is open, reads and read-only transactions go on (WAL), and another
// writer waits for the commit, then proceeds at once.
func TestSQLiteReadsDoNotWaitForTheWriter(t *testing.T) {
	t.Parallel()
	db := openGated(t, true) // no busy timeout: the second writer can only wait on the gate
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "UPDATE counter SET n = 42 WHERE id = 1")
	require.NoError(t, err)

	var n int
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	require.NoError(t, db.QueryRowContext(rctx, "SELECT n FROM counter WHERE id = 1").Scan(&n))
	assert.Zero(t, n, "a read sees the last commit without waiting")
	ro, err := db.BeginTx(rctx, &sql.TxOptions{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, ro.QueryRowContext(rctx, "SELECT n FROM counter WHERE id = 1").Scan(&n))
	require.NoError(t, ro.Commit())

	wrote := make(chan time.Time, 1)
	go func() {
		_, err := db.ExecContext(ctx, "UPDATE counter SET n = n + 1 WHERE id = 1")
		assert.NoError(t, err)
		wrote <- time.Now()
	}()
	select {
	case <-wrote:
		t.Fatal("a second writer went ahead of the open write transaction")
	case <-time.After(100 * time.Millisecond):
	}
	committed := time.Now()
	require.NoError(t, tx.Commit())
	at := <-wrote
	assert.Less(t, at.Sub(committed), time.Second, "the waiting writer proceeds once the lock is free")
	require.NoError(t, db.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n))
	assert.Equal(t, 43, n)
}

// readOnly never panics, and a leading comment or blank never changes its answer.
func FuzzReadOnly(f *testing.F) {
	for _, q := range []string{"SELECT 1", "WITH x AS (SELECT 1) INSERT INTO t SELECT 1", "/* a */ VALUES (1)",
		"-- x\nDELETE FROM t", "WITH a AS (SELECT '", "[", "`update`", "EXPLAIN UPDATE t SET a = 1"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := readOnly(q)
		if readOnly("/* note */\n"+q) != got || readOnly(" \t-- note\n"+q) != got {
			t.Fatalf("a leading comment changed readOnly(%q)", q)
		}
	})
}
