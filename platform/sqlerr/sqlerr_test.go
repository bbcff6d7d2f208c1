package sqlerr_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// Each classification is checked against the errors the real drivers return: SQLite, and
// PostgreSQL through pgx and through Bun's pgdriver.
func TestClassifiesDriverErrors(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, nil, classifies)
	t.Run("pgdriver", func(t *testing.T) { classifies(t, dbtest.Open(t, dbtest.PgdriverTarget(t))) })
}

func classifies(t *testing.T, db *bun.DB) {
	t.Parallel()
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL CHECK (n >= 0))`,
		`INSERT INTO t (k, n) VALUES ('a', 9223372036854775807)`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	if db.Dialect().Name().String() == "sqlite" {
		// SQLite turns an overflowing sum into a float; the metrics tables refuse it with a
		// trigger like this one.
		_, err := db.ExecContext(ctx, `CREATE TRIGGER t_overflow BEFORE UPDATE ON t WHEN typeof(NEW.n) <> 'integer'
BEGIN SELECT RAISE(ABORT, 'integer overflow'); END`)
		require.NoError(t, err)
	}

	_, dup := db.ExecContext(ctx, `INSERT INTO t (k, n) VALUES ('a', 1)`)
	_, overflow := db.ExecContext(ctx, `UPDATE t SET n = n + 1 WHERE k = 'a'`)
	_, check := db.ExecContext(ctx, `INSERT INTO t (k, n) VALUES ('b', -1)`)
	_, syntax := db.ExecContext(ctx, `INSERT INTO nowhere VALUES (1)`)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, gone := db.ExecContext(cancelled, `INSERT INTO t (k, n) VALUES ('c', 1)`)

	for name, err := range map[string]error{"duplicate": dup, "overflow": overflow, "check": check, "syntax": syntax} {
		require.Error(t, err, name) // what kind each is, is what the assertions below check
	}
	require.ErrorIs(t, gone, context.Canceled)
	assert.True(t, sqlerr.IsUniqueViolation(dup))
	assert.False(t, sqlerr.IsUniqueViolation(overflow))
	assert.False(t, sqlerr.IsUniqueViolation(check))

	assert.True(t, sqlerr.IsDataRefused(overflow), "an out-of-range total: %v", overflow)
	assert.True(t, sqlerr.IsDataRefused(check), "a failed check: %v", check)
	assert.True(t, sqlerr.IsDataRefused(dup), "a duplicate key is a refusal too")
	assert.False(t, sqlerr.IsDataRefused(syntax), "a missing table is not about the data: %v", syntax)
	assert.False(t, sqlerr.IsDataRefused(gone), "a cancelled statement is not: %v", gone)
	assert.False(t, sqlerr.IsDataRefused(nil))

	var n int64
	require.NoError(t, db.NewSelect().Table("t").Column("n").Where("k = 'a'").Scan(ctx, &n))
	assert.EqualValues(t, 9223372036854775807, n, "the refused update changed nothing")
}
