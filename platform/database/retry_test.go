package database_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// TestFaultRetryBounds: RunInTx and Retry run their work again on a connection fault only, at
// most database.Attempts times, and never after a COMMIT of unknown outcome.
func TestFaultRetryBounds(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.SQLiteTarget(t))
	ctx := context.Background()
	fault := fmt.Errorf("insert: %w", driver.ErrBadConn)
	for _, tc := range []struct {
		name     string
		errs     []error // what each run returns; past the end: nil
		runs     int
		wantErr  error
		wantNone bool
	}{
		{"a fault, then success", []error{fault}, 2, nil, false},
		{"faults past the bound", []error{fault, fault, fault, fault, fault}, database.Attempts, driver.ErrBadConn, false},
		{"a refusal is not retried", []error{errors.New("refused")}, 1, nil, true},
		{"an inner COMMIT of unknown outcome is not retried", []error{fmt.Errorf("%w: %w", sqlerr.ErrCommitUnknown, driver.ErrBadConn)}, 1, sqlerr.ErrCommitUnknown, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, how := range []string{"RunInTx", "Retry"} {
				runs := 0
				work := func(context.Context) error {
					runs++
					if runs <= len(tc.errs) {
						return tc.errs[runs-1]
					}
					return nil
				}
				var err error
				if how == "RunInTx" {
					err = database.RunInTx(ctx, db, nil, func(ctx context.Context, _ bun.Tx) error { return work(ctx) })
				} else {
					err = database.Retry(ctx, work)
				}
				assert.Equal(t, tc.runs, runs, how)
				switch {
				case tc.wantNone:
					assert.Error(t, err, how)
				case tc.wantErr != nil:
					assert.ErrorIs(t, err, tc.wantErr, how)
				default:
					assert.NoError(t, err, how)
				}
			}
		})
	}
	t.Run("RunInTxOnce runs once", func(t *testing.T) {
		runs := 0
		err := database.RunInTxOnce(ctx, db, nil, func(context.Context, bun.Tx) error { runs++; return fault })
		assert.ErrorIs(t, err, driver.ErrBadConn)
		assert.Equal(t, 1, runs)
	})
	t.Run("a done context stops the retries", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		runs := 0
		err := database.Retry(cctx, func(context.Context) error { runs++; cancel(); return fault })
		assert.ErrorIs(t, err, driver.ErrBadConn)
		assert.Equal(t, 1, runs)
	})
}

// TestFaultRunInTx terminates the server process of a transaction on PostgreSQL (pgx and
// pgdriver), as a restart or a failover does: before COMMIT, the transaction runs again on a
// fresh connection and lands once; during COMMIT, it is not run again and its error says the
// outcome is unknown.
func TestFaultRunInTx(t *testing.T) {
	t.Parallel()
	for name, target := range map[string]func(testing.TB) dbtest.Target{"postgres": dbtest.PostgresTarget, "pgdriver": dbtest.PgdriverTarget} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, target(t))
			ctx := context.Background()
			_, err := db.ExecContext(ctx, "CREATE TABLE things (k TEXT PRIMARY KEY)")
			require.NoError(t, err)
			// terminate ends tx's server process and waits until it is gone, so that the next
			// statement of tx meets a closed connection.
			terminate := func(ctx context.Context, tx bun.Tx) {
				var pid int
				require.NoError(t, tx.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))
				var ok bool
				require.NoError(t, db.QueryRowContext(ctx, "SELECT pg_terminate_backend(?)", pid).Scan(&ok))
				require.True(t, ok)
				require.Eventually(t, func() bool {
					n, err := db.NewSelect().TableExpr("pg_stat_activity").Where("pid = ?", pid).Count(ctx)
					return err == nil && n == 0
				}, 5*time.Second, 10*time.Millisecond)
			}
			count := func(k string) int64 {
				n, err := db.NewSelect().Table("things").Where("k = ?", k).Count(ctx)
				require.NoError(t, err)
				return n
			}

			t.Run("before COMMIT: run again", func(t *testing.T) {
				runs := 0
				err := database.RunInTx(ctx, db, nil, func(ctx context.Context, tx bun.Tx) error {
					runs++
					if runs == 1 {
						terminate(ctx, tx)
					}
					_, err := tx.ExecContext(ctx, "INSERT INTO things (k) VALUES ('before')")
					return err
				})
				require.NoError(t, err)
				assert.Equal(t, 2, runs)
				assert.EqualValues(t, 1, count("before"))
			})
			t.Run("during COMMIT: outcome unknown", func(t *testing.T) {
				runs := 0
				err := database.RunInTx(ctx, db, nil, func(ctx context.Context, tx bun.Tx) error {
					runs++
					if _, err := tx.ExecContext(ctx, "INSERT INTO things (k) VALUES ('commit')"); err != nil {
						return err
					}
					terminate(ctx, tx)
					return nil
				})
				require.ErrorIs(t, err, sqlerr.ErrCommitUnknown)
				assert.True(t, sqlerr.IsUnavailable(err))
				assert.Equal(t, 1, runs, "a COMMIT that was sent is not run again")
				assert.EqualValues(t, 0, count("commit"), "the server ended before the COMMIT")
			})
			t.Run("reads: run again", func(t *testing.T) {
				conn, err := db.Conn(ctx)
				require.NoError(t, err)
				defer conn.Close()
				runs := 0
				var one int
				err = database.Retry(ctx, func(ctx context.Context) error {
					runs++
					if runs == 1 {
						return conn.QueryRowContext(ctx, "SELECT pg_terminate_backend(pg_backend_pid())::int").Scan(&one)
					}
					return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
				})
				require.NoError(t, err)
				assert.Equal(t, 2, runs)
				assert.Equal(t, 1, one)
			})
		})
	}
}
