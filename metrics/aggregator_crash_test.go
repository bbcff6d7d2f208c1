package metrics

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
)

// A worker that dies after committing a batch but before acknowledging it must not count the
// batch twice when the messages come back; one that dies before committing must count them
// once when they come back.
func TestWorkerKilledMidBatchCountsExactlyOnce(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		db := dbtest.Open(t, target, append(campaign.Schema(), Migrations())...)
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		nc, err := natsx.Connect(ctx, config.NATSConfig{Embedded: true}, t.TempDir(), "test", logger)
		require.NoError(t, err)
		t.Cleanup(nc.Close)
		svc := campaign.NewService(campaign.NewRepository(db))
		c, err := svc.Create(ctx, campaign.UserID(uuid.New()), campaign.Input{
			Name: "Crash " + target.Name, Type: campaign.TypePromotion, StartDate: time.Now().Add(time.Hour),
			Budget: campaign.MustMoney("100", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
		})
		require.NoError(t, err)

		cfg := DefaultAggregatorConfig()
		cfg.BatchSize, cfg.MaxWait, cfg.AckWait = 50, 100*time.Millisecond, time.Second
		store := NewStore(db)
		worker := func(beforeAck func() error) *Aggregator {
			a := NewAggregator(nc.JS, store, svc, cfg, logger, nil)
			a.beforeAck = beforeAck
			return a
		}
		first := worker(nil)
		cons, err := first.Consumer(ctx)
		require.NoError(t, err)
		publish := func(n int) {
			for range n {
				b, _ := json.Marshal(map[string]any{"eventId": uuid.NewString(), "type": "IMPRESSION"})
				m := nats.NewMsg(Subject(uuid.UUID(c.ID)))
				m.Data = b
				_, err := nc.JS.PublishMsg(ctx, m)
				require.NoError(t, err)
			}
		}
		impressions := func() int64 {
			rows, err := store.Rows(ctx, uuid.UUID(c.ID), "", "")
			require.NoError(t, err)
			var n int64
			for _, r := range rows {
				n += r.Impressions
			}
			return n
		}

		// Dies after the commit: the batch is counted, not acknowledged, and comes back.
		publish(50)
		crash := errors.New("killed")
		n, err := worker(func() error { return crash }).Step(ctx, cons)
		require.ErrorIs(t, err, crash)
		require.Equal(t, 50, n)
		assert.EqualValues(t, 50, impressions())

		// Dies before the commit (the database refuses it): nothing counted, comes back too.
		publish(50)
		broken := worker(nil)
		broken.store = NewStore(brokenDB{db})
		// The first 50 come back after the ack wait and are skipped; the next 50 fail to commit.
		require.Eventually(t, func() bool {
			_, err := broken.Step(ctx, cons)
			return err != nil
		}, 10*time.Second, 10*time.Millisecond)
		assert.EqualValues(t, 50, impressions())

		// A restarted worker gets every unacknowledged message again and counts each once.
		restarted := worker(nil)
		require.Eventually(t, func() bool {
			_, err := restarted.Step(ctx, cons)
			require.NoError(t, err)
			pos, err := store.Position(ctx, cfg.Durable)
			require.NoError(t, err)
			return pos >= 100
		}, 15*time.Second, 10*time.Millisecond)
		assert.EqualValues(t, 100, impressions())
	})
}

// brokenDB fails every transaction, as a database that went away would.
type brokenDB struct{ bun.IDB }

func (brokenDB) RunInTx(context.Context, *sql.TxOptions, func(context.Context, bun.Tx) error) error {
	return errors.New("database unavailable")
}
