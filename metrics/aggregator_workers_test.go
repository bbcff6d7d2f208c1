package metrics

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Several workers on one consumer: one consumes at a time (the lease), fetches come back
// part-filled, and each event is counted once.
func TestSeveralWorkersCountEachEventOnce(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		env := newAggEnv(t, target)
		cfg := DefaultAggregatorConfig()
		cfg.BatchSize, cfg.MaxWait, cfg.AckWait = 40, 5*time.Millisecond, 2*time.Second
		runCtx, stop := context.WithCancel(env.ctx)
		var wg sync.WaitGroup
		for range 3 {
			a := NewAggregator(env.nc.JS, env.store, env.svc, cfg, env.logger, nil)
			wg.Go(func() { a.Run(runCtx) })
		}
		const events = 1500
		for i := range events {
			_, err := env.nc.JS.PublishMsgAsync(env.impression())
			require.NoError(t, err)
			if i%25 == 0 {
				<-env.nc.JS.PublishAsyncComplete()
				time.Sleep(time.Millisecond) // bursts, so that fetches come back part-filled
			}
		}
		<-env.nc.JS.PublishAsyncComplete()
		require.Eventually(t, func() bool {
			pos, err := env.store.Position(env.ctx, cfg.Durable)
			require.NoError(t, err)
			return pos >= events
		}, 30*time.Second, 10*time.Millisecond, "every message is counted")
		stop()
		wg.Wait()
		assert.EqualValues(t, events, env.impressions(), "each event counted exactly once")
	})
}

// The lease keeps a second worker from consuming, but one that lost it mid-batch (a long
// pause) may still hold messages while another fetches the next ones. The later batch must
// wait for the earlier one: counted first, it would move the position past messages that
// nobody has counted.
func TestALaterBatchWaitsForTheEarlierOne(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		env := newAggEnv(t, target)
		ctx := env.ctx
		cfg := DefaultAggregatorConfig()
		cfg.BatchSize, cfg.MaxWait, cfg.AckWait = 50, 100*time.Millisecond, 10*time.Second
		a := NewAggregator(env.nc.JS, env.store, env.svc, cfg, env.logger, nil)
		b := NewAggregator(env.nc.JS, env.store, env.svc, cfg, env.logger, nil)
		cons, err := a.Consumer(ctx)
		require.NoError(t, err)
		fetch := func(w *Aggregator) *pending {
			batch, err := cons.Fetch(cfg.BatchSize, jetstream.FetchMaxWait(cfg.MaxWait))
			require.NoError(t, err)
			var p pending
			for m := range batch.Messages() {
				require.NoError(t, w.add(ctx, &p, m))
			}
			return &p
		}

		env.publish(30)
		early := fetch(a) // part-filled: 1..30
		require.Len(t, early.work, 30)
		env.publish(30)
		late := fetch(b) // 31..60
		require.Len(t, late.work, 30)

		lateDone := make(chan error, 1)
		go func() { lateDone <- b.flush(ctx, late) }()
		time.Sleep(200 * time.Millisecond) // the later batch is first to flush
		require.NoError(t, a.flush(ctx, early))
		require.NoError(t, <-lateDone)
		pos, err := env.store.Position(ctx, cfg.Durable)
		require.NoError(t, err)
		assert.EqualValues(t, 60, pos)
		assert.EqualValues(t, 60, env.impressions(), "each event counted exactly once")
	})
}
