package metrics

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

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
)

// aggEnv is what the aggregator tests share: a database with one EUR campaign on EMAIL, an
// embedded NATS server and the metrics store.
type aggEnv struct {
	t        *testing.T
	ctx      context.Context
	nc       *natsx.Conn
	svc      *campaign.Service
	store    *Store
	logger   *slog.Logger
	campaign uuid.UUID
}

func newAggEnv(t *testing.T, target dbtest.Target) *aggEnv {
	ctx := context.Background()
	db := dbtest.Open(t, target, append(campaign.Schema(), Migrations())...)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, err := natsx.Connect(ctx, config.NATSConfig{Embedded: true}, t.TempDir(), "test", logger)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	svc := campaign.NewService(campaign.NewRepository(db))
	c, err := svc.Create(ctx, campaign.UserID(uuid.New()), campaign.Input{
		Name: t.Name(), Type: campaign.TypePromotion, StartDate: time.Now().Add(time.Hour),
		Budget: campaign.MustMoney("100", "EUR"), Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}},
	})
	require.NoError(t, err)
	return &aggEnv{t: t, ctx: ctx, nc: nc, svc: svc, store: NewStore(db), logger: logger, campaign: uuid.UUID(c.ID)}
}

// impression is the message of one impression of the campaign.
func (e *aggEnv) impression() *nats.Msg {
	b, _ := json.Marshal(map[string]any{"eventId": uuid.NewString(), "type": "IMPRESSION"})
	m := nats.NewMsg(Subject(e.campaign))
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
