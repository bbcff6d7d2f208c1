package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/sqlerr"
)

// Attempts is how many times RunInTx and Retry run their work before they give up on a
// connection fault: the first run and three retries. The waits between them (about 10, 40 and
// 160 ms) let the pool open fresh connections after the server killed its own; a server that is
// restarting takes longer, and the caller gets the fault (503 over HTTP) well before its
// deadline.
const Attempts = 4

// backoff is the wait before retry n (1, 2, 3...): 10 ms times 4^(n-1), with up to half of
// it again at random so that the requests a fault broke at once do not come back at once.
func backoff(n int) time.Duration {
	d := 10 * time.Millisecond << (2 * (n - 1))
	return d + rand.N(d/2+1)
}

// wait sleeps before retry n, or returns the context's error.
func wait(ctx context.Context, n int) error {
	t := time.NewTimer(backoff(n))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RunInTx runs fn in a transaction of db, as db.RunInTx does, and runs it again in a fresh
// transaction (on a fresh connection) when it failed on a connection fault
// (sqlerr.IsConnFault) before COMMIT was sent: at BEGIN, or in fn, whose transaction then
// cannot have committed. It tries at most Attempts times, then returns the last error.
//
// A COMMIT that failed on a connection fault after it was sent is not run again: the
// transaction may have committed. Its error wraps sqlerr.ErrCommitUnknown (and the driver's).
//
// fn must therefore be safe to run more than once: everything it does goes through tx, or is
// done again harmlessly (reads, values it computes). Over a bun.Tx (a host's transaction) it
// runs fn once in a savepoint, as bun does: a fault there has broken the host's transaction,
// which only the host can run again.
func RunInTx(ctx context.Context, db bun.IDB, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx) error) error {
	return runInTx(ctx, db, opts, fn, Attempts)
}

// RunInTxOnce is RunInTx for an fn that is not safe to run again: it runs fn once, and only
// tells a COMMIT of unknown outcome (sqlerr.ErrCommitUnknown) from a fault that left nothing
// committed.
func RunInTxOnce(ctx context.Context, db bun.IDB, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx) error) error {
	return runInTx(ctx, db, opts, fn, 1)
}

func runInTx(ctx context.Context, db bun.IDB, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx) error, attempts int) error {
	switch db.(type) {
	case bun.Tx, *bun.Tx:
		return db.RunInTx(ctx, opts, fn)
	}
	for attempt := 1; ; attempt++ {
		committing := false
		err := db.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
			if err := fn(ctx, tx); err != nil {
				return err
			}
			committing = true // bun commits as soon as fn returns nil
			return nil
		})
		switch {
		case err == nil:
			return nil
		case errors.Is(err, sqlerr.ErrCommitUnknown):
			return err // a transaction fn waited on may have committed: fn is not run again
		case committing && !sqlerr.IsUnsent(err):
			if sqlerr.IsConnFault(err) {
				return fmt.Errorf("%w: %w", sqlerr.ErrCommitUnknown, err)
			}
			return err
		case !sqlerr.IsConnFault(err) || attempt >= attempts:
			return err
		}
		if werr := wait(ctx, attempt); werr != nil {
			return err
		}
	}
}

// Retry runs read, and runs it again on a connection fault (sqlerr.IsConnFault), at most
// Attempts times in all; it returns read's last error. read must be safe to run more than
// once: a read, or a write that is harmless to repeat. Over a pool each run takes a
// connection of its own, so a retry does not meet the connection that failed.
func Retry(ctx context.Context, read func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := read(ctx)
		if err == nil || !sqlerr.IsConnFault(err) || errors.Is(err, sqlerr.ErrCommitUnknown) || attempt == Attempts {
			return err
		}
		if werr := wait(ctx, attempt); werr != nil {
			return err
		}
	}
}
