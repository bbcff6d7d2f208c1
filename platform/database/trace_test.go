package database_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

type tracedRow struct {
	bun.BaseModel `bun:"table:traced_people"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Email         string `bun:"email"`
}

// Statements under a traced context are child spans named by operation and table, and no
// bound value reaches a span (Bun inlines values into the text of the queries it builds):
// a built INSERT and SELECT, a raw statement with arguments, and a failing one.
func TestQueryTracerRecordsNoValues(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		db := dbtest.Connect(t, target)
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		db.AddQueryHook(database.NewQueryTracer(tp))
		bg := context.Background()
		_, err := db.NewCreateTable().Model((*tracedRow)(nil)).IfNotExists().Exec(bg)
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = db.NewDropTable().Model((*tracedRow)(nil)).IfExists().Exec(bg) })
		require.Empty(t, exp.GetSpans(), "no span outside a traced context")

		const secret = "jane.doe.secret@example.com"
		ctx, parent := tp.Tracer("test").Start(bg, "request")
		_, err = db.NewInsert().Model(&tracedRow{Email: secret}).Exec(ctx)
		require.NoError(t, err)
		var got []tracedRow
		require.NoError(t, db.NewSelect().Model(&got).Where("email = ?", secret).Scan(ctx))
		require.Len(t, got, 1)
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM traced_people WHERE email = ?", secret).Scan(&n))
		assert.Equal(t, 1, n)
		_, err = db.NewInsert().Model(&tracedRow{ID: got[0].ID, Email: secret}).Exec(ctx) // duplicate key
		require.Error(t, err)
		parent.End()

		spans := exp.GetSpans()
		var names []string
		for _, s := range spans[:len(spans)-1] {
			names = append(names, s.Name)
			assert.Equal(t, parent.SpanContext().SpanID(), s.Parent.SpanID(), "%s is a child of the request", s.Name)
			assert.NotContains(t, s.Name, secret)
			assert.NotContains(t, s.Status.Description, secret)
			for _, kv := range s.Attributes {
				assert.NotContains(t, kv.Value.Emit(), secret, "%s: %s", s.Name, kv.Key)
				assert.NotContains(t, kv.Value.Emit(), "example.com", "%s: %s", s.Name, kv.Key)
			}
		}
		assert.Equal(t, []string{"INSERT traced_people", "SELECT traced_people", "SELECT", "INSERT traced_people"}, names)
		var raw string
		for _, kv := range spans[2].Attributes {
			if kv.Key == "db.query.text" {
				raw = kv.Value.AsString()
			}
		}
		assert.True(t, strings.HasSuffix(raw, "WHERE email = ?"), "the raw statement's template: %q", raw)
		assert.Equal(t, "Error", spans[3].Status.Code.String())
	})
}
