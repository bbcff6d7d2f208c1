package metrics_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// costMsg is a COST event of amount (EUR) for cid, published straight to JetStream.
func costMsg(cid uuid.UUID, amount string) *nats.Msg {
	b, _ := json.Marshal(map[string]any{"eventId": uuid.NewString(), "type": "COST",
		"cost": map[string]any{"amount": amount, "currency": "EUR"}})
	m := nats.NewMsg(metrics.PartitionSubject(cid, metrics.DefaultPartitions))
	m.Data = b
	return m
}

// secondCampaign creates another EUR campaign on EMAIL.
func (e *aggEnv) secondCampaign() uuid.UUID {
	c, err := e.svc.Create(e.ctx, campaign.UserID(uuid.New()), campaign.Input{
		Name: e.t.Name() + " other", Type: campaign.TypePromotion, StartDate: time.Now().Add(time.Hour),
		Budget: campaign.MustMoney("100", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
	})
	require.NoError(e.t, err)
	return uuid.UUID(c.ID())
}

// totals sums a campaign's rollups.
func (e *aggEnv) totals(cid uuid.UUID) metrics.Totals {
	rows, err := e.store.Rows(e.ctx, cid, "", "")
	require.NoError(e.t, err)
	var sum metrics.Totals
	for _, r := range rows {
		sum, err = sum.Add(r.Totals)
		require.NoError(e.t, err)
	}
	return sum
}

// deadLetters reads every message of the dead-letter subject.
func (e *aggEnv) deadLetters(stream string) []jetstream.Msg {
	cons, err := e.nc.JS.OrderedConsumer(e.ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{metrics.DeadLetterSubj}})
	require.NoError(e.t, err)
	var out []jetstream.Msg
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(300*time.Millisecond))
		require.NoError(e.t, err)
		n := 0
		for m := range batch.Messages() {
			out = append(out, m)
			n++
		}
		if n == 0 {
			return out
		}
	}
}

// The reproduction: two COST events of 900,000,000,000,000 EUR. With the default
// limits the worker dead-letters both (as /track refuses them). With limits raised past what
// two such events can total, the first is counted and the second, which would take the totals
// beyond 64 bits, is refused by the database and dead-lettered: the totals never wrap.
func TestHugeAmountsAreRefusedNeverWrapped(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		env := newAggEnv(t, target)
		cfg := env.config()
		cfg.MaxWait = 200 * time.Millisecond
		require.NoError(t, metrics.EnsureStream(env.ctx, env.nc.JS, cfg.Stream))
		for range 2 {
			_, err := env.nc.JS.PublishMsg(env.ctx, costMsg(env.campaign, "900000000000000"))
			require.NoError(t, err)
		}
		env.drain(cfg)
		dead := env.deadLetters(cfg.Stream.DeadLetterStream())
		require.Len(t, dead, 2)
		for _, m := range dead {
			assert.Contains(t, m.Headers().Get(metrics.HeaderDLQReason), "cost.amount: must be at most 1000000000")
		}
		assert.Equal(t, metrics.Totals{}, env.totals(env.campaign), "nothing counted")

		cfg.Limits = metrics.Limits{MaxAmount: decimal.New(1, 15)}
		for range 2 {
			_, err := env.nc.JS.PublishMsg(env.ctx, costMsg(env.campaign, "900000000000000"))
			require.NoError(t, err)
		}
		env.drain(cfg)
		dead = env.deadLetters(cfg.Stream.DeadLetterStream())
		require.Len(t, dead, 3)
		assert.Contains(t, dead[2].Headers().Get(metrics.HeaderDLQReason), "out of range")
		assert.Equal(t, "4", dead[2].Headers().Get(metrics.HeaderDLQSeq), "the second of the pair is refused")
		got := env.totals(env.campaign)
		assert.Equal(t, "900000000000000", metrics.FromE4(got.CostE4).String(), "the first is counted, positive and exact")
		processed, deadN := env.counted(cfg.Consumer)
		assert.EqualValues(t, 1, processed)
		assert.EqualValues(t, 3, deadN)
	})
}

// One poisoned event among 10,000 good ones in one batch: its campaign's total is one euro
// short of the largest the store holds and the event costs two. The database refuses the
// flush; the worker finds the event, dead-letters it with the reason, and commits the other
// 10,000 exactly once. The other campaign is unaffected, and counting goes on afterwards.
func TestOnePoisonedEventAmongTenThousand(t *testing.T) {
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		env := newAggEnv(t, target)
		poisoned, other := env.campaign, env.secondCampaign()
		now := time.Now().UTC()
		full := int64(math.MaxInt64 - 1_0000) // one euro short
		_, err := env.db.ExecContext(env.ctx, `INSERT INTO metrics_campaign_spend (campaign_id, cost_e4, revenue_e4, updated_at)
VALUES (?, ?, 0, ?)`, poisoned, full, now)
		require.NoError(t, err)
		_, err = env.db.ExecContext(env.ctx, `INSERT INTO metrics_daily (campaign_id, day, variant, channel, personalization,
impressions, clicks, conversions, bounces, unsubscribes, revenue_e4, cost_e4, reach, updated_at)
VALUES (?, ?, '', '', '', 0, 0, 0, 0, 0, 0, ?, 0, ?)`, poisoned, now.Format(time.DateOnly), full, now)
		require.NoError(t, err)

		cfg := env.config()
		cfg.BatchSize = 20_000 // a partition's events in one batch, as far as a fetch allows
		require.NoError(t, metrics.EnsureStream(env.ctx, env.nc.JS, cfg.Stream))
		const good = 10_000
		for i := range good + 1 {
			var m *nats.Msg
			switch {
			case i == good/2:
				m = costMsg(poisoned, "2.00")
			case i%2 == 0:
				m = env.impression() // the poisoned campaign, no money
			default:
				m = costMsg(other, "1.25")
			}
			_, err := env.nc.JS.PublishMsgAsync(m)
			require.NoError(t, err)
			if i%1000 == 999 || i == good {
				select {
				case <-env.nc.JS.PublishAsyncComplete():
				case <-time.After(30 * time.Second):
					t.Fatal("publishing timed out")
				}
			}
		}
		env.drain(cfg)

		dead := env.deadLetters(cfg.Stream.DeadLetterStream())
		require.Len(t, dead, 1, "exactly the poisoned event is dead-lettered")
		assert.Contains(t, dead[0].Headers().Get(metrics.HeaderDLQReason), "out of range")
		assert.Equal(t, metrics.PartitionSubject(poisoned, metrics.DefaultPartitions), dead[0].Headers().Get(metrics.HeaderDLQSubject))

		p := env.totals(poisoned)
		assert.EqualValues(t, good/2, p.Impressions)
		assert.Equal(t, full, p.CostE4, "the poisoned campaign's spend is unchanged")
		o := env.totals(other)
		assert.EqualValues(t, good/2*1_2500, o.CostE4, "the other campaign is counted exactly")
		processed, deadN := env.counted(cfg.Consumer)
		assert.EqualValues(t, good, processed)
		assert.EqualValues(t, 1, deadN)

		// Counting goes on for every campaign, the poisoned one included.
		env.publish(10)
		_, err = env.nc.JS.PublishMsg(env.ctx, costMsg(other, "1.00"))
		require.NoError(t, err)
		env.drain(cfg)
		assert.EqualValues(t, good/2+10, env.totals(poisoned).Impressions)
		assert.EqualValues(t, good/2*1_2500+1_0000, env.totals(other).CostE4)
	})
}
