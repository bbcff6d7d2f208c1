// Package sqlerr classifies database errors without importing any driver, so that capability
// packages can recognise a unique-key violation on PostgreSQL (pgx) and SQLite (modernc) alike.
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

// IsUniqueViolation reports whether err is a unique or primary key violation.
func IsUniqueViolation(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		return pg.SQLState() == pgUniqueViolation
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
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		s := pg.SQLState()
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
