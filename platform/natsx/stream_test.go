package natsx_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// A stream's replicas follow the configuration on a cluster, up and down, with what it holds
// kept; a cluster with fewer servers than the replicas is told apart from a server that can
// never hold them.
func TestEnsureStreamReplicasOnACluster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster := natstest.NewCluster(t, 3)
	nc, err := natsx.Connect(ctx, natsx.Config{URL: cluster.URLs(), Name: "test"})
	require.NoError(t, err)
	t.Cleanup(nc.Close)

	cfg := jetstream.StreamConfig{Name: "REPLICATED", Subjects: []string{"replicated.>"}, Storage: jetstream.FileStorage}
	s, err := natsx.EnsureStream(ctx, nc.JS, cfg)
	require.NoError(t, err)
	assert.Equal(t, 1, s.CachedInfo().Config.Replicas, "0 means one replica")
	_, err = nc.JS.Publish(ctx, "replicated.one", []byte("1"))
	require.NoError(t, err)

	cfg.Replicas = 3
	_, err = natsx.EnsureStream(ctx, nc.JS, cfg)
	require.NoError(t, err, "an R1 stream is raised to R3")
	requireReplicas(ctx, t, nc.JS, "REPLICATED", 3)
	cfg.Replicas = 1
	_, err = natsx.EnsureStream(ctx, nc.JS, cfg)
	require.NoError(t, err, "and lowered back")
	requireReplicas(ctx, t, nc.JS, "REPLICATED", 1)

	cfg.Replicas = natsx.MaxReplicas + 1
	_, err = natsx.EnsureStream(ctx, nc.JS, cfg)
	assert.ErrorContains(t, err, "must be from 1 to 5")

	// Five replicas on three servers cannot be placed.
	_, err = natsx.EnsureStream(ctx, nc.JS, jetstream.StreamConfig{Name: "WIDE", Subjects: []string{"wide.>"}, Replicas: 5})
	require.ErrorIs(t, err, natsx.ErrNotEnoughPeers)
	assert.NotErrorIs(t, err, natsx.ErrReplicasNeedCluster)
	assert.ErrorContains(t, err, "stream WIDE with 5 replicas")
}

// requireReplicas waits until stream has n replicas, all current, and still holds its message.
func requireReplicas(ctx context.Context, t *testing.T, js jetstream.JetStream, stream string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := js.Stream(ctx, stream)
		require.NoError(t, err)
		info := s.CachedInfo()
		current := info.Cluster != nil && info.Cluster.Leader != ""
		if current {
			for _, r := range info.Cluster.Replicas {
				current = current && r.Current
			}
		}
		if info.Config.Replicas == n && info.Cluster != nil && len(info.Cluster.Replicas) == n-1 && current {
			assert.Equal(t, uint64(1), info.State.Msgs, "the stream keeps what it holds")
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s: %d replicas configured, %+v in the cluster; want %d", stream, info.Config.Replicas, info.Cluster, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// More than one replica on a server that runs alone is refused for good, saying so.
func TestEnsureStreamReplicasOnASingleServer(t *testing.T) {
	t.Parallel()
	nc := natstest.Connect(t, natstest.Embedded(t))
	_, err := natsx.EnsureStream(context.Background(), nc.JS, jetstream.StreamConfig{
		Name: "ALONE", Subjects: []string{"alone.>"}, Replicas: 3,
	})
	require.ErrorIs(t, err, natsx.ErrReplicasNeedCluster)
	assert.ErrorContains(t, err, "stream ALONE with 3 replicas")
	assert.ErrorContains(t, err, "needs a JetStream cluster")
}
