package metrics

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
)

// Several workers on one consumer: a fetch that returns part of a batch (its wait ran out)
// lets another worker fetch the messages after it. Each event must still be counted once,
// whichever worker commits first.
func TestSeveralWorkersCountEachEventOnce(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		db := dbtest.Open(t, target, append(campaign.Schema(), Migrations())...)
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		nc, err := natsx.Connect(ctx, config.NATSConfig{Embedded: true}, t.TempDir(), "test", logger)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		svc := campaign.NewService(campaign.NewRepository(db))
		c, err := svc.Create(ctx, campaign.UserID(uuid.New()), campaign.Input{
			Name: "Workers " + target.Name, Type: campaign.TypePromotion, StartDate: time.Now().Add(time.Hour),
			Budget: campaign.MustMoney("100", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
		})
		require.NoError(t, err)

		cfg := DefaultAggregatorConfig()
		cfg.BatchSize, cfg.MaxWait, cfg.AckWait = 40, 5*time.Millisecond, 2*time.Second
		store := NewStore(db)
		runCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for range 3 {
			a := NewAggregator(nc.JS, store, svc, cfg, logger, nil)
			wg.Go(func() { a.Run(runCtx) })
		}
		const events = 1500
		for i := range events {
			b, _ := json.Marshal(map[string]any{"eventId": uuid.NewString(), "type": "IMPRESSION"})
			m := nats.NewMsg(Subject(uuid.UUID(c.ID)))
			m.Data = b
			_, err := nc.JS.PublishMsgAsync(m)
			require.NoError(t, err)
			if i%25 == 0 {
				<-nc.JS.PublishAsyncComplete()
				time.Sleep(time.Millisecond) // bursts, so that fetches come back part-filled
			}
		}
		<-nc.JS.PublishAsyncComplete()
		require.Eventually(t, func() bool {
			pos, err := store.Position(ctx, cfg.Durable)
			require.NoError(t, err)
			return pos >= events
		}, 30*time.Second, 10*time.Millisecond, "every message is counted")
		stop()
		wg.Wait()

		rows, err := store.Rows(ctx, uuid.UUID(c.ID), "", "")
		require.NoError(t, err)
		var n int64
		for _, r := range rows {
			n += r.Impressions
		}
		assert.EqualValues(t, events, n, "each event counted exactly once")
	})
}

// The lease keeps a second worker from consuming, but one that lost it mid-batch (a long
// pause) may still hold messages while another fetches the next ones. The later batch must
// wait for the earlier one: counted first, it would move the position past messages that
// nobody has counted.
func TestALaterBatchWaitsForTheEarlierOne(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		db := dbtest.Open(t, target, append(campaign.Schema(), Migrations())...)
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		nc, err := natsx.Connect(ctx, config.NATSConfig{Embedded: true}, t.TempDir(), "test", logger)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		svc := campaign.NewService(campaign.NewRepository(db))
		c, err := svc.Create(ctx, campaign.UserID(uuid.New()), campaign.Input{
			Name: "Gap " + target.Name, Type: campaign.TypePromotion, StartDate: time.Now().Add(time.Hour),
			Budget: campaign.MustMoney("100", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
		})
		require.NoError(t, err)
		cfg := DefaultAggregatorConfig()
		cfg.BatchSize, cfg.MaxWait, cfg.AckWait = 50, 100*time.Millisecond, 10*time.Second
		store := NewStore(db)
		a := NewAggregator(nc.JS, store, svc, cfg, logger, nil)
		b := NewAggregator(nc.JS, store, svc, cfg, logger, nil)
		cons, err := a.Consumer(ctx)
		require.NoError(t, err)
		publish := func(n int) {
			for range n {
				body, _ := json.Marshal(map[string]any{"eventId": uuid.NewString(), "type": "IMPRESSION"})
				m := nats.NewMsg(Subject(uuid.UUID(c.ID)))
				m.Data = body
				_, err := nc.JS.PublishMsg(ctx, m)
				require.NoError(t, err)
			}
		}
		fetch := func(w *Aggregator) *pending {
			batch, err := cons.Fetch(cfg.BatchSize, jetstream.FetchMaxWait(cfg.MaxWait))
			require.NoError(t, err)
			var p pending
			for m := range batch.Messages() {
				require.NoError(t, w.add(ctx, &p, m))
			}
			return &p
		}

		publish(30)
		early := fetch(a) // part-filled: 1..30
		require.Len(t, early.work, 30)
		publish(30)
		late := fetch(b) // 31..60
		require.Len(t, late.work, 30)

		lateDone := make(chan error, 1)
		go func() { lateDone <- b.flush(ctx, late) }()
		time.Sleep(200 * time.Millisecond) // the later batch is first to flush
		require.NoError(t, a.flush(ctx, early))
		require.NoError(t, <-lateDone)
		pos, err := store.Position(ctx, cfg.Durable)
		require.NoError(t, err)
		assert.EqualValues(t, 60, pos)
		rows, err := store.Rows(ctx, uuid.UUID(c.ID), "", "")
		require.NoError(t, err)
		var n int64
		for _, r := range rows {
			n += r.Impressions
		}
		assert.EqualValues(t, 60, n, "each event counted exactly once")
	})
}
