// Package natsx connects to NATS: an external server or cluster (NATS_URL), or an in-process
// server with JetStream that stores under the data directory, for the embedded default.
package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/datadir"
)

// Conn is a NATS connection with its JetStream context, and the embedded server when there
// is one.
type Conn struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	server *server.Server
	lock   *datadir.Lock // the data dir the embedded server stores in
}

// Connect connects as the configuration says. An external server that is down does not fail
// the start: the connection keeps retrying in the background, forever.
//
// The embedded server's store belongs to one process: Connect holds the data dir (a lock file
// in it) until Close, and fails with a *datadir.InUseError when another process holds it.
func Connect(ctx context.Context, cfg config.NATS, dataDir, name string, logger *slog.Logger) (*Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Warn("nats disconnected", slog.Any("error", err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
	}
	var srv *server.Server
	var lock *datadir.Lock
	url := cfg.URL
	if url == "" {
		var err error
		if lock, err = datadir.Acquire(dataDir); err != nil {
			return nil, fmt.Errorf("nats: embedded server: %w", err)
		}
		if srv, err = startEmbedded(cfg, dataDir); err != nil {
			_ = lock.Release()
			return nil, err
		}
		opts = append(opts, nats.InProcessServer(srv))
		url = "" // the in-process connection ignores the URL
	} else {
		switch {
		case cfg.Token != "":
			opts = append(opts, nats.Token(cfg.Token))
		case cfg.Username != "":
			opts = append(opts, nats.UserInfo(cfg.Username, cfg.Password))
		}
		if cfg.TLSCAFile != "" {
			opts = append(opts, nats.RootCAs(cfg.TLSCAFile))
		}
		if cfg.TLSCertFile != "" {
			opts = append(opts, nats.ClientCert(cfg.TLSCertFile, cfg.TLSKeyFile))
		}
	}
	stopEmbedded := func() {
		if srv != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
			_ = lock.Release()
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		stopEmbedded()
		return nil, fmt.Errorf("nats: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		stopEmbedded()
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	if srv != nil {
		logger.Info("nats: embedded server with JetStream", slog.String("store", srv.StoreDir()),
			slog.Bool("listening", cfg.EmbeddedPort > 0))
	}
	return &Conn{NC: nc, JS: js, server: srv, lock: lock}, nil
}

func startEmbedded(cfg config.NATS, dataDir string) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "campaigns-embedded",
		JetStream:  true,
		StoreDir:   filepath.Join(dataDir, "nats"),
		NoSigs:     true,
		NoLog:      true,
		DontListen: cfg.EmbeddedPort <= 0, // never clash with a NATS already on this machine
		Host:       "127.0.0.1",
		Port:       cfg.EmbeddedPort,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats: embedded server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("nats: embedded server did not start within 30s")
	}
	return srv, nil
}

// Ready reports whether the connection is up.
func (c *Conn) Ready(context.Context) error {
	if st := c.NC.Status(); st != nats.CONNECTED {
		return fmt.Errorf("nats: %s", st)
	}
	return nil
}

// Close drains the connection, stops the embedded server and gives its data dir up.
func (c *Conn) Close() {
	_ = c.NC.Drain()
	deadline := time.Now().Add(5 * time.Second)
	for !c.NC.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c.NC.Close()
	if c.server != nil {
		c.server.Shutdown()
		c.server.WaitForShutdown()
		_ = c.lock.Release()
	}
}
