package database

import (
	"context"
	"fmt"
	"sync"

	"github.com/uptrace/bun"
)

// Warm opens n connections of db's pool at once and leaves them idle (n is at most the pool's
// idle size to be useful), so that the first burst of requests after a start finds them open
// instead of each opening its own: a PostgreSQL connection costs a TCP handshake, the
// authentication and a new server process.
func Warm(ctx context.Context, db *bun.DB, n int) error {
	conns := make(chan error, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var held []interface{ Close() error }
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
	for _, c := range held {
		_ = c.Close() // back to the pool, idle
	}
	for err := range conns {
		if err != nil {
			return fmt.Errorf("database: warm the pool: %w", err)
		}
	}
	return nil
}
