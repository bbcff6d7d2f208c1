package sqlerr_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// unsent is an error that says it was raised before anything was sent, as pgx's are.
type unsent struct{}

func (unsent) Error() string     { return "conn closed" }
func (unsent) SafeToRetry() bool { return true }

// TestFaultClassification: which errors the transaction helpers retry (IsConnFault; IsUnsent
// even at COMMIT) and which the HTTP layer answers with 503 (IsUnavailable).
func TestFaultClassification(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return &pgconn.PgError{Severity: "FATAL", Code: code} }
	wrap := func(err error) error { return fmt.Errorf("update campaign: %w", err) }
	for _, tc := range []struct {
		name                      string
		err                       error
		fault, unsentErr, unavail bool
	}{
		{"admin shutdown 57P01", pg("57P01"), true, false, true},
		{"crash shutdown 57P02", pg("57P02"), true, false, true},
		{"cannot connect now 57P03", pg("57P03"), true, false, true},
		{"connection failure 08006", pg("08006"), true, false, true},
		{"connection does not exist 08003", wrap(pg("08003")), true, false, true},
		{"driver.ErrBadConn", wrap(driver.ErrBadConn), true, true, true},
		{"SafeToRetry", wrap(unsent{}), true, true, true},
		{"io.EOF", wrap(io.EOF), true, false, true},
		{"unexpected EOF", wrap(io.ErrUnexpectedEOF), true, false, true},
		{"connection reset", wrap(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true, false, true},
		{"connection refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true, false, true},
		{"broken pipe", wrap(syscall.EPIPE), true, false, true},
		{"commit of unknown outcome", fmt.Errorf("%w: %w", sqlerr.ErrCommitUnknown, pg("57P01")), true, false, true},

		{"unique violation", wrap(&pgconn.PgError{Severity: "ERROR", Code: "23505"}), false, false, false},
		{"serialization failure", pg("40001"), false, false, false},
		{"query cancelled 57014", &pgconn.PgError{Severity: "ERROR", Code: "57014"}, false, false, false},
		{"syntax error", &pgconn.PgError{Severity: "ERROR", Code: "42601"}, false, false, false},
		{"context cancelled", wrap(context.Canceled), false, false, false},
		{"deadline", wrap(context.DeadlineExceeded), false, false, false},
		{"a net timeout from a done context", errors.Join(context.DeadlineExceeded, &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), false, false, false},
		{"plain error", errors.New("boom"), false, false, false},
		{"nil", nil, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.fault, sqlerr.IsConnFault(tc.err), "IsConnFault(%v)", tc.err)
			assert.Equal(t, tc.unsentErr, sqlerr.IsUnsent(tc.err), "IsUnsent(%v)", tc.err)
			assert.Equal(t, tc.unavail, sqlerr.IsUnavailable(tc.err), "IsUnavailable(%v)", tc.err)
		})
	}
}

// TestFaultClassifiesTerminatedConnections: the errors the real drivers return on a connection
// whose server process was terminated (as a restart or a failover does) are connection faults,
// for pgx and for Bun's pgdriver.
func TestFaultClassifiesTerminatedConnections(t *testing.T) {
	t.Parallel()
	for name, target := range map[string]func(testing.TB) dbtest.Target{"postgres": dbtest.PostgresTarget, "pgdriver": dbtest.PgdriverTarget} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, target(t))
			ctx := context.Background()
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			var pid int
			require.NoError(t, conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid))
			var killed bool
			require.NoError(t, db.QueryRowContext(ctx, "SELECT pg_terminate_backend(?)", pid).Scan(&killed))
			require.True(t, killed)

			_, first := conn.ExecContext(ctx, "SELECT 1")
			require.Error(t, first)
			assert.True(t, sqlerr.IsConnFault(first), "the statement after the kill: %v", first)
			assert.True(t, sqlerr.IsUnavailable(first))
			assert.False(t, sqlerr.IsUniqueViolation(first))
			_, second := conn.ExecContext(ctx, "SELECT 1")
			require.Error(t, second)
			assert.True(t, sqlerr.IsConnFault(second), "a statement on the closed connection: %v", second)
			assert.True(t, sqlerr.IsUnsent(second), "nothing reaches a connection the driver closed: %v", second)
		})
	}
}
