package outbox_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// migrationsBefore is the outbox schema as it was before the migration named version.
func migrationsBefore(t *testing.T, version string) migrate.Set {
	t.Helper()
	files := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS("."), "migrations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(path, version) {
			return err
		}
		data, err := os.ReadFile(path)
		files[path] = &fstest.MapFile{Data: data}
		return err
	})
	require.NoError(t, err)
	return migrate.Embedded("outbox", files)
}

// A database upgraded to the pending queue with events still unpublished publishes them (and
// only them), and the events published before keep their publication time.
func TestAnUpgradeKeepsUnpublishedEventsQueued(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		env := setup(t, target)
		_, err := migrate.Down(ctx, env.db, outbox.Migrations()) // setup migrated everything
		require.NoError(t, err)
		require.NoError(t, migrate.Up(ctx, env.db, migrationsBefore(t, "20261203001701")))

		agg := uuid.New()
		published := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
		for v := range 5 {
			ev := map[string]any{"id": uuid.New(), "aggregate_id": agg, "type": "CampaignUpdated", "version": v + 1,
				"occurred_at": time.Now().UTC(), "payload": `{}`}
			if v == 0 {
				ev["published_at"] = published // published by the relay of the old schema
			}
			_, err := env.db.NewInsert().Model(&ev).TableExpr("outbox_events").Exec(ctx)
			require.NoError(t, err)
		}
		require.NoError(t, migrate.Up(ctx, env.db, outbox.Migrations()))

		backlog, err := outbox.Backlog(ctx, env.db)
		require.NoError(t, err)
		assert.EqualValues(t, 4, backlog, "the unpublished events are queued")
		var c counter
		n, err := outbox.NewRelay(env.db, env.nc.JS, observed(testRelayConfig(), &c)).Drain(ctx)
		require.NoError(t, err)
		assert.Equal(t, 4, n)

		events, err := outbox.List(ctx, env.db, outbox.Query{AggregateID: agg, Limit: 10})
		require.NoError(t, err)
		require.Len(t, events, 5)
		require.NotNil(t, events[0].PublishedAt)
		assert.True(t, published.Equal(*events[0].PublishedAt), "kept: %v", events[0].PublishedAt)
		for _, e := range events[1:] {
			require.NotNil(t, e.PublishedAt, "version %d", e.Version)
			assert.WithinDuration(t, time.Now(), *e.PublishedAt, time.Minute)
		}
		// An event appended now is queued by the trigger.
		require.NoError(t, outbox.Append(ctx, env.db, outbox.Event{AggregateID: agg, Type: "CampaignUpdated",
			Version: 6, OccurredAt: time.Now(), Payload: json.RawMessage(`{}`)}))
		backlog, err = outbox.Backlog(ctx, env.db)
		require.NoError(t, err)
		assert.EqualValues(t, 1, backlog)
	})
}

// The published time of an event comes from the run of outbox_published that holds its seq,
// also when late commits split a batch into several runs.
func TestEachEventGetsThePublicationTimeOfItsOwnRun(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		env := setup(t, target)
		agg := uuid.New()
		env.appendEvents(t, []uuid.UUID{agg}, 0, 3)
		events, err := outbox.List(ctx, env.db, outbox.Query{AggregateID: agg, Limit: 10})
		require.NoError(t, err)
		require.Len(t, events, 3)
		for _, e := range events {
			assert.Nil(t, e.PublishedAt, "pending")
		}
		// The middle event leaves the queue for now (as a transaction still open would): the
		// relay publishes the first and the last, two runs.
		_, err = env.db.NewDelete().TableExpr("outbox_pending").Where("seq = ?", events[1].Seq).Exec(ctx)
		require.NoError(t, err)
		relay := outbox.NewRelay(env.db, env.nc.JS, testRelayConfig())
		n, err := relay.Step(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		events, err = outbox.List(ctx, env.db, outbox.Query{AggregateID: agg, Limit: 10})
		require.NoError(t, err)
		require.NotNil(t, events[0].PublishedAt)
		assert.Nil(t, events[1].PublishedAt, "inside the first run's range but not in it")
		require.NotNil(t, events[2].PublishedAt)

		_, err = env.db.NewRaw("INSERT INTO outbox_pending (seq) VALUES (?)", events[1].Seq).Exec(ctx)
		require.NoError(t, err)
		n, err = relay.Step(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		events, err = outbox.List(ctx, env.db, outbox.Query{AggregateID: agg, Limit: 10})
		require.NoError(t, err)
		require.NotNil(t, events[1].PublishedAt)
		assert.False(t, events[1].PublishedAt.Before(*events[2].PublishedAt), "its own, later run")
	})
}
