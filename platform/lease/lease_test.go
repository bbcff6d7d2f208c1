package lease_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/lease"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestOneHolderAtATime(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		ctx := context.Background()
		db := dbtest.Open(t, target)
		ts := "TIMESTAMP"
		if target.Name == "postgres" {
			ts = "TIMESTAMPTZ"
		}
		_, err := db.ExecContext(ctx, "CREATE TABLE test_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at "+ts+" NOT NULL)")
		require.NoError(t, err)
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
