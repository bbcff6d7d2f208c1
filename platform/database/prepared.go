package database

import (
	"context"
	"database/sql/driver"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// Prepared runs query straight on db's pool, with its arguments apart from its text, and scans
// the rows into dest (a pointer to a slice of Bun models, or to one model; columns by name).
// It is for the hot reads (GET a campaign, its totals, a page of campaigns).
//
// Bun writes arguments into the SQL text, so each of its statements is new to PostgreSQL,
// which parses and plans it every time (see OpenPostgres). Here the text is the same at every
// call: on pgx it is prepared once per connection and then only the arguments are sent
// (QueryExecModeCacheStatement), and PostgreSQL reuses the plan. Bun's pgdriver has no such
// cache: it writes the arguments into the text itself (slices as array literals), so the
// statement is correct there but planned at each call, as Bun's own are. On SQLite the
// statement is sent as is.
//
// query numbers its placeholders $1, $2... in the order of args, each used once (they become ?
// on SQLite). Times are passed as Bun writes them on SQLite (UTC text in one layout), so that
// they compare with the stored text as Bun's own queries do. db must run on a supported
// driver (Detect).
//
// query must be a read: it runs again on a fresh connection when the connection fails
// (Retry), as a killed server process or a failover leaves the pool's connections broken.
func Prepared(ctx context.Context, db *bun.DB, dest any, query string, args ...any) error {
	query, args, err := prepare(db, query, args)
	if err != nil {
		return err
	}
	return Retry(ctx, func(ctx context.Context) error {
		rows, err := db.DB.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		return db.ScanRows(ctx, rows, dest) // a slice dest is emptied first, a model overwritten
	})
}

// PreparedExec is Prepared for a statement that returns no rows. It is not run again on a
// connection fault: a write may have committed.
func PreparedExec(ctx context.Context, db *bun.DB, query string, args ...any) error {
	query, args, err := prepare(db, query, args)
	if err != nil {
		return err
	}
	_, err = db.DB.ExecContext(ctx, query, args...)
	return err
}

// prepare is query and args as db's driver takes them.
func prepare(db *bun.DB, query string, args []any) (string, []any, error) {
	d, err := Detect(db)
	switch d {
	case DriverPgx:
		return query, pgxArgs(args), nil
	case DriverPgdriver:
		return query, pgdriverArgs(args), nil
	case DriverSQLite:
		return questionMarks(query, len(args)), sqliteArgs(args), nil
	}
	return "", nil, err
}

// questionMarks turns $1..$n into ?.
func questionMarks(query string, n int) string {
	for i := n; i >= 1; i-- { // $12 before $1
		query = strings.Replace(query, "$"+strconv.Itoa(i), "?", 1)
	}
	return query
}

// pgxArgs asks pgx to prepare and cache the statement (an argument of pgx's QueryExecMode type
// is an option to pgx, not a parameter), and passes UUIDs as pgx's own type (uuid.UUID would
// go through its driver.Valuer: a string, parsed back).
func pgxArgs(args []any) []any {
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

// pgdriverArgs passes slices (other than []byte) as PostgreSQL array literals, which pgdriver
// writes into the text as quoted strings: database/sql would refuse them. The rest pgdriver
// takes as they are (a uuid.UUID through its driver.Valuer, a time.Time as UTC text).
func pgdriverArgs(args []any) []any {
	out := args // the caller's until a slice is replaced
	copied := false
	for i, a := range args {
		v := reflect.ValueOf(a)
		if v.Kind() != reflect.Slice || v.Type().Elem().Kind() == reflect.Uint8 {
			continue
		}
		if !copied {
			out, copied = slices.Clone(args), true
		}
		out[i] = pgArray{v}
	}
	return out
}

// pgArray is a slice as a PostgreSQL array literal: {1,2,3}, {"a","b \"c\""}. Its elements
// are written as database/sql would pass each alone (through a driver.Valuer if they have one);
// a nil element is NULL.
type pgArray struct{ v reflect.Value }

func (a pgArray) Value() (driver.Value, error) {
	if a.v.IsNil() {
		return nil, nil
	}
	b := []byte{'{'}
	for i := range a.v.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		e, err := driver.DefaultParameterConverter.ConvertValue(a.v.Index(i).Interface())
		if err != nil {
			return nil, fmt.Errorf("database: element %d of a %s: %w", i, a.v.Type(), err)
		}
		switch e := e.(type) {
		case nil:
			b = append(b, "NULL"...)
		case int64:
			b = strconv.AppendInt(b, e, 10)
		case float64:
			b = strconv.AppendFloat(b, e, 'g', -1, 64)
		case bool:
			b = strconv.AppendBool(b, e)
		case string:
			b = appendQuoted(b, e)
		case time.Time:
			b = appendQuoted(b, e.UTC().Format(time.RFC3339Nano))
		default:
			return nil, fmt.Errorf("database: element %d of a %s: %T cannot be in an array parameter", i, a.v.Type(), e)
		}
	}
	return string(append(b, '}')), nil
}

// appendQuoted appends s as a quoted array element: in double quotes, with \ before " and \.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := range len(s) {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
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

// PreparedSlice is Prepared for a slice of Bun models: on pgx it reads the rows through pgx
// itself, behind one of db's pooled connections, and scans each column straight into its
// model's field (found by name, as Bun does), so that neither database/sql's rows (a
// driver.Value per column) nor Bun's scan by reflection stand in between: a campaign's row
// takes 39 allocations instead of 72 (BenchmarkPreparedRead). On the other drivers it is
// Prepared.
//
// On pgx a NULL needs a pointer field (Bun would leave a zero value): the tables the hot reads
// read declare NOT NULL every column whose field is not a pointer.
func PreparedSlice[T any](ctx context.Context, db *bun.DB, dest *[]T, query string, args ...any) error {
	if d, _ := Detect(db); d != DriverPgx {
		return Prepared(ctx, db, dest, query, args...)
	}
	table := db.Dialect().Tables().Get(reflect.TypeFor[T]())
	args = pgxArgs(args)
	return Retry(ctx, func(ctx context.Context) error {
		conn, err := db.DB.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			pc, ok := dc.(interface{ Conn() *pgx.Conn })
			if !ok {
				return fmt.Errorf("%w: %T is not pgx's connection", ErrUnsupportedDriver, dc)
			}
			rows, err := pc.Conn().Query(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			fds := rows.FieldDescriptions()
			fields := make([]*schema.Field, len(fds))
			asBytes := make([]bool, len(fds))
			for i, fd := range fds {
				f, ok := table.FieldMap[fd.Name]
				if !ok {
					return fmt.Errorf("database: column %q has no field in %s", fd.Name, table.TypeName)
				}
				fields[i] = f
				// A uuid column into a uuid.UUID goes in as its bytes: pgx would take it
				// through its sql.Scanner (the UUID written as text, then parsed back).
				asBytes[i] = fd.DataTypeOID == pgtype.UUIDOID && f.StructField.Type == reflect.TypeFor[uuid.UUID]()
			}
			out := (*dest)[:0]
			ptrs := make([]any, len(fields))
			for rows.Next() {
				var zero T
				out = append(out, zero)
				v := reflect.ValueOf(&out[len(out)-1]).Elem()
				for i, f := range fields {
					ptrs[i] = v.FieldByIndex(f.Index).Addr().Interface()
					if asBytes[i] {
						ptrs[i] = (*[16]byte)(ptrs[i].(*uuid.UUID))
					}
				}
				if err := rows.Scan(ptrs...); err != nil {
					return err
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			*dest = out
			return nil
		})
	})
}
