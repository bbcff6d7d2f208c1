package bunstore_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Create writes the campaign and its event with one statement on PostgreSQL and through
// outbox.Append in a transaction otherwise (and inside a host's transaction): the stored
// event is the same either way, and a refused campaign leaves no event behind.
func TestCreateWritesTheSameEvent(t *testing.T) {
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		ctx := audit.WithActor(context.Background(), uuid.UUID(bob))
		own := bunstore.New(db)
		actor := alice
		change := func(c *campaign.Campaign) campaign.Change {
			return campaign.Change{Event: campaign.EventCreated, Data: campaign.CreatedV1{}, At: c.CreatedAt(),
				Actor: &actor, EventID: uuid.Must(uuid.NewV7())}
		}
		stored := func(c *campaign.Campaign) campaign.Event {
			t.Helper()
			evs, err := own.Events(ctx, c.ID(), nil, 0, 10)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			return evs[0]
		}

		alone := campaigntest.Fixture("Alone", base)
		chAlone := change(alone)
		require.NoError(t, own.Create(ctx, alone, chAlone))
		joined := campaigntest.Fixture("Joined", base)
		chJoined := change(joined)
		require.NoError(t, db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return bunstore.New(tx).Create(ctx, joined, chJoined)
		}))

		a, j := stored(alone), stored(joined)
		assert.Equal(t, chAlone.EventID, a.ID)
		assert.Equal(t, alone.ID(), a.CampaignID)
		for _, e := range []campaign.Event{a, j} {
			assert.Equal(t, campaign.EventCreated, e.Type)
			assert.EqualValues(t, 1, e.Version)
			require.NotNil(t, e.Actor)
			assert.Equal(t, uuid.UUID(alice), *e.Actor)
			assert.True(t, e.OccurredAt.Equal(base), "occurredAt %s", e.OccurredAt)
			assert.Nil(t, e.PublishedAt, "waits for the relay")
			assert.True(t, json.Valid(e.Payload))
		}
		assert.Equal(t, j.DataSchema, a.DataSchema)
		assert.NotEmpty(t, a.DataSchema)
		assert.JSONEq(t, string(j.Payload), string(a.Payload))
		assert.Greater(t, j.Seq, a.Seq, "store order")

		// A taken name: no campaign, no event.
		twin := campaigntest.Fixture("ALONE", base)
		require.ErrorIs(t, own.Create(ctx, twin, change(twin)), campaign.ErrNameTaken)
		var n int
		require.NoError(t, db.NewSelect().Table("outbox_events").ColumnExpr("count(*)").
			Where("aggregate_id = ?", uuid.UUID(twin.ID())).Scan(ctx, &n))
		assert.Zero(t, n)
		_, err := own.Get(ctx, twin.ID())
		assert.ErrorIs(t, err, campaign.ErrNotFound)
	})
}
