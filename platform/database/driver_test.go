package database_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Detect names the driver of each way the tests open a database: SQLite through the gated
// connector of the sqlite package, PostgreSQL through pgx and through pgdriver.
func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		make func(testing.TB) dbtest.Target
		want database.Driver
	}{
		{dbtest.SQLiteTarget, database.DriverSQLite},
		{dbtest.PostgresTarget, database.DriverPgx},
		{dbtest.PgdriverTarget, database.DriverPgdriver},
	} {
		t.Run(tc.want.String(), func(t *testing.T) {
			db := dbtest.Connect(t, tc.make(t))
			got, err := database.Detect(db)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// fakeDriver is a database/sql driver the stores know nothing of.
type fakeDriver struct{}

func (fakeDriver) Open(string) (driver.Conn, error) { return nil, errors.New("fake: no connections") }

type fakeConnector struct{}

func (fakeConnector) Connect(context.Context) (driver.Conn, error) { return fakeDriver{}.Open("") }
func (fakeConnector) Driver() driver.Driver                        { return &fakeDriver{} }

// A driver other than the three is refused, by Detect and by Prepared, with an error that
// names the supported ones; so is a supported driver under the other dialect.
func TestDetectRefusesAnUnsupportedDriver(t *testing.T) {
	db := bun.NewDB(sql.OpenDB(fakeConnector{}), pgdialect.New())
	t.Cleanup(func() { _ = db.Close() })
	_, err := database.Detect(db)
	require.ErrorIs(t, err, database.ErrUnsupportedDriver)
	assert.EqualError(t, err, "database: unsupported driver *database_test.fakeDriver: use pgx's database/sql driver "+
		"(github.com/jackc/pgx/v5/stdlib), Bun's pgdriver (github.com/uptrace/bun/driver/pgdriver) or modernc.org/sqlite")

	var n []int64
	err = database.Prepared(context.Background(), db, &n, "SELECT 1")
	require.ErrorIs(t, err, database.ErrUnsupportedDriver)
	err = database.PreparedExec(context.Background(), db, "SELECT 1")
	require.ErrorIs(t, err, database.ErrUnsupportedDriver)

	pg := dbtest.Connect(t, dbtest.PostgresTarget(t))
	mixed := bun.NewDB(pg.DB, sqlitedialect.New())
	_, err = database.Detect(mixed)
	require.ErrorIs(t, err, database.ErrUnsupportedDriver)
	assert.ErrorContains(t, err, "the pgx driver runs with Bun's pg dialect, not sqlite")
}

// Detect is cheap enough to run at every Prepared call.
func BenchmarkDetect(b *testing.B) {
	db := dbtest.Connect(b, dbtest.SQLiteTarget(b))
	for b.Loop() {
		if _, err := database.Detect(db); err != nil {
			b.Fatal(err)
		}
	}
}
