package database

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Driver is a database/sql driver the stores run on.
type Driver int

// The supported drivers.
const (
	// DriverPgx is pgx's database/sql driver (github.com/jackc/pgx/v5/stdlib), as OpenPostgres
	// opens it.
	DriverPgx Driver = iota + 1
	// DriverPgdriver is Bun's own PostgreSQL driver (github.com/uptrace/bun/driver/pgdriver).
	DriverPgdriver
	// DriverSQLite is modernc.org/sqlite, as the sqlite sub-package opens it.
	DriverSQLite
)

func (d Driver) String() string {
	switch d {
	case DriverPgx:
		return "pgx"
	case DriverPgdriver:
		return "pgdriver"
	case DriverSQLite:
		return "sqlite"
	default:
		return fmt.Sprintf("Driver(%d)", int(d))
	}
}

// The packages of the supported drivers' types. They are compared, never imported: a host
// links only the driver it uses.
const (
	pkgPgx      = "github.com/jackc/pgx/v5/stdlib"
	pkgPgdriver = "github.com/uptrace/bun/driver/pgdriver"
	pkgSQLite   = "modernc.org/sqlite"
)

// ErrUnsupportedDriver is the error (wrapped) of Detect for a database on a driver, or a
// driver and dialect pair, the stores do not run on.
var ErrUnsupportedDriver = errors.New("database: unsupported driver")

// Detect tells which supported driver db runs on, from the package of its database/sql
// driver's type, and checks that db's Bun dialect is that driver's: pgdialect for pgx and
// pgdriver, sqlitedialect for SQLite. Any other driver (or a wrapper of one) is refused with
// an error that wraps ErrUnsupportedDriver and names the supported ones.
//
// It costs a few tens of nanoseconds and no allocation (the pool's driver, its type's package
// path, the dialect's name; BenchmarkDetect), next to tens of microseconds for the cheapest
// query: Prepared runs it at every call, and callers need not remember its answer.
func Detect(db *bun.DB) (Driver, error) {
	t := reflect.TypeOf(db.DB.Driver())
	if t == nil {
		return 0, fmt.Errorf("%w: the database has no driver: %s", ErrUnsupportedDriver, supported)
	}
	named := t
	for named.Kind() == reflect.Pointer {
		named = named.Elem()
	}
	var d Driver
	want := dialect.PG
	switch named.PkgPath() {
	case pkgPgx:
		d = DriverPgx
	case pkgPgdriver:
		d = DriverPgdriver
	case pkgSQLite:
		d, want = DriverSQLite, dialect.SQLite
	default:
		return 0, fmt.Errorf("%w %s: %s", ErrUnsupportedDriver, t, supported)
	}
	if got := db.Dialect().Name(); got != want {
		return 0, fmt.Errorf("%w: the %s driver runs with Bun's %s dialect, not %s", ErrUnsupportedDriver, d, want, got)
	}
	return d, nil
}

const supported = "use pgx's database/sql driver (" + pkgPgx + "), Bun's pgdriver (" + pkgPgdriver + ") or " + pkgSQLite
