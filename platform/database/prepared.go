package database

import (
	"context"
	"database/sql"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Prepared runs query straight on db's pool, with its arguments apart from its text, and scans
// the rows into dest (a pointer to a slice of Bun models, or to one model; columns by name).
// It is for the hot reads (GET a campaign, its totals, a page of campaigns).
//
// Bun writes arguments into the SQL text, so each of its statements is new to PostgreSQL,
// which parses and plans it every time (see OpenPostgres). Here the text is the same at every
// call: pgx prepares it once per connection and then sends only the arguments
// (QueryExecModeCacheStatement), and PostgreSQL reuses the plan. On SQLite the statement is
// sent as is.
//
// query numbers its placeholders $1, $2... in the order of args, each used once (they become ?
// on SQLite). Times are passed as Bun writes them on SQLite (UTC text in one layout), so that
// they compare with the stored text as Bun's own queries do.
func Prepared(ctx context.Context, db *bun.DB, dest any, query string, args ...any) error {
	var rows *sql.Rows
	var err error
	if db.Dialect().Name() == dialect.PG {
		rows, err = db.DB.QueryContext(ctx, query, pgArgs(args)...)
	} else {
		rows, err = db.DB.QueryContext(ctx, questionMarks(query, len(args)), sqliteArgs(args)...)
	}
	if err != nil {
		return err
	}
	return db.ScanRows(ctx, rows, dest)
}

// PreparedExec is Prepared for a statement that returns no rows.
func PreparedExec(ctx context.Context, db *bun.DB, query string, args ...any) error {
	var err error
	if db.Dialect().Name() == dialect.PG {
		_, err = db.DB.ExecContext(ctx, query, pgArgs(args)...)
	} else {
		_, err = db.DB.ExecContext(ctx, questionMarks(query, len(args)), sqliteArgs(args)...)
	}
	return err
}

// questionMarks turns $1..$n into ?.
func questionMarks(query string, n int) string {
	for i := n; i >= 1; i-- { // $12 before $1
		query = strings.Replace(query, "$"+strconv.Itoa(i), "?", 1)
	}
	return query
}

// pgArgs asks pgx to prepare and cache the statement, and passes UUIDs as pgx's own type
// (uuid.UUID would go through its driver.Valuer: a string, parsed back).
func pgArgs(args []any) []any {
	out := make([]any, 0, 1+len(args))
	out = append(out, pgx.QueryExecModeCacheStatement)
	for _, a := range args {
		if id, ok := a.(uuid.UUID); ok {
			a = pgtype.UUID{Bytes: id, Valid: true}
		}
		out = append(out, a)
	}
	return out
}

// sqliteTime is the layout in which Bun writes times on SQLite.
const sqliteTime = "2006-01-02 15:04:05.999999-07:00"

func sqliteArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			out[i] = v.UTC().Format(sqliteTime)
		case *time.Time:
			if v != nil {
				out[i] = v.UTC().Format(sqliteTime)
			}
		default:
			out[i] = a
		}
	}
	return out
}

// Columns lists the columns of the Bun model type T (its fields, less scanonly ones), for a
// statement written for Prepared that reads what Bun's own select of T reads.
func Columns[T any](db bun.IDB) string {
	t := db.Dialect().Tables().Get(reflect.TypeFor[T]())
	names := make([]string, 0, len(t.Fields))
	for _, f := range t.Fields {
		if !f.Tag.HasOption("scanonly") {
			names = append(names, string(f.SQLName))
		}
	}
	return strings.Join(names, ", ")
}
