// Package natsx connects to NATS with JetStream: an external server or cluster, or a server in
// this process (see the embedded sub-package, which only those who run one link).
package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says where and how to connect. Zero fields take the defaults noted.
type Config struct {
	// URL is the external server or cluster (nats://host:4222; several separated by commas).
	URL string
	// InProcess is a server running in this process (an *embedded.Server, or nats-server's own
	// *server.Server): the connection goes to it without TCP, and URL, the credentials and TLS
	// play no part. The caller owns the server: it stops it after closing the connection.
	InProcess nats.InProcessConnProvider
	// Token, or else Username and Password, authenticate to the external server (default: none).
	Token    string
	Username string
	Password string
	// TLSCAFile verifies the external server's certificate (default: the system's roots);
	// TLSCertFile and TLSKeyFile are the client's certificate, for servers that require one.
	TLSCAFile   string
	TLSCertFile string
	TLSKeyFile  string
	// Name names the connection to the server (its monitoring shows it; default: none).
	Name string
	// Logger hears about disconnections and reconnections (default: discard).
	Logger *slog.Logger
}

// Conn is a NATS connection with its JetStream context.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect connects as cfg says. An external server that is down does not fail the start: the
// connection keeps retrying in the background, forever.
func Connect(_ context.Context, cfg Config) (*Conn, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil { // our own Close or Drain: a clean stop, nothing to warn about
				logger.Debug("nats connection closed")
				return
			}
			logger.Warn("nats disconnected", slog.Any("error", err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
	}
	if cfg.Name != "" {
		opts = append(opts, nats.Name(cfg.Name))
	}
	url := cfg.URL
	switch {
	case cfg.InProcess != nil:
		opts = append(opts, nats.InProcessServer(cfg.InProcess))
		url = "" // the in-process connection ignores the URL
	case url == "":
		return nil, errors.New("nats: connect: no server (set a URL, or an in-process server)")
	default:
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
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	return &Conn{NC: nc, JS: js}, nil
}

// Ready reports whether the connection is up.
func (c *Conn) Ready(context.Context) error {
	if st := c.NC.Status(); st != nats.CONNECTED {
		return fmt.Errorf("nats: %s", st)
	}
	return nil
}

// Close drains the connection (what it sent reaches the server, its subscriptions finish the
// messages they hold) for up to 5 s, then closes it. An in-process server is the caller's to
// stop, after this.
func (c *Conn) Close() {
	_ = c.NC.Drain()
	deadline := time.Now().Add(5 * time.Second)
	for !c.NC.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c.NC.Close()
}
