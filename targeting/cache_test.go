package targeting

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
)

func TestRuleCacheIsBoundedAndExpires(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newRuleCache(time.Minute, 3, func() time.Time { return now })
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New(), uuid.New()}
	for _, id := range ids[:3] {
		c.put(id, &Rule{ID: id}, false)
	}
	_, _, ok := c.get(ids[0]) // ids[0] is now the most recently used
	assert.True(t, ok)
	c.put(ids[3], nil, true) // a 404, cached too; evicts the least recently used: ids[1]
	assert.Equal(t, 3, c.len())
	_, _, ok = c.get(ids[1])
	assert.False(t, ok, "evicted")
	_, notFound, ok := c.get(ids[3])
	assert.True(t, ok)
	assert.True(t, notFound)

	now = now.Add(time.Minute)
	_, _, ok = c.get(ids[0])
	assert.False(t, ok, "expired after the TTL")

	var off *ruleCache // CacheTTL 0: no cache, every call a miss
	off.put(ids[0], &Rule{}, false)
	_, _, ok = off.get(ids[0])
	assert.False(t, ok)
}
