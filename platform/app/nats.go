package app

import (
	"context"
	"log/slog"

	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/embedded"
)

// natsConfig is the nats section as natsx takes it (the in-process server aside).
func natsConfig(cfg config.NATS, name string, logger *slog.Logger) natsx.Config {
	return natsx.Config{
		URL: cfg.URL, Token: cfg.Token, Username: cfg.Username, Password: cfg.Password,
		TLSCAFile: cfg.TLSCAFile, TLSCertFile: cfg.TLSCertFile, TLSKeyFile: cfg.TLSKeyFile,
		Name: name, Logger: logger,
	}
}

// natsLink is the process's NATS connection and the embedded server it goes to, if it started
// one: close releases them in that order.
type natsLink struct {
	conn   *natsx.Conn
	server *embedded.Server // nil on an external NATS
}

// connectNATS connects to nats.url, or, without one, to an embedded server it starts on the
// data dir (which the server holds until close: a second process on it is refused with a
// *datadir.InUseError).
func connectNATS(ctx context.Context, cfg *config.Config, name string, logger *slog.Logger) (natsLink, error) {
	ncfg := natsConfig(cfg.NATS, name, logger)
	var srv *embedded.Server
	if cfg.NATS.URL == "" {
		var err error
		srv, err = embedded.Start(ctx, embedded.Config{DataDir: cfg.DataDir, Port: cfg.NATS.EmbeddedPort, Logger: logger})
		if err != nil {
			return natsLink{}, err
		}
		ncfg.InProcess = srv
	}
	nc, err := natsx.Connect(ctx, ncfg)
	if err != nil {
		if srv != nil {
			srv.Close()
		}
		return natsLink{}, err
	}
	return natsLink{conn: nc, server: srv}, nil
}

// close drains and closes the connection, then stops the embedded server.
func (l natsLink) close() {
	l.conn.Close()
	if l.server != nil {
		l.server.Close()
	}
}
