package database

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/uptrace/bun"
)

// Warm opens n connections of db's pool at once and leaves them idle (n is at most the pool's
// idle size to be useful), so that the first burst of requests after a start finds them open
// instead of each opening its own: a PostgreSQL connection costs a TCP handshake, the
// authentication and a new server process.
//
// With hot, it then runs hot on each of the n connections in turn: it hands one back to the
// pool while it holds the others, so the pool has only that one to give to hot's statements.
// On pgx, whose statement cache prepares a statement on a connection the first time it runs
// there (see Prepared), every connection has then prepared the hot statements: the first
// requests a connection serves do not each pay for a Parse and a plan, which is what made the
// first second after a start slow. hot must run its statements one after the other.
func Warm(ctx context.Context, db *bun.DB, n int, hot func(ctx context.Context) error) error {
	conns := make(chan error, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var held []*sql.Conn
	for range n {
		wg.Go(func() {
			c, err := db.DB.Conn(ctx)
			if err == nil {
				err = c.PingContext(ctx)
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
			conns <- err
		})
	}
	wg.Wait()
	close(conns)
	defer func() {
		for _, c := range held {
			if c != nil {
				_ = c.Close() // back to the pool, idle
			}
		}
	}()
	for err := range conns {
		if err != nil {
			return fmt.Errorf("database: warm the pool: %w", err)
		}
	}
	if hot == nil {
		return nil
	}
	for i, c := range held {
		_ = c.Close() // the only idle connection: hot's statements run on it
		held[i] = nil
		if err := hot(ctx); err != nil {
			return fmt.Errorf("database: warm the pool: the hot statements: %w", err)
		}
		again, err := db.DB.Conn(ctx) // take it again: the only idle one
		if err != nil {
			return fmt.Errorf("database: warm the pool: %w", err)
		}
		held[i] = again
	}
	return nil
}
