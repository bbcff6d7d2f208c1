package sqlite

import (
	"context"
	"database/sql/driver"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	msqlite "modernc.org/sqlite"
)

// SQLite admits one writer at a time. Left to SQLite, writers that find the file locked sleep
// in its busy handler (1, 2, 5, 10 ... 100 ms, then poll again), so under a steady write load
// a commit can wait tens or hundreds of milliseconds for a lock freed long before. The
// connections Open makes queue for a writeGate in Go instead: a write transaction
// (BEGIN IMMEDIATE) or a write statement outside one takes the gate first and gives it back
// when it ends, so writers take turns in arrival order with no polling, while reads (SELECT,
// read-only transactions) never wait for it and run concurrently (WAL).
//
// The gate only orders this process's writers; SQLite's lock and busy timeout still guard the
// file against other processes. A writer that cannot have the gate within writeGateWait (a
// goroutine writing through the pool while its own transaction holds the gate, say) goes on
// without it, and SQLite's busy timeout decides, as it would without the gate.

// writeGateWait is how long a writer queues for the gate before it goes on without it: the
// busy timeout of DSN.
const writeGateWait = 10 * time.Second

// writeGate is one SQLite file's writer queue. Goroutines blocked sending on a channel are
// served in arrival order.
type writeGate struct{ slot chan struct{} }

var (
	gatesMu sync.Mutex
	gates   = map[string]*writeGate{}
)

// gateFor is the gate of the file at path, shared by every database this process opens on it.
func gateFor(path string) *writeGate {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	gatesMu.Lock()
	defer gatesMu.Unlock()
	g, ok := gates[path]
	if !ok {
		g = &writeGate{slot: make(chan struct{}, 1)}
		gates[path] = g
	}
	return g
}

// acquire waits for the gate. It reports whether it took it: false when ctx ended or the wait
// passed writeGateWait (the caller then goes on and SQLite decides).
func (g *writeGate) acquire(ctx context.Context) bool {
	select {
	case g.slot <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(writeGateWait)
	defer t.Stop()
	select {
	case g.slot <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	case <-t.C:
		return false
	}
}

func (g *writeGate) release() { <-g.slot }

// readOnly reports whether query only reads: one that starts (after blanks and comments) with
// SELECT, VALUES or EXPLAIN (which describes a statement without running it), or with WITH
// and names none of INSERT, UPDATE, DELETE and REPLACE outside quotes and comments. Anything
// else (INSERT, UPDATE, DELETE, WITH ... INSERT, DDL, PRAGMA) counts as a write. Mistaking a
// write for a read only costs that write its place in the queue (SQLite's busy handler
// decides, as without the gate).
func readOnly(query string) bool {
	first := ""
	write := false
	sqlWords(query, func(w string) bool {
		if first == "" {
			first = strings.ToUpper(w)
			return first == "WITH" // only a WITH needs the rest of the statement
		}
		switch strings.ToUpper(w) {
		case "INSERT", "UPDATE", "DELETE", "REPLACE":
			write = true
			return false
		}
		return true
	})
	switch first {
	case "SELECT", "VALUES", "EXPLAIN":
		return true
	case "WITH":
		return !write
	}
	return false
}

// sqlWords calls yield with each bare word of query (letters, digits and _), in order, until
// it returns false. Comments (-- to the line's end, /* */) and what is quoted (with ', ", `
// or [ ]) are skipped.
func sqlWords(query string, yield func(string) bool) {
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				return
			}
			i += end + 1
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				return
			}
			i += 2 + end + 2
		case c == '\'' || c == '"' || c == '`' || c == '[':
			closer := c
			if c == '[' {
				closer = ']'
			}
			// A doubled quote inside is two quoted strings in a row here: same words skipped.
			end := strings.IndexByte(query[i+1:], closer)
			if end < 0 {
				return
			}
			i += 1 + end + 1
		case isWordByte(c):
			start := i
			for i < len(query) && isWordByte(query[i]) {
				i++
			}
			if !yield(query[start:i]) {
				return
			}
		default:
			i++
		}
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// gatedConnector opens modernc connections whose writes take the gate.
type gatedConnector struct {
	inner driver.Connector
	gate  *writeGate
}

// newGatedConnector is modernc's connector for dsn, its connections' writes queued on the gate
// of the file at path.
func newGatedConnector(dsn, path string) (*gatedConnector, error) {
	inner, err := msqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return &gatedConnector{inner: inner, gate: gateFor(path)}, nil
}

func (c *gatedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &gatedConn{inner: conn, gate: c.gate}, nil
}

func (c *gatedConnector) Driver() driver.Driver { return c.inner.Driver() }

// innerConn is what modernc's connection implements and gatedConn forwards.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
}

// gatedConn is one connection. database/sql uses a connection from one goroutine at a time,
// so inTx needs no lock.
type gatedConn struct {
	inner driver.Conn
	gate  *writeGate
	inTx  bool     // a transaction is open on this connection: its statements pass straight through
	tx    *gatedTx // that transaction, whose gate a Close gives back
}

func (c *gatedConn) conn() (innerConn, error) {
	ic, ok := c.inner.(innerConn)
	if !ok {
		return nil, driver.ErrSkip
	}
	return ic, nil
}

func (c *gatedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *gatedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	ic, err := c.conn()
	if err != nil {
		return nil, err
	}
	st, err := ic.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &gatedStmt{inner: st, c: c, write: !readOnly(query)}, nil
}

func (c *gatedConn) Close() error {
	if c.tx != nil {
		c.tx.end() // closed with its transaction open: SQLite rolls it back
	}
	return c.inner.Close()
}

func (c *gatedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx takes the gate for a write transaction (DSN's BEGIN IMMEDIATE) and keeps it
// until Commit or Rollback. A read-only transaction (a plain BEGIN) does not take it.
func (c *gatedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	ic, err := c.conn()
	if err != nil {
		return nil, err
	}
	held := !opts.ReadOnly && c.gate.acquire(ctx)
	tx, err := ic.BeginTx(ctx, opts)
	if err != nil {
		if held {
			c.gate.release()
		}
		return nil, err
	}
	c.inTx = true
	c.tx = &gatedTx{inner: tx, c: c, held: held}
	return c.tx, nil
}

// enter takes the gate for a statement outside a transaction that may write; done gives it
// back.
func (c *gatedConn) enter(ctx context.Context, write bool) (done func()) {
	if c.inTx || !write || !c.gate.acquire(ctx) {
		return func() {}
	}
	return c.gate.release
}

func (c *gatedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ic, err := c.conn()
	if err != nil {
		return nil, err
	}
	done := c.enter(ctx, !readOnly(query))
	defer done()
	return ic.ExecContext(ctx, query, args)
}

func (c *gatedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ic, err := c.conn()
	if err != nil {
		return nil, err
	}
	done := c.enter(ctx, !readOnly(query))
	rows, err := ic.QueryContext(ctx, query, args)
	if err != nil {
		done()
		return nil, err
	}
	// A writing statement (INSERT ... RETURNING) holds SQLite's lock until its rows close.
	return &gatedRows{inner: rows, done: done}, nil
}

func (c *gatedConn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *gatedConn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *gatedConn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

type gatedTx struct {
	inner driver.Tx
	c     *gatedConn
	held  bool
}

func (t *gatedTx) Commit() error {
	defer t.end()
	return t.inner.Commit()
}

func (t *gatedTx) Rollback() error {
	defer t.end()
	return t.inner.Rollback()
}

func (t *gatedTx) end() {
	t.c.inTx, t.c.tx = false, nil
	if t.held {
		t.held = false
		t.c.gate.release()
	}
}

type gatedStmt struct {
	inner driver.Stmt
	c     *gatedConn
	write bool
}

func (s *gatedStmt) Close() error  { return s.inner.Close() }
func (s *gatedStmt) NumInput() int { return s.inner.NumInput() }

func (s *gatedStmt) Exec(args []driver.Value) (driver.Result, error) {
	done := s.c.enter(context.Background(), s.write)
	defer done()
	return s.inner.Exec(args) //nolint:staticcheck // the driver.Stmt interface
}

func (s *gatedStmt) Query(args []driver.Value) (driver.Rows, error) {
	done := s.c.enter(context.Background(), s.write)
	rows, err := s.inner.Query(args) //nolint:staticcheck // the driver.Stmt interface
	if err != nil {
		done()
		return nil, err
	}
	return &gatedRows{inner: rows, done: done}, nil
}

func (s *gatedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	ec, ok := s.inner.(driver.StmtExecContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	done := s.c.enter(ctx, s.write)
	defer done()
	return ec.ExecContext(ctx, args)
}

func (s *gatedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := s.inner.(driver.StmtQueryContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	done := s.c.enter(ctx, s.write)
	rows, err := qc.QueryContext(ctx, args)
	if err != nil {
		done()
		return nil, err
	}
	return &gatedRows{inner: rows, done: done}, nil
}

// gatedRows gives the gate back when the rows close; it forwards the column-type methods of
// modernc's rows.
type gatedRows struct {
	inner driver.Rows
	done  func()
	once  sync.Once
}

func (r *gatedRows) Columns() []string              { return r.inner.Columns() }
func (r *gatedRows) Next(dest []driver.Value) error { return r.inner.Next(dest) }

func (r *gatedRows) Close() error {
	defer r.once.Do(r.done)
	return r.inner.Close()
}

func (r *gatedRows) ColumnTypeDatabaseTypeName(i int) string {
	if x, ok := r.inner.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return x.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *gatedRows) ColumnTypeScanType(i int) reflect.Type {
	if x, ok := r.inner.(driver.RowsColumnTypeScanType); ok {
		return x.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *gatedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if x, ok := r.inner.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *gatedRows) ColumnTypeLength(i int) (int64, bool) {
	if x, ok := r.inner.(driver.RowsColumnTypeLength); ok {
		return x.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *gatedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if x, ok := r.inner.(driver.RowsColumnTypePrecisionScale); ok {
		return x.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
