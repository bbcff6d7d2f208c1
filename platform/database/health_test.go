package database_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// TestFaultPoolReplacesDeadIdleConnections: once a statement met a terminated connection, the
// pool pings its other idle connections before reusing them and replaces the dead ones, so
// only the first statement after the server killed them all fails (without retrying), not one
// per idle connection.
func TestFaultPoolReplacesDeadIdleConnections(t *testing.T) {
	t.Parallel()
	target := dbtest.PostgresTarget(t)
	name := "campaigns_pool_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	u, err := url.Parse(target.URL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("application_name", name) // the connections this test terminates, and no others
	u.RawQuery = q.Encode()
	ctx := context.Background()
	db, err := database.OpenPostgres(ctx, u.String(), database.Pool{MaxOpenConns: 4, MaxIdleConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	admin := dbtest.Connect(t, dbtest.PostgresTarget(t))

	// Four idle connections, each used once lately (pgx pings one idle for over a second):
	// all four are held at once, so that the pool opens four.
	for range 2 {
		conns := make([]bun.Conn, 0, 4)
		for range 4 {
			c, err := db.Conn(ctx)
			require.NoError(t, err)
			require.NoError(t, c.PingContext(ctx))
			conns = append(conns, c)
		}
		for _, c := range conns {
			require.NoError(t, c.Close())
		}
	}
	var killed int
	require.NoError(t, admin.QueryRowContext(ctx,
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ?", name).Scan(&killed))
	require.Equal(t, 4, killed)

	failed := 0
	for range 4 {
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			failed++
		}
	}
	assert.LessOrEqual(t, failed, 1, "statements that met a dead idle connection")
}
