package embedded_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/datadir"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/embedded"
)

// A client connects in process and stores on JetStream; the data dir belongs to one server
// until it is closed, and what it stored is there for the next one.
func TestEmbeddedServerHoldsItsDataDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: dir})
	require.NoError(t, err)
	nc, err := natsx.Connect(ctx, natsx.Config{InProcess: srv, Name: "test"})
	require.NoError(t, err)
	require.NoError(t, nc.Ready(ctx))
	_, err = nc.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "KEPT", Subjects: []string{"kept.>"}})
	require.NoError(t, err)
	_, err = nc.JS.Publish(ctx, "kept.one", []byte("1"))
	require.NoError(t, err)

	_, err = embedded.Start(ctx, embedded.Config{DataDir: dir})
	var inUse *datadir.InUseError
	require.True(t, errors.As(err, &inUse), "a second server on the data dir is refused: %v", err)
	assert.Contains(t, err.Error(), "nats: embedded server: data dir ")

	nc.Close()
	srv.Close()
	srv.Close() // a second Close does nothing

	again, err := embedded.Start(ctx, embedded.Config{DataDir: dir})
	require.NoError(t, err, "Close gave the data dir up")
	t.Cleanup(again.Close)
	nc, err = natsx.Connect(ctx, natsx.Config{InProcess: again})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	stream, err := nc.JS.Stream(ctx, "KEPT")
	require.NoError(t, err)
	assert.EqualValues(t, 1, stream.CachedInfo().State.Msgs, "the store outlived the server")
}

// With a port, the server also serves TCP clients on loopback.
func TestEmbeddedServerListensOnItsPort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	srv, err := embedded.Start(ctx, embedded.Config{DataDir: t.TempDir(), Port: port})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	assert.Equal(t, "nats://127.0.0.1:"+strconv.Itoa(port), srv.ClientURL())
	nc, err := natsx.Connect(ctx, natsx.Config{URL: srv.ClientURL()})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	require.Eventually(t, func() bool { return nc.Ready(ctx) == nil }, 5*time.Second, 10*time.Millisecond)
}
