package metrics

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// A worker that dies after committing a batch but before acknowledging it must not count the
// batch twice when the messages come back; one that dies before committing must count them
// once when they come back.
func TestWorkerKilledMidBatchCountsExactlyOnce(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		env := newAggEnv(t, target)
		ctx := env.ctx
		cfg := DefaultAggregatorConfig()
		cfg.BatchSize, cfg.MaxWait, cfg.AckWait = 50, 100*time.Millisecond, time.Second
		worker := func(beforeAck func() error) *Aggregator {
			a := NewAggregator(env.nc.JS, env.store, env.svc, cfg, env.logger, nil)
			a.beforeAck = beforeAck
			return a
		}
		first := worker(nil)
		cons, err := first.Consumer(ctx)
		require.NoError(t, err)

		// Dies after the commit: the batch is counted, not acknowledged, and comes back.
		env.publish(50)
		crash := errors.New("killed")
		n, err := worker(func() error { return crash }).Step(ctx, cons)
		require.ErrorIs(t, err, crash)
		require.Equal(t, 50, n)
		assert.EqualValues(t, 50, env.impressions())

		// Dies before the commit (the database refuses it): nothing counted, comes back too.
		env.publish(50)
		broken := worker(nil)
		broken.store = NewStore(brokenDB{env.store.db})
		// The first 50 come back after the ack wait and are skipped; the next 50 fail to commit.
		require.Eventually(t, func() bool {
			_, err := broken.Step(ctx, cons)
			return err != nil
		}, 10*time.Second, 10*time.Millisecond)
		assert.EqualValues(t, 50, env.impressions())

		// A restarted worker gets every unacknowledged message again and counts each once.
		restarted := worker(nil)
		require.Eventually(t, func() bool {
			_, err := restarted.Step(ctx, cons)
			require.NoError(t, err)
			pos, err := env.store.Position(ctx, cfg.Durable)
			require.NoError(t, err)
			return pos >= 100
		}, 15*time.Second, 10*time.Millisecond)
		assert.EqualValues(t, 100, env.impressions())
	})
}

// brokenDB fails every transaction, as a database that went away would.
type brokenDB struct{ bun.IDB }

func (brokenDB) RunInTx(context.Context, *sql.TxOptions, func(context.Context, bun.Tx) error) error {
	return errors.New("database unavailable")
}
