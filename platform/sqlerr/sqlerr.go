// Package sqlerr classifies database errors without importing any driver, so that capability
// packages can recognise a unique-key violation on PostgreSQL (pgx) and SQLite (modernc) alike.
package sqlerr

import "errors"

// PostgreSQL SQLSTATE and SQLite extended result codes this package recognises.
const (
	pgUniqueViolation      = "23505"
	sqliteConstraintUnique = 2067
	sqliteConstraintPK     = 1555
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
