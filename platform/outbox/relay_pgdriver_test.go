package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
	"github.com/engine-rules-sp/campaigns/platform/outbox"
)

// On PostgreSQL through Bun's pgdriver, with a real NATS server, the relay publishes every
// event once, each campaign's in order, over several batches (so its prefetch, its check for
// late commits and its background mark all run with their array parameters), records each as
// published, and Drain then finds nothing left.
func TestRelayPublishesOnPgdriver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.Open(t, dbtest.PgdriverTarget(t), outbox.Migrations())
	nc := natstest.Connect(t, natstest.External(t))
	env := &benchEnv{db: db, nc: nc}

	// A stream and subjects of this test's own: the server is shared.
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tag := strings.ToUpper(hex.EncodeToString(b))
	cfg := testRelayConfig()
	cfg.Stream, cfg.SubjectPrefix, cfg.BatchSize = "TEST_PGDRIVER_"+tag, "test."+tag+".events", 40
	t.Cleanup(func() { _ = nc.JS.DeleteStream(context.Background(), cfg.Stream) })

	aggs := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	const events = 130
	var c counter
	relay, stop := env.start(t, cfg, &c)
	env.appendEvents(t, aggs, 0, events)
	env.waitPublished(t, events, &c)

	bySeq := map[uuid.UUID]int64{}
	for _, agg := range aggs {
		got, err := outbox.List(ctx, db, outbox.Query{AggregateID: agg, Limit: events})
		require.NoError(t, err)
		for _, e := range got {
			bySeq[e.ID] = e.Seq
			assert.NotNil(t, e.PublishedAt, "event %d is recorded as published", e.Seq)
		}
	}
	require.Len(t, bySeq, events)
	cons, err := nc.JS.OrderedConsumer(ctx, cfg.Stream, jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	batch, err := cons.Fetch(events+10, jetstream.FetchMaxWait(time.Second))
	require.NoError(t, err)
	seen := map[uuid.UUID]bool{}
	last := map[string]int64{}
	for msg := range batch.Messages() {
		var ce outbox.CloudEvent
		require.NoError(t, json.Unmarshal(msg.Data(), &ce))
		id := uuid.MustParse(ce.ID)
		assert.False(t, seen[id], "event %s delivered twice", id)
		seen[id] = true
		assert.Greater(t, bySeq[id], last[ce.Subject], "aggregate %s out of order", ce.Subject)
		last[ce.Subject] = bySeq[id]
	}
	require.NoError(t, batch.Error())
	assert.Len(t, seen, events)

	stop()
	relay.Release(ctx)
	n, err := outbox.NewRelay(db, nc.JS, cfg).Drain(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to publish")
}
