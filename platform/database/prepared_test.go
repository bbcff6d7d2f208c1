package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

type preparedRow struct {
	bun.BaseModel `bun:"table:prepared_things"`

	ID   uuid.UUID `bun:"id,pk"`
	At   time.Time `bun:"at"`
	Name string    `bun:"name"`
}

// Prepared reads what Bun wrote, with arguments apart from the text, on both databases: UUIDs,
// times compared with stored times, and several placeholders; the same statement again (pgx's
// cached statement on PostgreSQL) gives the same answer.
func TestPrepared(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
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
	})
}

// Warm leaves the connections it opened idle in the pool.
func TestWarm(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		db := dbtest.Open(t, target)
		require.NoError(t, database.Warm(context.Background(), db, 5))
		require.GreaterOrEqual(t, db.DB.Stats().Idle, 5)
	})
}
