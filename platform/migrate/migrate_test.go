package migrate_test

import (
	"context"
	"io/fs"
	"path"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

// open connects to target without applying any migration.
func open(t *testing.T, target dbtest.Target) *bun.DB {
	t.Helper()
	return dbtest.Connect(t, target)
}

// tableExists asks the catalog whether table exists (in the current schema on PostgreSQL).
func tableExists(t *testing.T, db *bun.DB, table string) bool {
	t.Helper()
	var n int
	var err error
	switch db.Dialect().Name() {
	case dialect.PG:
		err = db.NewRaw(`SELECT count(*) FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name = ?`, table).Scan(context.Background(), &n)
	case dialect.SQLite:
		err = db.NewRaw(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).
			Scan(context.Background(), &n)
	default:
		t.Fatalf("unexpected dialect %s", db.Dialect().Name())
	}
	require.NoError(t, err)
	return n == 1
}

func count(t *testing.T, db *bun.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.NewRaw("SELECT count(*) FROM ?", bun.Ident(table)).Scan(context.Background(), &n))
	return n
}

// migrationNames lists the migration IDs (the numeric prefix bun uses as the name) that set
// holds for db's dialect, in order.
func migrationNames(t *testing.T, db *bun.DB, set migrate.Set) []string {
	t.Helper()
	folder, err := migrate.DialectFolder(db)
	require.NoError(t, err)
	ups, err := fs.Glob(set.FS, folder+"/*.up.sql")
	require.NoError(t, err)
	require.NotEmpty(t, ups, "set %s has no %s migrations", set.Name, folder)
	names := make([]string, 0, len(ups))
	for _, u := range ups {
		id, _, ok := strings.Cut(path.Base(u), "_")
		require.True(t, ok, "migration file %s", u)
		names = append(names, id)
	}
	return names
}

func applied(sts []migrate.Status) map[string][]string {
	out := map[string][]string{}
	for _, st := range sts {
		for _, m := range st.Migrations {
			if m.Applied {
				out[st.Set] = append(out[st.Set], m.Name)
			}
		}
	}
	return out
}

func TestUpDownListCampaign(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		ctx := context.Background()
		db := open(t, target)
		set := bunstore.Migrations()
		want := migrationNames(t, db, set)

		require.False(t, tableExists(t, db, "campaigns"), "fresh database already has campaigns")

		// Before anything ran, List reports every migration pending.
		sts, err := migrate.List(ctx, db, set)
		require.NoError(t, err)
		require.Len(t, sts, 1)
		assert.Equal(t, "campaign", sts[0].Set)
		require.Len(t, sts[0].Migrations, len(want))
		for i, m := range sts[0].Migrations {
			assert.Equal(t, want[i], m.Name)
			assert.False(t, m.Applied, "%s applied before Up", m.Name)
			assert.True(t, m.AppliedAt.IsZero())
		}

		// Up creates the schema.
		require.NoError(t, migrate.Up(ctx, db, set))
		require.True(t, tableExists(t, db, "campaigns"))
		assert.Equal(t, 0, count(t, db, "campaigns"))
		assert.True(t, tableExists(t, db, "campaign_migrations"), "the set keeps its own migrations table")
		assert.Equal(t, len(want), count(t, db, "campaign_migrations"))

		sts, err = migrate.List(ctx, db, set)
		require.NoError(t, err)
		require.Len(t, sts, 1)
		require.Len(t, sts[0].Migrations, len(want))
		for i, m := range sts[0].Migrations {
			assert.Equal(t, want[i], m.Name)
			assert.True(t, m.Applied, "%s not applied after Up", m.Name)
			assert.False(t, m.AppliedAt.IsZero())
		}

		// Up again changes nothing: no new rows, the same applied times.
		require.NoError(t, migrate.Up(ctx, db, set))
		again, err := migrate.List(ctx, db, set)
		require.NoError(t, err)
		assert.Equal(t, sts, again)
		assert.Equal(t, len(want), count(t, db, "campaign_migrations"))

		// Down rolls the group back and names the set.
		rolled, err := migrate.Down(ctx, db, set)
		require.NoError(t, err)
		assert.Equal(t, "campaign", rolled)
		assert.False(t, tableExists(t, db, "campaigns"), "campaigns survived Down")
		assert.Equal(t, 0, count(t, db, "campaign_migrations"))

		sts, err = migrate.List(ctx, db, set)
		require.NoError(t, err)
		require.Len(t, sts, 1)
		require.Len(t, sts[0].Migrations, len(want))
		for _, m := range sts[0].Migrations {
			assert.False(t, m.Applied, "%s still applied after Down", m.Name)
		}

		// Nothing left to roll back.
		rolled, err = migrate.Down(ctx, db, set)
		require.NoError(t, err)
		assert.Equal(t, "", rolled)

		// And the schema comes back.
		require.NoError(t, migrate.Up(ctx, db, set))
		assert.True(t, tableExists(t, db, "campaigns"))
		sts, err = migrate.List(ctx, db, set)
		require.NoError(t, err)
		assert.Len(t, applied(sts)["campaign"], len(want))
	})
}

// synthetic builds a migration set with one table per migration. The sqlite and postgres
// folders hold the same SQL here: it is portable.
func synthetic(name string, files map[string]string) migrate.Set {
	m := fstest.MapFS{}
	for _, folder := range []string{"postgres", "sqlite"} {
		for file, sql := range files {
			m[folder+"/"+file] = &fstest.MapFile{Data: []byte(sql)}
		}
	}
	return migrate.Set{Name: name, FS: m}
}

func TestSetsApplyInOrderAndRollBackLastFirst(t *testing.T) {
	t.Parallel()
	// beta's table references alpha's, so beta can only be applied after alpha, and alpha can
	// only be rolled back after beta (its rows reference alpha's).
	alpha := synthetic("alpha", map[string]string{
		"20260101000001_parents.tx.up.sql":   "CREATE TABLE alpha_parents (id INTEGER PRIMARY KEY)",
		"20260101000001_parents.tx.down.sql": "DROP TABLE alpha_parents",
		"20260101000002_seed.tx.up.sql":      "INSERT INTO alpha_parents (id) VALUES (1)",
		"20260101000002_seed.tx.down.sql":    "DELETE FROM alpha_parents",
	})
	beta := synthetic("beta", map[string]string{
		"20260101000001_children.tx.up.sql": "CREATE TABLE beta_children (id INTEGER PRIMARY KEY," +
			" parent_id INTEGER NOT NULL REFERENCES alpha_parents (id))\n" +
			"--bun:split\n" +
			"INSERT INTO beta_children (id, parent_id) VALUES (1, 1)",
		"20260101000001_children.tx.down.sql": "DROP TABLE beta_children",
	})

	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		ctx := context.Background()
		db := open(t, target)

		require.NoError(t, migrate.Up(ctx, db, alpha, beta))
		assert.True(t, tableExists(t, db, "alpha_parents"))
		assert.True(t, tableExists(t, db, "beta_children"))
		assert.Equal(t, 1, count(t, db, "beta_children"))

		// Each set records its migrations in its own table.
		assert.Equal(t, 2, count(t, db, "alpha_migrations"))
		assert.Equal(t, 1, count(t, db, "beta_migrations"))
		sts, err := migrate.List(ctx, db, alpha, beta)
		require.NoError(t, err)
		require.Len(t, sts, 2)
		assert.Equal(t, "alpha", sts[0].Set)
		assert.Equal(t, "beta", sts[1].Set)
		assert.Equal(t, map[string][]string{
			"alpha": {"20260101000001", "20260101000002"},
			"beta":  {"20260101000001"},
		}, applied(sts))

		// Down undoes the last set first, one group per call.
		rolled, err := migrate.Down(ctx, db, alpha, beta)
		require.NoError(t, err)
		assert.Equal(t, "beta", rolled)
		assert.False(t, tableExists(t, db, "beta_children"))
		assert.True(t, tableExists(t, db, "alpha_parents"))
		assert.Equal(t, 1, count(t, db, "alpha_parents"), "alpha was touched by beta's rollback")

		rolled, err = migrate.Down(ctx, db, alpha, beta)
		require.NoError(t, err)
		assert.Equal(t, "alpha", rolled)
		assert.False(t, tableExists(t, db, "alpha_parents"))

		rolled, err = migrate.Down(ctx, db, alpha, beta)
		require.NoError(t, err)
		assert.Equal(t, "", rolled)

		sts, err = migrate.List(ctx, db, alpha, beta)
		require.NoError(t, err)
		assert.Empty(t, applied(sts))
		assert.Equal(t, 0, count(t, db, "alpha_migrations"))
		assert.Equal(t, 0, count(t, db, "beta_migrations"))
	})
}

func TestUpSecondSetAddedLater(t *testing.T) {
	t.Parallel()
	// An embedder that mounts another capability later: Up applies only the new set, and Down
	// rolls back that set (the last given) first.
	alpha := synthetic("alpha", map[string]string{
		"20260101000001_parents.tx.up.sql":   "CREATE TABLE alpha_parents (id INTEGER PRIMARY KEY)",
		"20260101000001_parents.tx.down.sql": "DROP TABLE alpha_parents",
	})
	beta := synthetic("beta", map[string]string{
		"20260101000001_children.tx.up.sql":   "CREATE TABLE beta_children (id INTEGER PRIMARY KEY)",
		"20260101000001_children.tx.down.sql": "DROP TABLE beta_children",
	})
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		ctx := context.Background()
		db := open(t, target)
		require.NoError(t, migrate.Up(ctx, db, alpha))
		before, err := migrate.List(ctx, db, alpha)
		require.NoError(t, err)

		require.NoError(t, migrate.Up(ctx, db, alpha, beta))
		after, err := migrate.List(ctx, db, alpha, beta)
		require.NoError(t, err)
		require.Len(t, after, 2)
		assert.Equal(t, before[0], after[0], "alpha was re-applied")
		assert.True(t, after[1].Migrations[0].Applied)

		rolled, err := migrate.Down(ctx, db, alpha, beta)
		require.NoError(t, err)
		assert.Equal(t, "beta", rolled)
		assert.True(t, tableExists(t, db, "alpha_parents"))
		assert.False(t, tableExists(t, db, "beta_children"))
	})
}

func TestUpFailureIsReportedAndNotMarked(t *testing.T) {
	t.Parallel()
	bad := synthetic("bad", map[string]string{
		"20260101000001_ok.tx.up.sql":     "CREATE TABLE bad_ok (id INTEGER PRIMARY KEY)",
		"20260101000001_ok.tx.down.sql":   "DROP TABLE bad_ok",
		"20260101000002_oops.tx.up.sql":   "CREATE TABLE bad_oops (id INTEGER PRIMARY KEY);\n--bun:split\nTHIS IS NOT SQL",
		"20260101000002_oops.tx.down.sql": "DROP TABLE bad_oops",
	})
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		ctx := context.Background()
		db := open(t, target)
		err := migrate.Up(ctx, db, bad)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "migrate bad")
		assert.Contains(t, err.Error(), "20260101000002")

		// The failed migration's transaction rolled back and it is not marked applied.
		assert.True(t, tableExists(t, db, "bad_ok"))
		assert.False(t, tableExists(t, db, "bad_oops"))
		sts, err := migrate.List(ctx, db, bad)
		require.NoError(t, err)
		assert.Equal(t, map[string][]string{"bad": {"20260101000001"}}, applied(sts))
	})
}

func TestSetWithoutDialectFolder(t *testing.T) {
	t.Parallel()
	set := migrate.Set{Name: "empty", FS: fstest.MapFS{"other/1_x.tx.up.sql": &fstest.MapFile{Data: []byte("SELECT 1")}}}
	db := open(t, dbtest.SQLiteTarget(t))
	err := migrate.Up(context.Background(), db, set)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "migrate empty")
}

func TestConcurrentUpAppliesOnce(t *testing.T) {
	t.Parallel()
	target := dbtest.PostgresTarget(t)
	set := bunstore.Migrations()

	const n = 4
	dbs := make([]*bun.DB, n)
	for i := range dbs {
		dbs[i] = open(t, target) // separate pools: separate sessions, like separate processes
	}
	want := migrationNames(t, dbs[0], set)

	// A lock that is never released would hang the others: bound the whole run.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = migrate.Up(ctx, db, set)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "migrator %d", i)
	}

	db := dbs[0]
	assert.True(t, tableExists(t, db, "campaigns"))
	// Exactly one row per migration: no migrator applied (or recorded) one twice.
	var rows []struct {
		Name    string `bun:"name"`
		GroupID int64  `bun:"group_id"`
	}
	require.NoError(t, db.NewRaw("SELECT name, group_id FROM campaign_migrations ORDER BY name").Scan(ctx, &rows))
	require.Len(t, rows, len(want))
	for i, r := range rows {
		assert.Equal(t, want[i], r.Name)
		assert.Equal(t, int64(1), r.GroupID, "all migrations belong to the first run's group")
	}

	// The lock was released by every run: another Up and a Down go through promptly.
	for _, db := range dbs {
		require.NoError(t, migrate.Up(ctx, db, set))
	}
	rolled, err := migrate.Down(ctx, dbs[n-1], set)
	require.NoError(t, err)
	assert.Equal(t, "campaign", rolled)
	assert.False(t, tableExists(t, db, "campaigns"))
}

// Current tells a migrated schema from a fresh or partly migrated one, and creates nothing.
func TestCurrentOnlyReads(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		ctx := context.Background()
		db := open(t, target)
		sets := bunstore.Schema()

		err := migrate.Current(ctx, db, sets...)
		require.ErrorIs(t, err, migrate.ErrPending)
		assert.Contains(t, err.Error(), sets[0].Name)
		assert.False(t, tableExists(t, db, sets[0].Name+"_migrations"), "Current created a table")

		require.NoError(t, migrate.Up(ctx, db, sets[:1]...))
		err = migrate.Current(ctx, db, sets...)
		require.ErrorIs(t, err, migrate.ErrPending, "the later sets are still missing")
		assert.Contains(t, err.Error(), sets[1].Name)

		require.NoError(t, migrate.Up(ctx, db, sets...))
		require.NoError(t, migrate.Current(ctx, db, sets...))

		_, err = migrate.Down(ctx, db, sets...)
		require.NoError(t, err)
		err = migrate.Current(ctx, db, sets...)
		require.ErrorIs(t, err, migrate.ErrPending, "a rolled-back migration is pending again")
		assert.Contains(t, err.Error(), "pending migration")
	})
}
