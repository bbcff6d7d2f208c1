package metrics

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// fakeCampaigns serves one campaign whose budget currency says which version was read; block,
// when set, holds each read until it is closed.
type fakeCampaigns struct {
	reads    atomic.Int64
	currency atomic.Value // string; "" = deleted
	block    chan struct{}
	started  chan struct{}
}

func (f *fakeCampaigns) get(ctx context.Context, id campaign.ID) (*campaign.View, error) {
	f.reads.Add(1)
	cur := f.currency.Load().(string)
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.block != nil {
		<-f.block
	}
	if cur == "" {
		return nil, campaign.ErrNotFound
	}
	c, err := campaign.Rehydrate(campaign.RehydrateParams{
		ID: id, Name: "Fake", Status: "DRAFT", Type: campaign.TypePromotion,
		StartDate: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Budget: campaign.Money{Currency: cur},
		CreatedBy: campaign.UserID(campaign.NewID()), CreatedAt: time.Now(), UpdatedAt: time.Now(), Version: 1,
		Settings: campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}, Frequency: campaign.FrequencyOnce},
	})
	if err != nil {
		return nil, err
	}
	return campaign.NewView(c, lifecycle.Delivered{}), nil
}

type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.t.Add(int64(d)) }
func newFake(currency string) *fakeCampaigns {
	f := &fakeCampaigns{}
	f.currency.Store(currency)
	return f
}
func must(t *testing.T, tc *targetCache, id campaign.ID) Target {
	t.Helper()
	got, err := tc.target(context.Background(), id)
	require.NoError(t, err)
	return got
}

func TestTargetCacheReadsOnceWithinTTL(t *testing.T) {
	f, clk := newFake("EUR"), &fakeClock{}
	tc := newTargetCache(f.get, time.Second, clk.now)
	id := campaign.NewID()
	for range 5 {
		assert.Equal(t, "EUR", must(t, tc, id).Currency)
	}
	assert.EqualValues(t, 1, f.reads.Load())

	f.currency.Store("USD") // changed without notice: the TTL bounds it
	clk.advance(999 * time.Millisecond)
	assert.Equal(t, "EUR", must(t, tc, id).Currency)
	clk.advance(time.Millisecond)
	assert.Equal(t, "USD", must(t, tc, id).Currency)
	assert.EqualValues(t, 2, f.reads.Load())
}

func TestTargetCacheForget(t *testing.T) {
	f, clk := newFake("EUR"), &fakeClock{}
	tc := newTargetCache(f.get, time.Hour, clk.now)
	id, other := campaign.NewID(), campaign.NewID()
	must(t, tc, id)
	must(t, tc, other)
	f.currency.Store("USD")
	tc.forget([16]byte(id))
	assert.Equal(t, "USD", must(t, tc, id).Currency, "forgotten: read again")
	assert.Equal(t, "EUR", must(t, tc, other).Currency, "the other campaign stays")
	tc.forgetAll()
	assert.Equal(t, "USD", must(t, tc, other).Currency)

	f.currency.Store("") // deleted: not found, and not cached
	tc.forget([16]byte(id))
	_, err := tc.target(context.Background(), id)
	require.ErrorIs(t, err, campaign.ErrNotFound)
	f.currency.Store("GBP")
	assert.Equal(t, "GBP", must(t, tc, id).Currency)
}

// A read that began before a change must not store what it read once the change is announced.
func TestTargetCacheReadRacingAChange(t *testing.T) {
	for _, all := range []bool{false, true} {
		f, clk := newFake("EUR"), &fakeClock{}
		f.block, f.started = make(chan struct{}), make(chan struct{}, 1)
		tc := newTargetCache(f.get, time.Hour, clk.now)
		id := campaign.NewID()
		done := make(chan Target)
		go func() { done <- must(t, tc, id) }()
		<-f.started // the read has the old version
		f.currency.Store("USD")
		if all {
			tc.forgetAll()
		} else {
			tc.forget([16]byte(id))
		}
		close(f.block)
		assert.Equal(t, "EUR", (<-done).Currency, "the racing read answers what it read")
		f.block, f.started = nil, nil
		assert.Equal(t, "USD", must(t, tc, id).Currency, "but did not keep it (forgetAll: %v)", all)
	}
}

func TestTargetCacheOff(t *testing.T) {
	f := newFake("EUR")
	tc := newTargetCache(f.get, -1, time.Now)
	id := campaign.NewID()
	must(t, tc, id)
	must(t, tc, id)
	assert.EqualValues(t, 2, f.reads.Load())
}

// Forgetting campaigns the cache does not hold (a PUT on an unknown id, every domain event of
// an import) leaves nothing behind: the cache stays as big as what it holds.
func TestTargetCacheForgetUnknownStaysBounded(t *testing.T) {
	f, clk := newFake("EUR"), &fakeClock{}
	tc := newTargetCache(f.get, time.Hour, clk.now)
	id := campaign.NewID()
	must(t, tc, id)
	for range maxTargets + 10 {
		tc.forget(uuid.New())
	}
	f.currency.Store("") // reads of unknown campaigns leave nothing either
	for range 100 {
		_, err := tc.target(context.Background(), campaign.NewID())
		require.ErrorIs(t, err, campaign.ErrNotFound)
	}
	f.currency.Store("EUR")
	tc.mu.Lock()
	held, reading := len(tc.entries), len(tc.reading)
	tc.mu.Unlock()
	assert.Equal(t, 1, held, "only the campaign read is held")
	assert.Zero(t, reading)
	must(t, tc, id)
	assert.EqualValues(t, 1+100, f.reads.Load(), "the campaign held is still served from the cache")
}

// A read that began before a change and ends after a newer read stored the changed campaign
// does not overwrite it.
func TestTargetCacheOldReadDoesNotOverwriteNewer(t *testing.T) {
	clk := &fakeClock{}
	var currency atomic.Value
	currency.Store("EUR")
	var reads atomic.Int64
	started, release := make(chan string, 2), make(chan struct{})
	get := func(ctx context.Context, id campaign.ID) (*campaign.View, error) {
		reads.Add(1)
		cur := currency.Load().(string)
		started <- cur
		if cur == "EUR" {
			<-release // the old version's read is held until the new one is stored
		}
		f := newFake(cur)
		f.reads.Add(-1)
		return f.get(ctx, id)
	}
	tc := newTargetCache(get, time.Hour, clk.now)
	id := campaign.NewID()
	old := make(chan Target)
	go func() { old <- must(t, tc, id) }()
	require.Equal(t, "EUR", <-started)
	currency.Store("USD")
	tc.forget([16]byte(id))
	assert.Equal(t, "USD", must(t, tc, id).Currency, "a request after the change reads it")
	require.Equal(t, "USD", <-started)
	close(release)
	assert.Equal(t, "EUR", (<-old).Currency, "the old read answers what it read")
	assert.Equal(t, "USD", must(t, tc, id).Currency, "and leaves the newer entry in place")
	assert.EqualValues(t, 2, reads.Load(), "the newer entry serves from the cache")
}

// A request that comes after a change does not share a read that began before it.
func TestTargetCacheRequestAfterChangeReadsAgain(t *testing.T) {
	for _, all := range []bool{false, true} {
		f, clk := newFake("EUR"), &fakeClock{}
		f.block, f.started = make(chan struct{}), make(chan struct{}, 2)
		tc := newTargetCache(f.get, time.Hour, clk.now)
		id := campaign.NewID()
		old := make(chan Target)
		go func() { old <- must(t, tc, id) }()
		<-f.started
		f.currency.Store("USD")
		if all {
			tc.forgetAll()
		} else {
			tc.forget([16]byte(id))
		}
		fresh := make(chan Target)
		go func() { fresh <- must(t, tc, id) }()
		select {
		case <-f.started: // a second read began: the request did not join the first
		case <-time.After(5 * time.Second):
			close(f.block)
			t.Fatalf("the request after the change joined the read before it (forgetAll: %v)", all)
		}
		close(f.block)
		assert.Equal(t, "EUR", (<-old).Currency)
		assert.Equal(t, "USD", (<-fresh).Currency, "forgetAll: %v", all)
		assert.EqualValues(t, 2, f.reads.Load())
	}
}

// Past half its TTL an entry still serves at once and is read again in the background: a
// request never waits for the read that renews an entry it holds, and what that read finds
// serves next.
func TestTargetCacheRefreshesAheadWithoutWaiting(t *testing.T) {
	f, clk := newFake("EUR"), &fakeClock{}
	tc := newTargetCache(f.get, time.Second, clk.now)
	id := campaign.NewID()
	assert.Equal(t, "EUR", must(t, tc, id).Currency)

	f.currency.Store("USD")
	f.block, f.started = make(chan struct{}), make(chan struct{}, 1)
	clk.advance(600 * time.Millisecond)
	assert.Equal(t, "EUR", must(t, tc, id).Currency, "served from the cache while the read is held")
	<-f.started // the refresh runs
	assert.Equal(t, "EUR", must(t, tc, id).Currency, "one refresh at a time; the entry still serves")
	close(f.block)
	require.Eventually(t, func() bool { return must(t, tc, id).Currency == "USD" }, 5*time.Second, time.Millisecond)
	assert.EqualValues(t, 2, f.reads.Load())
}
