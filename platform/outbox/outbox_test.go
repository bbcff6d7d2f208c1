package outbox_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// An event's data schema is stored with it and published as the CloudEvents dataschema; an
// event without one is published without the attribute, as before it existed.
func TestTheDataSchemaIsStoredAndEnveloped(t *testing.T) {
	dbtest.Each(t, []migrate.Set{outbox.Migrations()}, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		agg := uuid.New()
		at := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		with := outbox.Event{ID: uuid.New(), AggregateID: agg, Type: "CampaignPaused", Version: 1, OccurredAt: at,
			Payload: json.RawMessage(`{}`), DataSchema: "urn:campaigns:events:CampaignPaused:1"}
		without := outbox.Event{ID: uuid.New(), AggregateID: agg, Type: "CampaignResumed", Version: 2, OccurredAt: at,
			Payload: json.RawMessage(`{}`)}
		for _, e := range []outbox.Event{with, without} {
			require.NoError(t, outbox.Append(ctx, db, e))
		}
		got, err := outbox.List(ctx, db, outbox.Query{AggregateID: agg, Limit: 10})
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Equal(t, with.DataSchema, got[0].DataSchema)
		assert.Empty(t, got[1].DataSchema)

		var ce map[string]any
		body, err := json.Marshal(outbox.Envelope(got[0], "/campaigns"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(body, &ce))
		assert.Equal(t, with.DataSchema, ce["dataschema"])
		body, err = json.Marshal(outbox.Envelope(got[1], "/campaigns"))
		require.NoError(t, err)
		ce = nil
		require.NoError(t, json.Unmarshal(body, &ce))
		assert.NotContains(t, ce, "dataschema")
	})
}

// The oldest waiting event's age is what the stuck-relay alert reads: 0 with nothing waiting,
// then measured from the oldest pending event's occurrence, not a newer one's.
func TestOldestAgeIsTheOldestPendingEvents(t *testing.T) {
	dbtest.Each(t, []migrate.Set{outbox.Migrations()}, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		age, err := outbox.OldestAge(ctx, db, now)
		require.NoError(t, err)
		assert.Zero(t, age)

		agg := uuid.New()
		for i, at := range []time.Time{now.Add(-7 * time.Minute), now.Add(-time.Minute)} {
			require.NoError(t, outbox.Append(ctx, db, outbox.Event{AggregateID: agg, Type: "CampaignUpdated",
				Version: int64(i + 1), OccurredAt: at, Payload: json.RawMessage(`{}`)}))
		}
		age, err = outbox.OldestAge(ctx, db, now)
		require.NoError(t, err)
		assert.Equal(t, 7*time.Minute, age)
	})
}
