package ratelimit_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/ratelimit"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestBurstThenWaitThenRecover(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	l := ratelimit.New(ratelimit.Config{Rate: 2, Burst: 3, IdleTimeout: time.Minute, MaxClients: 100, Now: clk.Now})
	for i := range 3 {
		ok, _ := l.Allow("alice")
		require.True(t, ok, "request %d is within the burst", i)
	}
	ok, wait := l.Allow("alice")
	require.False(t, ok)
	assert.Equal(t, 500*time.Millisecond, wait, "one token every 1/rate seconds")
	ok, _ = l.Allow("bob")
	assert.True(t, ok, "each caller has its own bucket")

	// A refused request takes no token: waiting the announced time is enough.
	clk.Add(wait)
	ok, _ = l.Allow("alice")
	assert.True(t, ok)
	ok, _ = l.Allow("alice")
	assert.False(t, ok)
	clk.Add(2 * time.Second)
	for range 3 {
		ok, _ = l.Allow("alice")
		assert.True(t, ok, "the bucket refills up to the burst")
	}
}

func TestIdleBucketsAreForgotten(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	l := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1, IdleTimeout: time.Minute, MaxClients: 1 << 20, Now: clk.Now})
	for i := range 1000 {
		l.Allow(fmt.Sprint("client-", i))
	}
	require.Equal(t, 1000, l.Len())
	clk.Add(2 * time.Minute)
	// New callers trigger the sweeps of their shards. The shard of a key depends on a random
	// hash seed; with 1000 callers the chance that one of the 16 shards gets none is below 1e-26.
	for i := range 1000 {
		l.Allow(fmt.Sprint("late-", i))
	}
	assert.Equal(t, 1000, l.Len(), "every idle bucket was dropped, only the late callers remain")
}

func TestMemoryIsBounded(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	l := ratelimit.New(ratelimit.Config{Rate: 1000, Burst: 1000, IdleTimeout: time.Hour, MaxClients: 160, Now: clk.Now})
	for i := range 10_000 {
		l.Allow(fmt.Sprint("ip-", i))
	}
	assert.LessOrEqual(t, l.Len(), 160, "beyond max clients, new callers share an overflow bucket")
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "ip:203.0.113.7", ratelimit.ClientKey("203.0.113.7"))
	assert.Equal(t, "ip:2001:db8:1:2::/64", ratelimit.ClientKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"))
	assert.Equal(t, ratelimit.ClientKey("2001:db8:1:2::1"), ratelimit.ClientKey("2001:db8:1:2::2"), "one /64 is one client")
	assert.Equal(t, "ip:203.0.113.7", ratelimit.ClientKey("::ffff:203.0.113.7"))
}

// A zero Config takes the service's defaults: a burst of 100, then a token every 1/50 s.
func TestConfigZeroFieldsAreTheDefaults(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	l := ratelimit.New(ratelimit.Config{Now: clk.Now})
	for i := range 100 {
		ok, _ := l.Allow("alice")
		require.True(t, ok, "request %d is within the burst", i)
	}
	ok, wait := l.Allow("alice")
	assert.False(t, ok)
	assert.Equal(t, 20*time.Millisecond, wait)
}
