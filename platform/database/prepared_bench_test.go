package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// benchRow has the column types of a campaign: UUIDs, text, times (one NULL), a numeric, JSON,
// an integer and a boolean (Bun would make the UUIDs bytea; the stores' tables declare uuid).
type benchRow struct {
	bun.BaseModel `bun:"table:prepared_bench"`

	ID       uuid.UUID       `bun:"id,pk,type:uuid"`
	Name     string          `bun:"name"`
	Status   string          `bun:"status"`
	Rules    string          `bun:"rules,type:jsonb"`
	Start    time.Time       `bun:"start_at"`
	End      *time.Time      `bun:"end_at"`
	Budget   decimal.Decimal `bun:"budget,type:numeric(19,4)"`
	Owner    uuid.UUID       `bun:"owner,type:uuid"`
	Created  time.Time       `bun:"created_at"`
	Updated  time.Time       `bun:"updated_at"`
	Settings string          `bun:"settings,type:jsonb"`
	Version  int64           `bun:"version"`
	Verified bool            `bun:"verified"`
}

// BenchmarkPreparedRead reads one row by id, one read after the other, on PostgreSQL: through
// Prepared (database/sql's rows, Bun's scan), through PreparedSlice (pgx's rows, typed fields),
// and through a pgx pool with a hand-written Scan (UUIDs through their sql.Scanner, as pgx
// takes them by default). The round trip makes ns/op noisy; allocs/op tell the layers apart
// (go test -bench PreparedRead -benchmem).
func BenchmarkPreparedRead(b *testing.B) {
	ctx := context.Background()
	target := dbtest.PostgresTarget(b)
	db := dbtest.Open(b, target)
	if _, err := db.NewCreateTable().Model((*benchRow)(nil)).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	row := benchRow{ID: uuid.New(), Name: "Spring sale", Status: "ACTIVE", Rules: `[{"field":"country","operator":"in","values":["DE","FR"]}]`,
		Start: now, Budget: decimal.RequireFromString("1234.5600"), Owner: uuid.New(), Created: now, Updated: now,
		Settings: `{"channels":["EMAIL","PUSH"],"variants":[{"name":"A","weight":50},{"name":"B","weight":50}]}`, Version: 3}
	if _, err := db.NewInsert().Model(&row).Exec(ctx); err != nil {
		b.Fatal(err)
	}
	query := "SELECT " + database.Columns[benchRow](db) + " FROM prepared_bench WHERE id = $1"
	check := func(b *testing.B, got []benchRow) {
		if len(got) != 1 || got[0].Name != row.Name || !got[0].Budget.Equal(row.Budget) {
			b.Fatalf("read %+v", got)
		}
	}
	for _, layer := range []struct {
		name string
		read func(ctx context.Context, db *bun.DB, dest *[]benchRow, query string, args ...any) error
	}{
		{"prepared", func(ctx context.Context, db *bun.DB, dest *[]benchRow, query string, args ...any) error {
			return database.Prepared(ctx, db, dest, query, args...)
		}},
		{"slice", database.PreparedSlice[benchRow]},
	} {
		b.Run(layer.name, func(b *testing.B) {
			b.ReportAllocs()
			var got []benchRow
			for b.Loop() {
				if err := layer.read(ctx, db, &got, query, row.ID); err != nil {
					b.Fatal(err)
				}
			}
			check(b, got)
		})
	}
	b.Run("pgx", func(b *testing.B) {
		pool, err := pgxpool.New(ctx, target.URL)
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		b.ReportAllocs()
		var r benchRow
		for b.Loop() {
			err := pool.QueryRow(ctx, query, row.ID).Scan(&r.ID, &r.Name, &r.Status, &r.Rules, &r.Start, &r.End,
				&r.Budget, &r.Owner, &r.Created, &r.Updated, &r.Settings, &r.Version, &r.Verified)
			if err != nil {
				b.Fatal(err)
			}
		}
		check(b, []benchRow{r})
	})
}
