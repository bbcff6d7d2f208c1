package bunstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

var (
	sets  = bunstore.Schema()
	base  = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	alice = campaigntest.Alice
	bob   = campaigntest.Bob
)

// replace stores c's fields with edit applied, provided its version is still expected.
func replace(ctx context.Context, repo *bunstore.Store, c *campaign.Campaign, expected int64, edit func(*campaign.Input)) error {
	_, err := repo.Update(ctx, c.ID(), &expected, func(cur *campaign.Campaign) (campaign.Change, error) {
		in := campaigntest.InputOf(c)
		edit(&in)
		return cur.Replace(in, base)
	})
	return err
}

// softDelete deletes the campaign id, provided its version is still expected.
func softDelete(ctx context.Context, repo *bunstore.Store, id campaign.ID, expected int64, at time.Time) error {
	_, err := repo.Update(ctx, id, &expected, func(c *campaign.Campaign) (campaign.Change, error) {
		return c.MarkDeleted(at)
	})
	return err
}

func TestRepositoryContract(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		t.Run("create and get round-trip every field", func(t *testing.T) { testRoundTrip(t, db) })
		t.Run("names are unique among live campaigns, case-insensitively", func(t *testing.T) { testNameConflict(t, db) })
		t.Run("optimistic locking", func(t *testing.T) { testOptimisticLock(t, db) })
		t.Run("soft delete frees the name", func(t *testing.T) { testSoftDelete(t, db) })
		t.Run("list filters", func(t *testing.T) { testListFilters(t, db) })
		t.Run("keyset paging", func(t *testing.T) { testKeysetPaging(t, db) })
		t.Run("pacing settings round-trip; a campaign without them reads as none", func(t *testing.T) { testPacingRoundTrip(t, db) })
	})
}

func testPacingRoundTrip(t *testing.T, db *bun.DB) {
	ctx := context.Background()
	repo := bunstore.New(db)
	c := campaigntest.Fixture("Paced round trip", base)
	require.NoError(t, repo.Create(ctx, c, campaigntest.Created(c)))
	got, err := repo.Get(ctx, c.ID())
	require.NoError(t, err)
	assert.Nil(t, got.Settings().Pacing, "stored without pacing: none (ASAP over the flight)")
	assert.Nil(t, got.PacingWith(nil))

	daily := campaign.MustMoney("250.50", "EUR")
	require.NoError(t, replace(ctx, repo, c, 1, func(in *campaign.Input) {
		in.Settings.Pacing = &campaign.Pacing{Mode: lifecycle.PacingFrontLoaded, Period: lifecycle.PeriodDaily,
			DailyBudget: &daily, Timezone: "Asia/Kolkata"}
	}))
	got, err = repo.Get(ctx, c.ID())
	require.NoError(t, err)
	p := got.Settings().Pacing
	require.NotNil(t, p)
	assert.Equal(t, lifecycle.PacingFrontLoaded, p.Mode)
	assert.Equal(t, lifecycle.PeriodDaily, p.Period)
	assert.Equal(t, "Asia/Kolkata", p.Timezone)
	require.NotNil(t, p.DailyBudget)
	assert.Equal(t, "250.50 EUR", p.DailyBudget.String(), "exact, in the budget's currency")
	plan := got.PacingWith(nil)
	require.NotNil(t, plan)
	assert.Equal(t, "Asia/Kolkata", plan.Location.String())
	assert.Equal(t, "250.5", plan.Budget.String())
}

func testRoundTrip(t *testing.T, db *bun.DB) {
	ctx := context.Background()
	repo := bunstore.New(db)
	c := campaigntest.Fixture("Round trip", base.Add(123456*time.Microsecond))
	require.NoError(t, repo.Create(ctx, c, campaigntest.Created(c)))

	got, err := repo.Get(ctx, c.ID())
	require.NoError(t, err)
	assert.Equal(t, c.ID(), got.ID())
	assert.Equal(t, c.Name(), got.Name())
	assert.Equal(t, c.Description(), got.Description())
	assert.Equal(t, c.Status(), got.Status())
	assert.Equal(t, c.Type(), got.Type())
	assert.Equal(t, c.TargetingRules(), got.TargetingRules())
	assert.True(t, c.StartDate().Equal(got.StartDate()), "start %s vs %s", c.StartDate(), got.StartDate())
	require.NotNil(t, got.EndDate())
	assert.True(t, c.EndDate().Equal(*got.EndDate()))
	assert.True(t, c.Budget().Amount.Equal(got.Budget().Amount), "budget %s", got.Budget())
	assert.Equal(t, "EUR", got.Budget().Currency)
	assert.Equal(t, c.CreatedBy(), got.CreatedBy())
	assert.True(t, c.CreatedAt().Equal(got.CreatedAt()))
	assert.Equal(t, c.Version(), got.Version())
	assert.Nil(t, got.DeletedAt())
	cs, gs := c.Settings(), got.Settings()
	assert.Equal(t, cs.Channels, gs.Channels)
	assert.Equal(t, cs.ABTest, gs.ABTest)
	assert.Equal(t, cs.SchedulingRules, gs.SchedulingRules)
	assert.Equal(t, cs.Personalization, gs.Personalization)
	assert.Equal(t, *cs.MaxImpressions, *gs.MaxImpressions)
	assert.True(t, cs.BudgetLimit.Amount.Equal(gs.BudgetLimit.Amount))

	_, err = repo.Get(ctx, campaign.NewID())
	assert.ErrorIs(t, err, campaign.ErrNotFound)
}

func testNameConflict(t *testing.T, db *bun.DB) {
	ctx := context.Background()
	repo := bunstore.New(db)
	summer := campaigntest.Fixture("Summer Sale", base)
	require.NoError(t, repo.Create(ctx, summer, campaigntest.Created(summer)))
	for _, name := range []string{"Summer Sale", "summer sale", "SUMMER SALE"} {
		c := campaigntest.Fixture(name, base)
		err := repo.Create(ctx, c, campaigntest.Created(c))
		assert.ErrorIs(t, err, campaign.ErrNameTaken, name)
	}
	other := campaigntest.Fixture("Winter Sale", base)
	require.NoError(t, repo.Create(ctx, other, campaigntest.Created(other)))
	assert.ErrorIs(t, replace(ctx, repo, other, 1, func(in *campaign.Input) { in.Name = "summer SALE" }),
		campaign.ErrNameTaken, "rename onto a taken name")
}

func testOptimisticLock(t *testing.T, db *bun.DB) {
	ctx := context.Background()
	repo := bunstore.New(db)
	c := campaigntest.Fixture("Locked", base)
	require.NoError(t, repo.Create(ctx, c, campaigntest.Created(c)))

	require.NoError(t, replace(ctx, repo, c, 1, func(in *campaign.Input) { in.Description = "first writer" }))
	assert.ErrorIs(t, replace(ctx, repo, c, 1, func(in *campaign.Input) { in.Description = "second writer, stale" }),
		campaign.ErrVersionConflict)

	got, err := repo.Get(ctx, c.ID())
	require.NoError(t, err)
	assert.Equal(t, "first writer", got.Description(), "the stale write must not land")
	assert.Equal(t, int64(2), got.Version())

	gone := campaigntest.Fixture("Never stored", base)
	assert.ErrorIs(t, replace(ctx, repo, gone, 1, func(*campaign.Input) {}), campaign.ErrNotFound)
}

func testSoftDelete(t *testing.T, db *bun.DB) {
	ctx := context.Background()
	repo := bunstore.New(db)
	c := campaigntest.Fixture("Reusable Name", base)
	require.NoError(t, repo.Create(ctx, c, campaigntest.Created(c)))

	assert.ErrorIs(t, softDelete(ctx, repo, c.ID(), 7, base), campaign.ErrVersionConflict)
	require.NoError(t, softDelete(ctx, repo, c.ID(), 1, base.Add(time.Hour)))
	_, err := repo.Get(ctx, c.ID())
	assert.ErrorIs(t, err, campaign.ErrNotFound)
	assert.ErrorIs(t, softDelete(ctx, repo, c.ID(), 2, base), campaign.ErrNotFound)

	page, _, err := list(ctx, repo, campaign.Filter{Query: "Reusable", Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, page, "a deleted campaign leaves the list")

	// The row (and so its history) stays; only live rows hold the name.
	n, err := db.NewSelect().Table("campaigns").Where("id = ?", uuid.UUID(c.ID())).Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	again := campaigntest.Fixture("reusable name", base)
	require.NoError(t, repo.Create(ctx, again, campaigntest.Created(again)))
}

func testListFilters(t *testing.T, db *bun.DB) {
	ctx := context.Background()
	repo := bunstore.New(db)
	mk := func(name string, mut func(*campaign.RehydrateParams)) campaign.ID {
		c := campaigntest.Fixture(name, base, mut)
		require.NoError(t, repo.Create(ctx, c, campaigntest.Created(c)))
		return c.ID()
	}
	active := mk("Filter Active", func(c *campaign.RehydrateParams) { c.Status = lifecycle.StatusActive })
	paused := mk("Filter Paused", func(c *campaign.RehydrateParams) { c.Status = lifecycle.StatusPaused })
	loyalty := mk("Filter Loyalty", func(c *campaign.RehydrateParams) { c.Type = campaign.TypeLoyalty })
	sms := mk("Filter SMS", func(c *campaign.RehydrateParams) {
		c.Settings.Channels = []campaign.Channel{campaign.ChannelPush, campaign.ChannelSMS}
	})
	byBob := mk("Filter Bob", func(c *campaign.RehydrateParams) { c.CreatedBy = bob })
	late := mk("Filter Late", func(c *campaign.RehydrateParams) { c.StartDate = base.Add(48 * time.Hour); c.EndDate = nil })
	percent := mk("Filter 100% off_now", func(*campaign.RehydrateParams) {})
	all := []campaign.ID{active, paused, loyalty, sms, byBob, late, percent}

	ids := func(f campaign.Filter) []campaign.ID {
		f.Limit = 100
		if f.Query == "" {
			f.Query = "Filter " // only this test's rows: the subtests share one database
		}
		page, next, err := list(ctx, repo, f)
		require.NoError(t, err)
		assert.Nil(t, next)
		out := []campaign.ID{}
		for _, c := range page {
			out = append(out, c.ID())
		}
		return out
	}
	from, to := base.Add(24*time.Hour), base.Add(72*time.Hour)
	cases := []struct {
		name string
		f    campaign.Filter
		want []campaign.ID
	}{
		{"no filter", campaign.Filter{}, all},
		{"status", campaign.Filter{Statuses: []lifecycle.Status{lifecycle.StatusActive}}, []campaign.ID{active}},
		{"two statuses", campaign.Filter{Statuses: []lifecycle.Status{lifecycle.StatusActive, lifecycle.StatusPaused}}, []campaign.ID{active, paused}},
		{"type", campaign.Filter{Types: []campaign.Type{campaign.TypeLoyalty}}, []campaign.ID{loyalty}},
		{"channel", campaign.Filter{Channel: campaign.ChannelSMS}, []campaign.ID{sms}},
		{"channel none", campaign.Filter{Channel: campaign.ChannelDisplay}, []campaign.ID{}},
		{"createdBy", campaign.Filter{CreatedBy: &bob}, []campaign.ID{byBob}},
		{"name search ignores case", campaign.Filter{Query: "filter sms"}, []campaign.ID{sms}},
		{"name search is literal for LIKE wildcards", campaign.Filter{Query: "100%"}, []campaign.ID{percent}},
		{"underscore is literal", campaign.Filter{Query: "off_"}, []campaign.ID{percent}},
		{"underscore does not match any char", campaign.Filter{Query: "Filter_"}, []campaign.ID{}},
		{"start range", campaign.Filter{StartFrom: &from, StartTo: &to}, []campaign.ID{late}},
		{"start to is exclusive", campaign.Filter{StartTo: &base}, []campaign.ID{}},
		{"combined", campaign.Filter{Statuses: []lifecycle.Status{lifecycle.StatusDraft}, Query: "bob"}, []campaign.ID{byBob}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.ElementsMatch(t, tc.want, ids(tc.f))
		})
	}
}

func testKeysetPaging(t *testing.T, db *bun.DB) {
	ctx := context.Background()
	repo := bunstore.New(db)
	const n = 250
	stored := make(map[campaign.ID]*campaign.Campaign, n)
	for i := range n {
		// Three campaigns share each creation instant, so the id tie-break is exercised.
		at := base.Add(time.Duration(i/3) * time.Second)
		c := campaigntest.Fixture(fmt.Sprintf("Page %03d %s", (i*7)%n, strings.Repeat("x", i%3)), at, func(p *campaign.RehydrateParams) {
			p.StartDate = base.Add(time.Duration((i*13)%n) * time.Minute)
			p.EndDate = nil
		})
		require.NoError(t, repo.Create(ctx, c, campaigntest.Created(c)))
		stored[c.ID()] = c
	}
	key := map[campaign.SortField]func(c *campaign.Campaign) string{
		campaign.SortCreatedAt: func(c *campaign.Campaign) string { return c.CreatedAt().Format(time.RFC3339Nano) },
		campaign.SortName:      func(c *campaign.Campaign) string { return strings.ToLower(c.Name()) },
		campaign.SortStartDate: func(c *campaign.Campaign) string { return c.StartDate().Format(time.RFC3339Nano) },
	}
	for _, sort := range campaign.SortFields() {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s desc=%v", sort, desc), func(t *testing.T) {
				var seen []*campaign.Campaign
				f := campaign.Filter{Query: "Page ", Sort: sort, Desc: desc, Limit: 17}
				for pages := 0; ; pages++ {
					require.Less(t, pages, 20, "paging does not end")
					page, next, err := list(ctx, repo, f)
					require.NoError(t, err)
					seen = append(seen, page...)
					if next == nil {
						break
					}
					require.Equal(t, 17, len(page))
					f.After = next
				}
				require.Equal(t, n, len(seen), "every row exactly once")
				ids := map[campaign.ID]bool{}
				for _, c := range seen {
					require.False(t, ids[c.ID()], "duplicate %s", c.ID())
					ids[c.ID()] = true
					require.Contains(t, stored, c.ID())
				}
				sorted := slices.IsSortedFunc(seen, func(a, b *campaign.Campaign) int {
					ka, kb := key[sort](a), key[sort](b)
					if sort != campaign.SortName {
						ta, _ := time.Parse(time.RFC3339Nano, ka)
						tb, _ := time.Parse(time.RFC3339Nano, kb)
						ka, kb = fmt.Sprint(ta.UnixMicro()), fmt.Sprint(tb.UnixMicro())
						ka, kb = fmt.Sprintf("%020s", ka), fmt.Sprintf("%020s", kb)
					}
					c := strings.Compare(ka, kb)
					if c == 0 {
						c = strings.Compare(a.ID().String(), b.ID().String())
					}
					if desc {
						c = -c
					}
					return c
				})
				assert.True(t, sorted, "rows come in (%s, id) order", sort)
			})
		}
	}
	t.Run("a cursor is bound to its sort", func(t *testing.T) {
		_, next, err := list(ctx, repo, campaign.Filter{Query: "Page ", Sort: campaign.SortName, Limit: 5})
		require.NoError(t, err)
		require.NotNil(t, next)
		_, _, err = list(ctx, repo, campaign.Filter{Sort: campaign.SortCreatedAt, Limit: 5, After: next})
		assert.ErrorIs(t, err, campaign.ErrBadCursor)
	})
}

// list is one page of repo as a caller pages through it: the campaigns, and the cursor of the
// next page (nil on the last).
func list(ctx context.Context, repo *bunstore.Store, f campaign.Filter) ([]*campaign.Campaign, *campaign.Cursor, error) {
	p, err := repo.List(ctx, f, nil)
	if err != nil || !p.More {
		return p.Campaigns, nil, err
	}
	return p.Campaigns, &p.Cursors[len(p.Cursors)-1], nil
}
