// Package lease elects one holder at a time among processes that share a database: a row per
// lease (name, holder, expires_at, token) that a process takes when it is free or expired and
// renews while it works. The table belongs to the capability that uses it (its migrations
// create it):
//
//	CREATE TABLE <table> (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at <timestamp> NOT NULL,
//	    token BIGINT NOT NULL DEFAULT 0)
//
// # Fencing
//
// A lease alone does not stop a holder that paused (a long GC, a stalled disk, a loaded host)
// from writing after it expired and another process took over: it only learns at its next
// renewal. So every tenure carries a fencing token, the lease's generation: token grows by
// one each time a new holder takes the lease (a holder that renews, even late, keeps its
// token, since nobody else held it meanwhile), and the row is never deleted (Release only
// expires it), so a token is never handed out twice. Fence returns the holder's current
// tenure. The work done under a lease is then guarded twice:
//
//   - before an effect outside the database (a publish), Confirm checks that the tenure is
//     still this process's with a safety margin left, renewing it in the database when the
//     local view is too old to tell: a holder that knows it is late does nothing;
//   - the write that records the work names the tenure in the same transaction (Fence.Check,
//     or the same condition inside the statement itself: EXISTS (SELECT 1 FROM <table> WHERE
//     name = ? AND holder = ? AND token = ? FOR SHARE)): a holder whose lease moved on has
//     its write refused (ErrFenced) and rolls back. The check is serialised with takeovers
//     (SQLite's write lock; the share lock on PostgreSQL), so a write that passes it lands
//     before any new holder starts.
//
// The clocks of the processes must agree to within the margin: expires_at is written with the
// holder's clock and compared with the others'.
package lease

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// ErrFenced is the error of a write refused because its tenure of the lease is over: the lease
// expired or another process holds it.
var ErrFenced = errors.New("lease: fenced: the lease is no longer held under this token")

// Lease is one process's claim on a named lease. It is safe for concurrent use.
type Lease struct {
	db     bun.IDB
	table  string
	name   string
	holder string
	ttl    time.Duration
	now    func() time.Time

	mu        sync.Mutex
	renewedAt time.Time // when this process last took or renewed it; zero: not held
	token     int64     // the tenure taken or renewed at renewedAt
}

// Config tunes a Lease. Zero fields take the defaults noted.
type Config struct {
	// TTL is how long the lease stays held after each renewal (15s).
	TTL time.Duration
	// Now is the clock that dates renewals and expiries (default: time.Now).
	Now func() time.Time
}

// New returns a claim on the lease name in table.
func New(db bun.IDB, table, name string, cfg Config) *Lease {
	if cfg.TTL <= 0 {
		cfg.TTL = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Lease{db: db, table: table, name: name, holder: uuid.NewString(), ttl: cfg.TTL, now: cfg.Now}
}

// Renewal is how often a holder writes its lease at most: a third of the TTL, at most a
// second. A busy holder checks many times a second, and a write each time would contend with
// the service's own writes (SQLite has one writer) for nothing.
func (l *Lease) Renewal() time.Duration { return min(time.Second, l.ttl/3) }

// Hold takes the lease or renews it, and reports whether this process holds it.
func (l *Lease) Hold(ctx context.Context) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now().UTC()
	if !l.renewedAt.IsZero() && now.Sub(l.renewedAt) < l.Renewal() {
		return true, nil // renewed moments ago: it holds for most of the TTL still
	}
	l.renewedAt = time.Time{}
	token, held, err := l.take(ctx, now)
	if held {
		l.renewedAt, l.token = now, token
	}
	return held, err
}

// take renews the lease (keeping the token) or takes it over from an expired holder (the next
// token), else inserts it (token 1), and returns the token held.
func (l *Lease) take(ctx context.Context, now time.Time) (int64, bool, error) {
	until := now.Add(l.ttl)
	var tokens []int64
	err := l.db.NewRaw(`UPDATE ? SET token = CASE WHEN holder = ? THEN token ELSE token + 1 END,
holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at < ?) RETURNING token`,
		bun.Ident(l.table), l.holder, l.holder, until, l.name, l.holder, now).Scan(ctx, &tokens)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("lease %s: %w", l.name, err)
	}
	if len(tokens) == 1 {
		return tokens[0], true, nil
	}
	err = l.db.NewRaw(`INSERT INTO ? (name, holder, expires_at, token) VALUES (?, ?, ?, 1)
ON CONFLICT DO NOTHING RETURNING token`, bun.Ident(l.table), l.name, l.holder, until).Scan(ctx, &tokens)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("lease %s: %w", l.name, err)
	}
	if len(tokens) == 1 {
		return tokens[0], true, nil
	}
	return 0, false, nil
}

// Fence is one tenure of a lease: who held it under which token. Writes made under the lease
// name it (Check, Condition) so that the database refuses them once the tenure is over.
type Fence struct {
	Table, Name, Holder string
	Token               int64
}

// Fence returns this process's current tenure, and false when it does not hold the lease (as
// far as it knows: Hold decides).
func (l *Lease) Fence() (Fence, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.renewedAt.IsZero() || !l.now().UTC().Before(l.renewedAt.Add(l.ttl)) {
		return Fence{}, false
	}
	return Fence{Table: l.table, Name: l.name, Holder: l.holder, Token: l.token}, true
}

// Confirm reports whether this process still holds the lease under f with at least margin of
// it left, so that what it does next finishes within its tenure. When its last renewal is too
// old to tell, it renews the lease in the database, under the same token only: a tenure that
// another process interrupted is never resumed.
func (l *Lease) Confirm(ctx context.Context, f Fence, margin time.Duration) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now().UTC()
	if l.renewedAt.IsZero() || l.token != f.Token || f.Holder != l.holder {
		return false, nil
	}
	if now.Add(margin).Before(l.renewedAt.Add(l.ttl)) {
		return true, nil
	}
	l.renewedAt = time.Time{}
	res, err := l.db.NewRaw("UPDATE ? SET expires_at = ? WHERE name = ? AND holder = ? AND token = ?",
		bun.Ident(l.table), now.Add(l.ttl), l.name, l.holder, f.Token).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("lease %s: confirm: %w", l.name, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return false, nil
	}
	l.renewedAt = now
	return true, nil
}

// Lost tells the lease that a write under f was refused (ErrFenced), so that the next Hold asks
// the database rather than trusting its last renewal.
func (l *Lease) Lost(f Fence) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.token == f.Token {
		l.renewedAt = time.Time{}
	}
}

// Release gives the lease up, so that another process takes it at once (on shutdown). The row
// stays, expired, so that the next holder's token follows this one's.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.renewedAt = time.Time{}
	if _, err := l.db.NewRaw("UPDATE ? SET expires_at = ? WHERE name = ? AND holder = ?",
		bun.Ident(l.table), released, l.name, l.holder).Exec(ctx); err != nil {
		return fmt.Errorf("lease %s: release: %w", l.name, err)
	}
	return nil
}

// released is the expiry of a released lease: long past whatever the clocks say.
var released = time.Unix(0, 0).UTC()

// Check returns ErrFenced unless the lease still names f's holder and token, as db sees it:
// nobody else has held it since f began. Run it in the transaction that records the work: the
// write lands only if no other process could have done the same work meanwhile. The check is
// serialised with takeovers: on SQLite the write transaction excludes them until it ends; on
// PostgreSQL the lease row is share-locked until the transaction ends, so a takeover waits for
// it (run it last, just before the commit, so that the holder's own renewals do not wait for
// the rest of the transaction). So a tenure that expired without a takeover still passes: a
// slow holder's work lands as long as nobody replaced it, and Confirm (before the work) is
// where expiry and the margin count.
func (f Fence) Check(ctx context.Context, db bun.IDB) error {
	q := "SELECT 1 FROM ? WHERE name = ? AND holder = ? AND token = ?"
	if db.Dialect().Name() == dialect.PG {
		q += " FOR SHARE"
	}
	var ok []int
	if err := db.NewRaw(q, bun.Ident(f.Table), f.Name, f.Holder, f.Token).Scan(ctx, &ok); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("lease %s: check the fence: %w", f.Name, err)
	}
	if len(ok) == 0 {
		return fmt.Errorf("lease %s, token %d: %w", f.Name, f.Token, ErrFenced)
	}
	return nil
}
