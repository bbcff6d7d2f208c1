// Package lease elects one holder at a time among processes that share a database: a row per
// lease (name, holder, expires_at) that a process takes when it is free or expired and renews
// while it works. The table belongs to the capability that uses it (its migrations create it):
//
//	CREATE TABLE <table> (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at <timestamp> NOT NULL)
package lease

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

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
	held, err := l.take(ctx, now)
	if held {
		l.renewedAt = now
	}
	return held, err
}

func (l *Lease) take(ctx context.Context, now time.Time) (bool, error) {
	until := now.Add(l.ttl)
	res, err := l.db.NewUpdate().TableExpr(l.table).
		Set("holder = ?", l.holder).Set("expires_at = ?", until).
		Where("name = ?", l.name).
		WhereGroup(" AND ", func(q *bun.UpdateQuery) *bun.UpdateQuery {
			return q.Where("holder = ?", l.holder).WhereOr("expires_at < ?", now)
		}).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", l.name, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	row := map[string]any{"name": l.name, "holder": l.holder, "expires_at": until}
	res, err = l.db.NewInsert().Model(&row).TableExpr(l.table).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", l.name, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Release gives the lease up, so that another process takes it at once (on shutdown).
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.renewedAt = time.Time{}
	if _, err := l.db.NewDelete().TableExpr(l.table).Where("name = ?", l.name).
		Where("holder = ?", l.holder).Exec(ctx); err != nil {
		return fmt.Errorf("lease %s: release: %w", l.name, err)
	}
	return nil
}
