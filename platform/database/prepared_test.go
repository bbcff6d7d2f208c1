package database_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

type preparedRow struct {
	bun.BaseModel `bun:"table:prepared_things"`

	ID   uuid.UUID `bun:"id,pk"`
	At   time.Time `bun:"at"`
	Name string    `bun:"name"`
}

// Prepared reads what Bun wrote, with arguments apart from the text, on each driver (SQLite,
// pgx, pgdriver): UUIDs, times compared with stored times, and several placeholders; the same
// statement again (pgx's cached statement on PostgreSQL) gives the same answer.
func TestPrepared(t *testing.T) {
	dbtest.EachTarget(t, testPrepared)
	t.Run("pgdriver", func(t *testing.T) { testPrepared(t, dbtest.PgdriverTarget(t)) })
}

func testPrepared(t *testing.T, target dbtest.Target) {
	ctx := context.Background()
	db := dbtest.Open(t, target)
	_, err := db.NewCreateTable().Model((*preparedRow)(nil)).Exec(ctx)
	require.NoError(t, err)
	require.Equal(t, `"id", "at", "name"`, database.Columns[preparedRow](db))
	base := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	var rows []preparedRow
	for i := range 5 {
		rows = append(rows, preparedRow{ID: uuid.New(), At: base.Add(time.Duration(i) * time.Second), Name: string(rune('a' + i))})
	}
	_, err = db.NewInsert().Model(&rows).Exec(ctx)
	require.NoError(t, err)

	for range 3 {
		var got []preparedRow
		err := database.Prepared(ctx, db, &got, "SELECT id, at, name FROM prepared_things WHERE id = $1", rows[2].ID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "c", got[0].Name)
		require.True(t, got[0].At.Equal(rows[2].At), "%v", got[0].At)

		got = nil
		err = database.Prepared(ctx, db, &got, `SELECT id, at, name FROM prepared_things
WHERE at < $1 AND name <> $2 ORDER BY at DESC LIMIT $3`, rows[3].At, "b", 10)
		require.NoError(t, err)
		require.Equal(t, []string{"c", "a"}, []string{got[0].Name, got[1].Name})
		require.Len(t, got, 2)

		got = nil
		err = database.Prepared(ctx, db, &got, "SELECT id, at, name FROM prepared_things WHERE id = $1", uuid.New())
		require.NoError(t, err)
		require.Empty(t, got)
	}
}

// eachDriver runs fn on SQLite, on PostgreSQL through pgx and on PostgreSQL through pgdriver,
// each with a fresh database holding five preparedRows one second apart.
func eachDriver(t *testing.T, fn func(t *testing.T, db *bun.DB, rows []preparedRow)) {
	for _, tg := range []struct {
		name string
		make func(testing.TB) dbtest.Target
	}{{"sqlite", dbtest.SQLiteTarget}, {"postgres", dbtest.PostgresTarget}, {"pgdriver", dbtest.PgdriverTarget}} {
		t.Run(tg.name, func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.Open(t, tg.make(t))
			_, err := db.NewCreateTable().Model((*preparedRow)(nil)).Exec(ctx)
			require.NoError(t, err)
			base := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
			var rows []preparedRow
			for i := range 5 {
				rows = append(rows, preparedRow{ID: uuid.New(), At: base.Add(time.Duration(i) * time.Second), Name: string(rune('a' + i))})
			}
			_, err = db.NewInsert().Model(&rows).Exec(ctx)
			require.NoError(t, err)
			fn(t, db, rows)
		})
	}
}

// The statements the stores write for Prepared read the same rows on every driver: a keyset
// page after a (time, id) or (text, id) key, a LIMIT from an int, one row by id into a model.
func TestPreparedAsTheStoresCallIt(t *testing.T) {
	eachDriver(t, func(t *testing.T, db *bun.DB, rows []preparedRow) {
		ctx := context.Background()
		var got []preparedRow
		require.NoError(t, database.Prepared(ctx, db, &got, `SELECT id, at, name FROM prepared_things
WHERE (at, id) < ($1, $2) ORDER BY at DESC, id DESC LIMIT $3`, rows[3].At, rows[3].ID, 2))
		require.Len(t, got, 2)
		assert.Equal(t, []uuid.UUID{rows[2].ID, rows[1].ID}, []uuid.UUID{got[0].ID, got[1].ID})

		got = nil
		require.NoError(t, database.Prepared(ctx, db, &got, `SELECT id, at, name FROM prepared_things
WHERE (lower(name), id) > ($1, $2) ORDER BY lower(name), id LIMIT $3`, "b", rows[1].ID, int64(10)))
		assert.Len(t, got, 3)

		var one preparedRow
		require.NoError(t, database.Prepared(ctx, db, &one, "SELECT id, at, name FROM prepared_things WHERE id = $1", rows[4].ID))
		assert.Equal(t, "e", one.Name)
		assert.True(t, one.At.Equal(rows[4].At))

		// Text that looks like a placeholder, or quotes, is an argument's content, never SQL.
		got = nil
		require.NoError(t, database.Prepared(ctx, db, &got, "SELECT id, at, name FROM prepared_things WHERE name = $1 OR name = $2",
			"$1' OR '1'='1", `a"\`))
		assert.Empty(t, got)
	})
}

// PreparedExec writes with its arguments apart from the text on every driver.
func TestPreparedExec(t *testing.T) {
	eachDriver(t, func(t *testing.T, db *bun.DB, rows []preparedRow) {
		ctx := context.Background()
		at := time.Date(2030, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
		require.NoError(t, database.PreparedExec(ctx, db, "UPDATE prepared_things SET at = $1, name = $2 WHERE id = $3",
			at, "it's", rows[0].ID))
		var got preparedRow
		require.NoError(t, db.NewSelect().Model(&got).Where("id = ?", rows[0].ID).Scan(ctx))
		assert.Equal(t, "it's", got.Name)
		assert.True(t, got.At.Equal(at), "%v", got.At)
	})
}

// On PostgreSQL a slice is one array parameter, through pgx and through pgdriver alike: of
// integers, of UUIDs, of strings however quoted; empty, it matches nothing; nil is NULL.
func TestPreparedArrays(t *testing.T) {
	eachDriver(t, func(t *testing.T, db *bun.DB, rows []preparedRow) {
		if db.Dialect().Name() != dialect.PG {
			t.Skip("SQLite has no array parameters; its stores write IN lists through Bun")
		}
		ctx := context.Background()
		names := func(got []preparedRow) []string {
			var out []string
			for _, r := range got {
				out = append(out, r.Name)
			}
			return out
		}
		var got []preparedRow
		require.NoError(t, database.Prepared(ctx, db, &got,
			"SELECT id, at, name FROM prepared_things WHERE id = ANY($1) ORDER BY name", []uuid.UUID{rows[3].ID, rows[1].ID}))
		assert.Equal(t, []string{"b", "d"}, names(got))

		_, err := db.NewInsert().Model(&[]preparedRow{
			{ID: uuid.New(), At: rows[0].At, Name: `quote " and \ backslash`},
			{ID: uuid.New(), At: rows[0].At, Name: "comma, {brace}, 'single'"},
			{ID: uuid.New(), At: rows[0].At, Name: "NULL"},
		}).Exec(ctx)
		require.NoError(t, err)
		got = nil
		require.NoError(t, database.Prepared(ctx, db, &got,
			"SELECT id, at, name FROM prepared_things WHERE name = ANY($1) ORDER BY name",
			[]string{`quote " and \ backslash`, "comma, {brace}, 'single'", "NULL", "a", "zz"}))
		assert.Equal(t, []string{"NULL", "a", "comma, {brace}, 'single'", `quote " and \ backslash`}, names(got))

		var n []int64
		require.NoError(t, database.Prepared(ctx, db, &n,
			"SELECT count(*) FROM prepared_things WHERE length(name) = ANY($1) AND NOT (name = ANY($2)) AND at <= $3",
			[]int64{1, 4}, []string{}, rows[4].At))
		assert.Equal(t, []int64{6}, n, "a to e, and NULL; the empty list leaves none out")

		n = nil
		require.NoError(t, database.Prepared(ctx, db, &n,
			"SELECT count(*) FROM prepared_things WHERE id = ANY($1)", []uuid.UUID(nil)))
		assert.Equal(t, []int64{0}, n, "a nil slice is NULL: nothing is = ANY(NULL)")

		require.NoError(t, database.PreparedExec(ctx, db,
			"DELETE FROM prepared_things WHERE id = ANY($1) AND at = $2", []uuid.UUID{rows[0].ID, rows[1].ID}, rows[1].At))
		cnt, err := db.NewSelect().Model((*preparedRow)(nil)).Count(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 7, cnt, "only the row with both the id and the time")
	})
}

// Warm leaves the connections it opened idle in the pool.
func TestWarm(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		db := dbtest.Open(t, target)
		require.NoError(t, database.Warm(context.Background(), db, 5, nil))
		require.GreaterOrEqual(t, db.DB.Stats().Idle, 5)
	})
}

// Warm with hot statements runs them on every connection it opened: on pgx each of those
// connections has them prepared before the first request (pg_prepared_statements is per
// connection).
func TestWarmPreparesTheHotStatementsOnEveryConnection(t *testing.T) {
	target := dbtest.PostgresTarget(t)
	db := dbtest.Open(t, target)
	const n = 5
	const hotQuery = "SELECT $1::bigint + 1 AS warmed"
	ran := 0
	hot := func(ctx context.Context) error {
		ran++
		var got []struct {
			Warmed int64 `bun:"warmed"`
		}
		return database.Prepared(ctx, db, &got, hotQuery, int64(41))
	}
	ctx := context.Background()
	require.NoError(t, database.Warm(ctx, db, n, hot))
	assert.Equal(t, n, ran)
	assert.LessOrEqual(t, db.DB.Stats().OpenConnections, n, "no connection beyond the warmed ones")

	// Hold n connections at once (the warmed ones): each has prepared the statement.
	conns := make([]interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
		Close() error
	}, 0, n)
	for range n {
		c, err := db.DB.Conn(ctx)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	for i, c := range conns {
		var prepared int
		require.NoError(t, c.QueryRowContext(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE statement = '"+hotQuery+"'").Scan(&prepared))
		assert.Equal(t, 1, prepared, "connection %d has not prepared the hot statement", i)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
}

// sliceRow has a nullable column (a pointer field) and a computed one (scanonly).
type sliceRow struct {
	bun.BaseModel `bun:"table:prepared_things"`

	ID      uuid.UUID  `bun:"id,pk"`
	At      time.Time  `bun:"at"`
	Name    string     `bun:"name"`
	Later   *time.Time `bun:"later"`
	NameKey string     `bun:"name_key,scanonly"`
}

// PreparedSlice reads what Prepared reads, on every driver: on pgx through pgx's own rows,
// columns matched to fields by name in any order, a NULL into a pointer, a computed column; a
// column without a field is an error, and a read that finds nothing empties the slice.
func TestPreparedSliceReadsAsPrepared(t *testing.T) {
	eachDriver(t, func(t *testing.T, db *bun.DB, rows []preparedRow) {
		ctx := context.Background()
		_, err := db.NewAddColumn().Model((*sliceRow)(nil)).ColumnExpr("later TIMESTAMPTZ").Exec(ctx)
		require.NoError(t, err)
		later := rows[0].At.Add(time.Hour)
		_, err = db.NewUpdate().Model((*sliceRow)(nil)).Set("later = ?", later).Where("id = ?", rows[1].ID).Exec(ctx)
		require.NoError(t, err)

		query := `SELECT name, lower(name) AS name_key, later, id, at FROM prepared_things
WHERE at >= $1 ORDER BY at LIMIT $2`
		var want, got []sliceRow
		require.NoError(t, database.Prepared(ctx, db, &want, query, rows[0].At, 3))
		require.NoError(t, database.PreparedSlice(ctx, db, &got, query, rows[0].At, 3))
		require.Len(t, got, 3)
		for i := range got {
			assert.Equal(t, want[i].ID, got[i].ID)
			assert.Equal(t, want[i].Name, got[i].Name)
			assert.Equal(t, want[i].NameKey, got[i].NameKey)
			assert.True(t, want[i].At.Equal(got[i].At), "%v vs %v", want[i].At, got[i].At)
			assert.Equal(t, want[i].Later == nil, got[i].Later == nil)
		}
		require.NotNil(t, got[1].Later)
		assert.True(t, got[1].Later.Equal(later))
		assert.Nil(t, got[0].Later)

		require.NoError(t, database.PreparedSlice(ctx, db, &got, "SELECT id, at, name FROM prepared_things WHERE id = $1", uuid.New()))
		assert.Empty(t, got, "a read that finds nothing leaves no earlier row")

		err = database.PreparedSlice(ctx, db, &got, "SELECT id, 1 AS unknown FROM prepared_things")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "unknown")
	})
}
