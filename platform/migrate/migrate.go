// Package migrate applies the schema migrations of every capability package. Each capability
// embeds its own SQL, one folder per dialect, and keeps its own bun/migrate tables, so that an
// embedder can run just the capabilities it mounts.
package migrate

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	bunmigrate "github.com/uptrace/bun/migrate"
)

// Set is one capability's migrations: FS holds a folder per dialect ("postgres", "sqlite") of
// bun SQL migrations (NAME.tx.up.sql / NAME.tx.down.sql).
type Set struct {
	Name string
	FS   fs.FS
}

// Embedded is the Set of a capability that embeds its SQL as migrations/<dialect>/*.sql.
func Embedded(name string, files fs.FS) Set {
	sub, _ := fs.Sub(files, "migrations") // only fails for an invalid path, and this one is valid
	return Set{Name: name, FS: sub}
}

// Status is a set's migrations and whether each is applied.
type Status struct {
	Set        string
	Migrations []MigrationStatus
}

// MigrationStatus is one migration of a set.
type MigrationStatus struct {
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// DialectFolder names the migration folder for db's dialect.
func DialectFolder(db *bun.DB) (string, error) {
	switch db.Dialect().Name() {
	case dialect.PG:
		return "postgres", nil
	case dialect.SQLite:
		return "sqlite", nil
	default:
		return "", fmt.Errorf("migrate: unsupported dialect %s", db.Dialect().Name())
	}
}

func migrator(db *bun.DB, s Set) (*bunmigrate.Migrator, error) {
	folder, err := DialectFolder(db)
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(s.FS, folder)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", s.Name, err)
	}
	ms := bunmigrate.NewMigrations()
	if err := ms.Discover(sub); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", s.Name, err)
	}
	return bunmigrate.NewMigrator(db, ms,
		bunmigrate.WithTableName(s.Name+"_migrations"),
		bunmigrate.WithLocksTableName(s.Name+"_migration_locks"),
		bunmigrate.WithMarkAppliedOnSuccess(true),
	), nil
}

// Up applies every pending migration of the sets, in the order given, under one lock.
func Up(ctx context.Context, db *bun.DB, sets ...Set) error {
	return withLock(ctx, db, func() error {
		for _, s := range sets {
			m, err := migrator(db, s)
			if err != nil {
				return err
			}
			if err := m.Init(ctx); err != nil {
				return fmt.Errorf("migrate %s: init: %w", s.Name, err)
			}
			if _, err := m.Migrate(ctx); err != nil {
				return fmt.Errorf("migrate %s: %w", s.Name, err)
			}
		}
		return nil
	})
}

// Down rolls back the most recent migration group of the last set (in the order given) that
// has one, and returns that set's name ("" when nothing was applied).
func Down(ctx context.Context, db *bun.DB, sets ...Set) (string, error) {
	var rolled string
	err := withLock(ctx, db, func() error {
		for i := len(sets) - 1; i >= 0; i-- {
			m, err := migrator(db, sets[i])
			if err != nil {
				return err
			}
			if err := m.Init(ctx); err != nil {
				return fmt.Errorf("migrate %s: init: %w", sets[i].Name, err)
			}
			g, err := m.Rollback(ctx)
			if err != nil {
				return fmt.Errorf("migrate %s: rollback: %w", sets[i].Name, err)
			}
			if !g.IsZero() {
				rolled = sets[i].Name
				return nil
			}
		}
		return nil
	})
	return rolled, err
}

// List reports each set's migrations and whether they are applied.
func List(ctx context.Context, db *bun.DB, sets ...Set) ([]Status, error) {
	out := make([]Status, 0, len(sets))
	for _, s := range sets {
		m, err := migrator(db, s)
		if err != nil {
			return nil, err
		}
		if err := m.Init(ctx); err != nil {
			return nil, fmt.Errorf("migrate %s: init: %w", s.Name, err)
		}
		ms, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate %s: %w", s.Name, err)
		}
		st := Status{Set: s.Name}
		for _, mg := range ms {
			st.Migrations = append(st.Migrations, MigrationStatus{
				Name: mg.Name, Applied: mg.IsApplied(), AppliedAt: mg.MigratedAt,
			})
		}
		out = append(out, st)
	}
	return out, nil
}

// ErrPending: the database lacks migrations of the sets (some, or all: never migrated).
var ErrPending = errors.New("migrate: the schema is not up to date")

// Current reports whether every migration of the sets is applied: nil if so, an error
// wrapping ErrPending naming the first set behind if not, another error if it cannot tell. It
// only reads (unlike List, it creates no bun/migrate table), so a process without DDL rights
// can wait on it.
func Current(ctx context.Context, db *bun.DB, sets ...Set) error {
	for _, s := range sets {
		m, err := migrator(db, s)
		if err != nil {
			return err
		}
		exists, err := tableExists(ctx, db, s.Name+"_migrations")
		if err != nil {
			return fmt.Errorf("migrate %s: %w", s.Name, err)
		}
		if !exists {
			return fmt.Errorf("%w: %s was never migrated", ErrPending, s.Name)
		}
		ms, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", s.Name, err)
		}
		if pending := ms.Unapplied(); len(pending) > 0 {
			return fmt.Errorf("%w: %s has %d pending migration(s), first %s", ErrPending, s.Name, len(pending), pending[0].Name)
		}
	}
	return nil
}

func tableExists(ctx context.Context, db *bun.DB, table string) (bool, error) {
	var n int
	var err error
	if db.Dialect().Name() == dialect.PG {
		// to_regclass resolves the name through the search_path, as the migrator's queries do.
		err = db.NewRaw("SELECT count(*) FROM (SELECT to_regclass(?) AS t) r WHERE t IS NOT NULL", table).Scan(ctx, &n)
	} else {
		err = db.NewRaw("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(ctx, &n)
	}
	if err != nil {
		return false, fmt.Errorf("look for table %s: %w", table, err)
	}
	return n > 0, nil
}

// lockKey is the PostgreSQL advisory lock every migration run of this service takes.
const lockKey = 7_320_114_551

// withLock serialises migration runs across processes. On PostgreSQL it holds a session
// advisory lock, which the server frees if the process dies. On SQLite each migration runs in
// its own transaction and the database admits one writer at a time; a second process racing
// the first fails on the duplicate DDL without damage, so no lock table (which a crash could
// leave locked) is used.
func withLock(ctx context.Context, db *bun.DB, fn func() error) error {
	if db.Dialect().Name() != dialect.PG {
		return fn()
	}
	conn, err := db.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		// A fresh context: the unlock must run even when ctx was cancelled.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", lockKey); err != nil {
			// Drop the session rather than pool it: ending it frees the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return fn()
}
