// Package sqlerr classifies database errors without importing any driver, so that capability
// packages can recognise a unique-key violation on PostgreSQL (pgx or Bun's pgdriver) and
// SQLite (modernc) alike.
package sqlerr

import (
	"errors"
	"strings"
)

// PostgreSQL SQLSTATE and SQLite extended result codes this package recognises.
const (
	pgUniqueViolation      = "23505"
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
