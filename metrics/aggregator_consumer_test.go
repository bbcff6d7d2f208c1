package metrics_test

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/logtest"
)

// A partition's consumer that the server drops (here deleted; a server that stops serving it
// is the same to the worker once two heartbeats are missed) is recreated from the last message
// read: the worker says so, and every event is counted once.
func TestADroppedPartitionConsumerIsRecreatedAndLogged(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		env := newAggEnv(t, target)
		var logs logtest.Buffer
		cfg := env.config()
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		cfg.MaxWait = 50 * time.Millisecond
		w := env.startWorker(cfg)
		requireBalanced(t, metrics.DefaultPartitions, w)

		env.publish(20)
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			processed, _ := env.counted(cfg.Consumer)
			assert.EqualValues(c, 20, processed)
		}, 10*time.Second, 10*time.Millisecond)

		stream, err := env.nc.JS.Stream(env.ctx, cfg.Stream.Name)
		require.NoError(t, err)
		names := stream.ConsumerNames(env.ctx)
		var dropped int
		for name := range names.Name() {
			require.NoError(t, stream.DeleteConsumer(env.ctx, name))
			dropped++
		}
		require.NoError(t, names.Err())
		require.Equal(t, metrics.DefaultPartitions, dropped, "one consumer per partition")

		env.publish(20)
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			processed, dead := env.counted(cfg.Consumer)
			assert.EqualValues(c, 40, processed)
			assert.Zero(c, dead)
		}, 15*time.Second, 10*time.Millisecond, "counting goes on after the drop")
		assert.EqualValues(t, 40, env.impressions(), "every event once")
		p := metrics.Partition(env.campaign, metrics.DefaultPartitions)
		assert.Contains(t, logs.String(), `msg="metrics aggregator: partition consumer; the client recreates it from the last message read" partition=`+
			strconv.Itoa(p)+` error="nats: consumer deleted"`)
	})
}
