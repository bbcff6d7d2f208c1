// Package sqlerr classifies database errors without importing any driver, so that capability
// packages can recognise a unique-key violation on PostgreSQL (pgx or Bun's pgdriver) and
// SQLite (modernc) alike.
package sqlerr

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// PostgreSQL SQLSTATE and SQLite extended result codes this package recognises.
const (
	pgUniqueViolation      = "23505"
	pgAdminShutdown        = "57P01" // pg_terminate_backend, or a fast shutdown
	pgCrashShutdown        = "57P02" // another backend crashed: the server restarts
	pgCannotConnectNow     = "57P03" // the server is starting, stopping or in recovery
	pgConnectionClass      = "08"    // connection exception
	sqliteConstraintUnique = 2067
	sqliteConstraintPK     = 1555

	// SQLite primary result codes (the low byte of an extended code).
	sqliteTooBig     = 18
	sqliteConstraint = 19
	sqliteMismatch   = 20
	sqliteRange      = 25
)

// sqlState is the SQLSTATE of a PostgreSQL error: pgx's *pgconn.PgError has a SQLState
// method; pgdriver's Error has none, but gives the code as its field 'C'
// (https://www.postgresql.org/docs/current/protocol-error-fields.html).
func sqlState(err error) (string, bool) {
	var pgx interface{ SQLState() string }
	if errors.As(err, &pgx) {
		return pgx.SQLState(), true
	}
	var pgdriver interface{ Field(byte) string }
	if errors.As(err, &pgdriver) {
		return pgdriver.Field('C'), true
	}
	return "", false
}

// IsUniqueViolation reports whether err is a unique or primary key violation.
func IsUniqueViolation(err error) bool {
	if s, ok := sqlState(err); ok {
		return s == pgUniqueViolation
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		c := lite.Code()
		return c == sqliteConstraintUnique || c == sqliteConstraintPK
	}
	return false
}

// IsDataRefused reports whether the database refused the values of a statement: a value out
// of range (a 64-bit total that would overflow), a failed check or constraint, a value too big.
// Such an error is deterministic: the same statement fails the same way when retried, so the
// caller must change what it writes rather than wait. Connection and lock errors are not.
//
// PostgreSQL: SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation).
// SQLite: SQLITE_CONSTRAINT (including a trigger's RAISE(ABORT)), SQLITE_TOOBIG,
// SQLITE_MISMATCH and SQLITE_RANGE.
func IsDataRefused(err error) bool {
	if s, ok := sqlState(err); ok {
		return strings.HasPrefix(s, "22") || strings.HasPrefix(s, "23")
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff {
		case sqliteTooBig, sqliteConstraint, sqliteMismatch, sqliteRange:
			return true
		}
	}
	return false
}

// ErrCommitUnknown is wrapped (with the driver's error) by the transaction helpers
// (database.RunInTx) when the connection failed while COMMIT was on its way: the transaction
// may or may not have committed, so it is not run again. A client is told to read before it
// retries (503, see httpx).
var ErrCommitUnknown = errors.New("the database connection failed during COMMIT: the transaction may or may not have committed")

// IsConnFault reports whether err says that the connection to the database failed, or that the
// server is closing or refusing it, rather than anything about the statement: the same
// statement may succeed on a fresh connection. It is what database.RunInTx retries (when
// nothing can have committed) and what the HTTP layer answers with 503 and Retry-After.
//
// That is driver.ErrBadConn; the SQLSTATEs 57P01 (admin shutdown, pg_terminate_backend),
// 57P02 (crash shutdown), 57P03 (cannot connect now) and class 08 (connection exception); an
// error the driver marks as raised before anything was sent (IsUnsent); and io.EOF, an
// unexpected EOF, a network error, a reset or broken connection. A done context is not: the
// caller gave up, and retrying would not help.
func IsConnFault(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if s, ok := sqlState(err); ok && isConnState(s) {
		return true
	}
	if IsUnsent(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

func isConnState(s string) bool {
	switch s {
	case pgAdminShutdown, pgCrashShutdown, pgCannotConnectNow:
		return true
	}
	return strings.HasPrefix(s, pgConnectionClass)
}

// IsUnsent reports whether err guarantees that the statement (or COMMIT) never reached the
// server: driver.ErrBadConn, which database/sql's drivers return only then, or an error that
// says so itself (pgx's SafeToRetry, as on a connection pgx already knows is closed). Even a
// COMMIT that failed so is known not to have committed.
func IsUnsent(err error) bool {
	if errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var safe interface{ SafeToRetry() bool }
	return errors.As(err, &safe) && safe.SafeToRetry()
}

// IsUnavailable reports whether err is a database fault the client should retry later: a
// connection fault (IsConnFault) or a COMMIT of unknown outcome (ErrCommitUnknown).
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrCommitUnknown) || IsConnFault(err)
}
