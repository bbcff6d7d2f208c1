package metrics_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	campaignstore "github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/metrics/bunstore"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// aggEnv is what the aggregator tests share: a database with one EUR campaign on EMAIL, an
// embedded NATS server and the metrics store.
type aggEnv struct {
	t        *testing.T
	ctx      context.Context
	nc       *natsx.Conn
	svc      *campaign.Service
	db       *bun.DB
	store    *bunstore.Store
	logger   *slog.Logger
	campaign uuid.UUID
}

func newAggEnv(t *testing.T, target dbtest.Target) *aggEnv {
	ctx := context.Background()
	db := dbtest.Open(t, target, append(campaignstore.Schema(), bunstore.Migrations())...)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc := natstest.Connect(t, natstest.Embedded(t))
	svc := campaign.NewService(campaignstore.New(db), campaign.ServiceConfig{})
	c, err := svc.Create(ctx, campaign.UserID(uuid.New()), campaign.Input{
		Name: t.Name(), Type: campaign.TypePromotion, StartDate: time.Now().Add(time.Hour),
		Budget: campaign.MustMoney("100", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
	})
	require.NoError(t, err)
	return &aggEnv{t: t, ctx: ctx, nc: nc, svc: svc, db: db, store: bunstore.New(db), logger: logger, campaign: uuid.UUID(c.ID())}
}

// impression is the message of one impression of the campaign.
func (e *aggEnv) impression() *nats.Msg {
	b, _ := json.Marshal(map[string]any{"eventId": uuid.NewString(), "type": "IMPRESSION"})
	m := nats.NewMsg(metrics.PartitionSubject(e.campaign, metrics.DefaultPartitions))
	m.Data = b
	return m
}

// publish sends n impressions, each acknowledged by JetStream.
func (e *aggEnv) publish(n int) {
	for range n {
		_, err := e.nc.JS.PublishMsg(e.ctx, e.impression())
		require.NoError(e.t, err)
	}
}

// config is the default worker configuration, logging to the test's logger.
func (e *aggEnv) config() metrics.AggregatorConfig {
	return metrics.AggregatorConfig{Logger: e.logger}.WithDefaults()
}

// drain counts everything published so far with a worker of cfg.
func (e *aggEnv) drain(cfg metrics.AggregatorConfig) {
	e.t.Helper()
	a := metrics.NewAggregator(e.nc.JS, e.store, e.svc, cfg)
	require.NoError(e.t, a.Drain(e.ctx))
}

// counted sums what the partitions' positions record: events counted and dead-lettered.
func (e *aggEnv) counted(consumer string) (processed, dead int64) {
	e.t.Helper()
	err := e.db.NewSelect().Table("metrics_consumer_positions").
		ColumnExpr("COALESCE(SUM(processed), 0), COALESCE(SUM(dead_lettered), 0)").
		Where("consumer LIKE ?", consumer+".p%").Scan(e.ctx, &processed, &dead)
	require.NoError(e.t, err)
	return processed, dead
}

// impressions is what the rollups count.
func (e *aggEnv) impressions() int64 {
	rows, err := e.store.Rows(e.ctx, e.campaign, "", "")
	require.NoError(e.t, err)
	var n int64
	for _, r := range rows {
		n += r.Impressions
	}
	return n
}
