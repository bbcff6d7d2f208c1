// Package embedded runs a NATS server with JetStream in this process, storing under a data
// directory: the embedded default, which needs nothing else installed. It is the only package
// that links nats-server; a host on an external NATS never imports it.
//
// Connect to it with natsx.Connect(ctx, natsx.Config{InProcess: srv}), close that connection,
// then Close the server.
package embedded

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/engine-rules-sp/campaigns/platform/datadir"
)

// Config tunes the server. Zero fields take the defaults noted.
type Config struct {
	// DataDir is the data directory: the JetStream store goes under DataDir/nats. It belongs
	// to this server until Close (a lock file in it): a server of another process, or a second
	// one of this process, on the same directory is refused with a *datadir.InUseError.
	DataDir string
	// Port also serves clients over TCP on 127.0.0.1:Port (a worker in a process of its own
	// connects there); 0: no listener, in-process connections only, so that the server never
	// clashes with a NATS already on this machine.
	Port int
	// Name is the server's name (campaigns-embedded).
	Name string
	// StartTimeout bounds how long Start waits for the server to accept connections (30s).
	StartTimeout time.Duration
	// Logger hears where the server stores and whether it listens (default: discard).
	Logger *slog.Logger
}

// Server is a running in-process NATS server. It is a nats.InProcessConnProvider: pass it as
// natsx.Config's InProcess.
type Server struct {
	srv   *server.Server
	lock  *datadir.Lock
	close sync.Once
}

// Start takes the data directory, starts the server on it and waits until it accepts
// connections (or ctx ends, or StartTimeout passes).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("nats: embedded server: no data dir")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	lock, err := datadir.Acquire(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("nats: embedded server: %w", err)
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: cmp.Or(cfg.Name, "campaigns-embedded"),
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "nats"),
		NoSigs:     true,
		NoLog:      true,
		DontListen: cfg.Port <= 0,
		Host:       "127.0.0.1",
		Port:       cfg.Port,
	})
	if err != nil {
		_ = lock.Release()
		return nil, fmt.Errorf("nats: embedded server: %w", err)
	}
	go srv.Start()
	timeout := cmp.Or(cfg.StartTimeout, 30*time.Second)
	deadline := time.Now().Add(timeout)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		if ctx.Err() != nil || time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			_ = lock.Release()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("nats: embedded server: %w", ctx.Err())
			}
			return nil, fmt.Errorf("nats: embedded server did not start within %s", timeout)
		}
	}
	logger.Info("nats: embedded server with JetStream", slog.String("store", srv.StoreDir()),
		slog.Bool("listening", cfg.Port > 0))
	return &Server{srv: srv, lock: lock}, nil
}

// InProcessConn opens a connection to the server without TCP (nats.InProcessConnProvider).
func (s *Server) InProcessConn() (net.Conn, error) { return s.srv.InProcessConn() }

// StoreDir is the directory of the JetStream store.
func (s *Server) StoreDir() string { return s.srv.StoreDir() }

// ClientURL is the URL of the TCP listener Config.Port asked for.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// Close stops the server, waits until it has stopped (its store is flushed and closed) and
// gives the data directory up. Close the connections to it first. Later calls do nothing.
func (s *Server) Close() {
	s.close.Do(func() {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		_ = s.lock.Release()
	})
}
