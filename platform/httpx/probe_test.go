package httpx

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProbeHealth(t *testing.T) {
	t.Parallel()
	var (
		mu     sync.Mutex
		paths  []string
		status = http.StatusOK
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)

	// The configured wildcard listen address is probed on loopback.
	require.NoError(t, ProbeHealth(context.Background(), net.JoinHostPort("0.0.0.0", port)))
	require.NoError(t, ProbeHealth(context.Background(), net.JoinHostPort("127.0.0.1", port)))
	mu.Lock()
	assert.Equal(t, []string{"GET /health", "GET /health"}, paths)
	status = http.StatusServiceUnavailable
	mu.Unlock()
	err = ProbeHealth(context.Background(), net.JoinHostPort("", port))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "503")
}

func TestProbeHealthFailsWithoutServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	assert.Error(t, ProbeHealth(context.Background(), addr))
	assert.Error(t, ProbeHealth(context.Background(), "no-port"))
}
