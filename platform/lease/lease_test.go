package lease_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/lease"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// leaseDB is a database with the lease table of the package docs, test_leases.
func leaseDB(t *testing.T, target dbtest.Target) *bun.DB {
	t.Helper()
	db := dbtest.Open(t, target)
	ts := "TIMESTAMP"
	if target.Name == "postgres" {
		ts = "TIMESTAMPTZ"
	}
	_, err := db.ExecContext(context.Background(), "CREATE TABLE test_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at "+
		ts+" NOT NULL, token BIGINT NOT NULL DEFAULT 0)")
	require.NoError(t, err)
	return db
}

func TestOneHolderAtATime(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		ctx := context.Background()
		db := leaseDB(t, target)
		clk := &clock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
		a := lease.New(db, "test_leases", "job", lease.Config{TTL: 9 * time.Second, Now: clk.Now})
		b := lease.New(db, "test_leases", "job", lease.Config{TTL: 9 * time.Second, Now: clk.Now})
		other := lease.New(db, "test_leases", "another-job", lease.Config{TTL: 9 * time.Second, Now: clk.Now})
		hold := func(l *lease.Lease) bool {
			t.Helper()
			ok, err := l.Hold(ctx)
			require.NoError(t, err)
			return ok
		}

		assert.True(t, hold(a), "a free lease is taken")
		assert.False(t, hold(b), "a held lease is refused")
		assert.True(t, hold(other), "leases of other names are independent")

		// The holder renews it (at most once per Renewal) and keeps it past the first TTL.
		for range 4 {
			clk.Add(5 * time.Second)
			assert.True(t, hold(a))
			assert.False(t, hold(b))
		}

		// A holder that stops renewing loses it once it expires, not before.
		clk.Add(8 * time.Second)
		assert.False(t, hold(b))
		clk.Add(2 * time.Second)
		assert.True(t, hold(b), "an expired lease is taken over")
		clk.Add(a.Renewal())
		assert.False(t, hold(a), "the old holder learns it lost the lease at its next renewal")

		// Released, it is free at once.
		require.NoError(t, b.Release(ctx))
		assert.True(t, hold(a))
	})
}

// Each tenure has its own token: a new holder takes the next one, a holder that renews (even
// late, when nobody took the lease meanwhile) keeps its own, and a released lease's next
// holder follows on. A tenure that is over is refused by Check and by Confirm, which never
// resumes it.
func TestFencingTokens(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		ctx := context.Background()
		db := leaseDB(t, target)
		clk := &clock{now: time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)}
		cfg := lease.Config{TTL: 9 * time.Second, Now: clk.Now}
		a, b := lease.New(db, "test_leases", "job", cfg), lease.New(db, "test_leases", "job", cfg)
		hold := func(l *lease.Lease) lease.Fence {
			t.Helper()
			ok, err := l.Hold(ctx)
			require.NoError(t, err)
			require.True(t, ok)
			f, ok := l.Fence()
			require.True(t, ok)
			return f
		}

		fa := hold(a)
		assert.EqualValues(t, 1, fa.Token, "the first holder")
		require.NoError(t, fa.Check(ctx, db))
		_, held := b.Fence()
		assert.False(t, held, "b never held it")

		// a renews late: expired, but nobody took it meanwhile, so the tenure goes on.
		clk.Add(10 * time.Second)
		_, held = a.Fence()
		assert.False(t, held, "a knows its lease expired")
		require.NoError(t, fa.Check(ctx, db), "expired, but nobody else held it: its work may land")
		assert.Equal(t, fa, hold(a), "a late renewal keeps the token")

		// a pauses past its TTL; b takes over.
		clk.Add(10 * time.Second)
		fb := hold(b)
		assert.EqualValues(t, 2, fb.Token, "a new holder, the next token")
		assert.ErrorIs(t, fa.Check(ctx, db), lease.ErrFenced, "a's tenure is over")
		require.NoError(t, fb.Check(ctx, db))
		ok, err := a.Confirm(ctx, fa, time.Second)
		require.NoError(t, err)
		assert.False(t, ok, "a learns it lost the lease before it acts")

		// b is well within its tenure: Confirm answers without renewing; near its end it renews.
		ok, err = b.Confirm(ctx, fb, 3*time.Second)
		require.NoError(t, err)
		assert.True(t, ok)
		clk.Add(7 * time.Second)
		ok, err = b.Confirm(ctx, fb, 3*time.Second)
		require.NoError(t, err)
		assert.True(t, ok, "renewed under its token")
		clk.Add(8 * time.Second) // 15 s after b took it, 8 s after Confirm renewed it
		ok, err = a.Hold(ctx)
		require.NoError(t, err)
		assert.False(t, ok, "Confirm's renewal moved the expiry: a cannot take the lease")

		// Released, the lease is taken at once, with the next token; b's tenure is over.
		require.NoError(t, b.Release(ctx))
		fa2 := hold(a)
		assert.EqualValues(t, 3, fa2.Token)
		assert.ErrorIs(t, fb.Check(ctx, db), lease.ErrFenced)
		ok, err = b.Confirm(ctx, fb, 0)
		require.NoError(t, err)
		assert.False(t, ok)

		// A refused write makes the next Hold ask the database.
		a.Lost(fa2)
		_, held = a.Fence()
		assert.False(t, held)
		assert.Equal(t, fa2, hold(a), "still a's: the same tenure")
	})
}
