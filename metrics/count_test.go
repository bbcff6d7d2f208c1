package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
)

// countingCampaigns answers GetMany from a fixed set and records what it was asked.
type countingCampaigns struct {
	known map[campaign.ID]*campaign.View
	asked [][]campaign.ID
}

func (c *countingCampaigns) GetMany(_ context.Context, ids []campaign.ID) (map[campaign.ID]*campaign.View, error) {
	c.asked = append(c.asked, ids)
	out := map[campaign.ID]*campaign.View{}
	for _, id := range ids {
		if x, ok := c.known[id]; ok {
			out[id] = x
		}
	}
	return out, nil
}

// stored is a campaign as the campaign store would return it.
func stored(t *testing.T, id campaign.ID, budget campaign.Money) *campaign.View {
	t.Helper()
	c, err := campaign.Rehydrate(campaign.RehydrateParams{
		ID: id, Status: lifecycle.StatusDraft, Type: campaign.TypePromotion, Budget: budget, Version: 1,
	})
	require.NoError(t, err)
	return campaign.NewView(c, lifecycle.Delivered{})
}

// A batch names the same campaigns many times: each is looked up once, then served from the
// cache until it expires; unknown campaigns are cached as such.
func TestTargetsLookEachCampaignUpOnce(t *testing.T) {
	a, b, unknown := campaign.ID(uuid.New()), campaign.ID(uuid.New()), campaign.ID(uuid.New())
	src := &countingCampaigns{known: map[campaign.ID]*campaign.View{
		a: stored(t, a, campaign.MustMoney("1", "EUR")), b: stored(t, b, campaign.MustMoney("1", "USD")),
	}}
	tg := newTargets(src, time.Minute)
	ids := []uuid.UUID{uuid.UUID(a), uuid.UUID(b), uuid.UUID(a), uuid.UUID(unknown), uuid.UUID(b), uuid.UUID(unknown)}
	now := time.Now()
	got, err := tg.get(context.Background(), ids, now)
	require.NoError(t, err)
	require.Len(t, src.asked, 1)
	assert.ElementsMatch(t, []campaign.ID{a, b, unknown}, src.asked[0], "each campaign once")
	assert.Len(t, got, 3)
	assert.Equal(t, "EUR", got[uuid.UUID(a)].target.Currency)
	assert.Equal(t, "USD", got[uuid.UUID(b)].target.Currency)
	assert.False(t, got[uuid.UUID(unknown)].found)

	_, err = tg.get(context.Background(), ids, now.Add(30*time.Second))
	require.NoError(t, err)
	assert.Len(t, src.asked, 1, "served from the cache")
	_, err = tg.get(context.Background(), ids[:1], now.Add(2*time.Minute))
	require.NoError(t, err)
	require.Len(t, src.asked, 2, "expired entries are looked up again")
	assert.Equal(t, []campaign.ID{a}, src.asked[1])
}
