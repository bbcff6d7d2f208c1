package bunstore

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// The hot reads (database.PreparedSlice: pgx's own rows on PostgreSQL) read every field as
// Bun's own selects do: a Store over a transaction takes Bun's path. Campaigns with every
// nullable column set and with none, by id and in pages of every sort, both directions.
func TestHotReadsReadAsBun(t *testing.T) {
	dbtest.Each(t, Schema(), func(t *testing.T, db *bun.DB) {
		dbtest.RequireNullsInPointers[campaignRow](t, db)
		ctx := context.Background()
		at := time.Date(2027, 3, 1, 9, 0, 0, 123456000, time.UTC)
		later, who := at.Add(36*time.Hour), uuid.New()
		var ids []campaign.ID
		for i := range 6 {
			r := campaignRow{ID: uuid.New(), Name: fmt.Sprintf("Hot %c", 'F'-i), Status: "DRAFT", Type: "PROMOTION",
				TargetingRules: `["` + uuid.NewString() + `"]`,
				StartDate:      at.Add(time.Duration(i%3) * time.Hour), BudgetAmount: decimal.RequireFromString("1234.5678"),
				BudgetCurrency: "EUR", CreatedBy: uuid.New(), CreatedAt: at.Add(time.Duration(i) * time.Minute), UpdatedAt: at,
				Settings: `{"channels":["EMAIL"]}`, Version: int64(i + 1)}
			if i%2 == 1 { // every nullable column set
				r.Description, r.EndDate, r.StopCode, r.TargetingVerified = "all set", &later, "BUDGET_EXHAUSTED", true
				r.ApprovalStatus, r.ApprovalReason = "REJECTED", "not now"
				r.ApprovalSubmittedBy, r.ApprovalSubmittedAt, r.ApprovalDecidedBy, r.ApprovalDecidedAt = &who, &at, &who, &later
			}
			_, err := db.NewInsert().Model(&r).Exec(ctx)
			require.NoError(t, err)
			ids = append(ids, campaign.ID(r.ID))
		}
		hot := New(db)
		require.NoError(t, db.RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
			viaBun := New(tx)
			for _, id := range ids {
				want, err := viaBun.Get(ctx, id)
				require.NoError(t, err)
				got, err := hot.Get(ctx, id)
				require.NoError(t, err)
				assert.Equal(t, want, got)
			}
			for _, sort := range []campaign.SortField{campaign.SortCreatedAt, campaign.SortName, campaign.SortStartDate} {
				for _, desc := range []bool{false, true} {
					f := campaign.Filter{Sort: sort, Desc: desc, Limit: 2}
					for page := 0; ; page++ {
						want, err := viaBun.List(ctx, f, campaign.ApprovalThresholds{})
						require.NoError(t, err)
						got, err := hot.List(ctx, f, campaign.ApprovalThresholds{})
						require.NoError(t, err)
						require.Equal(t, want, got, "sort %s desc %v page %d", sort, desc, page)
						if !got.More {
							assert.Equal(t, 2, page, "six campaigns in pages of two")
							break
						}
						f.After = &got.Cursors[len(got.Cursors)-1]
					}
				}
			}
			return nil
		}))
	})
}
