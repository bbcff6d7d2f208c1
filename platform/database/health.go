package database

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// poolHealth makes a pgx pool check its idle connections after a connection fault. When the
// server goes away (a restart, a failover, pg_terminate_backend), every idle connection of the
// pool is dead too, but nothing tells until a statement is sent on it; each would cost a
// request a retry. So when any connection of the pool meets a fault, every connection taken
// from the pool afterwards that has not been used since is pinged first (one round trip), and
// a dead one is replaced (database/sql retries on the driver.ErrBadConn the ping returns).
// Without a fault it costs nothing beyond pgx's own rule: a ping after a second idle.
type poolHealth struct {
	lastFault atomic.Int64 // UnixNano of the last fault seen, 0: none
}

func (h *poolHealth) fault() { h.lastFault.Store(time.Now().UnixNano()) }

// shouldPing is pgx's ShouldPing: its default (idle more than a second), or the connection was
// last taken before the last fault.
func (h *poolHealth) shouldPing(_ context.Context, p stdlib.ShouldPingParams) bool {
	if p.IdleDuration > time.Second {
		return true
	}
	last := h.lastFault.Load()
	return last != 0 && time.Now().Add(-p.IdleDuration).UnixNano() <= last
}

// watch has cfg report the faults of its connections to h: a FATAL error from the server
// (57P01 on pg_terminate_backend or a shutdown, 57P02...) and a read that fails on the socket
// (the server or the network closed it). It keeps cfg's own handlers.
func (h *poolHealth) watch(cfg *pgx.ConnConfig) {
	onPgError := cfg.OnPgError
	cfg.OnPgError = func(c *pgconn.PgConn, e *pgconn.PgError) bool {
		if sqlerr.IsConnFault(e) {
			h.fault()
		}
		return onPgError == nil || onPgError(c, e)
	}
	afterNetConnect := cfg.AfterNetConnect
	cfg.AfterNetConnect = func(ctx context.Context, c *pgconn.Config, conn net.Conn) (net.Conn, error) {
		if afterNetConnect != nil {
			var err error
			if conn, err = afterNetConnect(ctx, c, conn); err != nil {
				return nil, err
			}
		}
		return &watchedConn{Conn: conn, health: h}, nil
	}
}

// watchedConn reports a failed read to its pool's health. A deadline that passed is not a
// fault (pgx sets one to cancel a statement whose context ended), nor a read on a connection
// pgx closed itself.
type watchedConn struct {
	net.Conn
	health *poolHealth
}

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
		c.health.fault()
	}
	return n, err
}
