package bunstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/campaigntest"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// servingShape is the dates of a campaign in the serving-filter table.
type servingShape struct {
	name  string
	start time.Time
	end   *time.Time
}

// servingShapes are a campaign with and without an end date, once with whole-second dates
// and once with sub-second ones (stored and compared as text on SQLite).
func servingShapes() []servingShape {
	whole := base
	frac := base.Add(90*time.Minute + 123456*time.Microsecond)
	wholeEnd, fracEnd := whole.Add(48*time.Hour), frac.Add(48*time.Hour+500*time.Millisecond)
	return []servingShape{
		{"whole seconds with end", whole, &wholeEnd},
		{"whole seconds without end", whole, nil},
		{"fractional seconds with end", frac, &fracEnd},
		{"fractional seconds without end", frac, nil},
	}
}

// servingInstants are the moments the filter is judged at: before the start, a microsecond
// either side of and exactly at every start and end date, within the dates, and after the end.
func servingInstants(shapes []servingShape) []time.Time {
	seen := map[time.Time]bool{}
	var out []time.Time
	add := func(t time.Time) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, s := range shapes {
		add(s.start.Add(-time.Hour))
		add(s.start.Add(-time.Microsecond))
		add(s.start)
		add(s.start.Add(time.Microsecond))
		add(s.start.Add(24 * time.Hour))
		if s.end != nil {
			add(s.end.Add(-time.Microsecond))
			add(*s.end)
			add(s.end.Add(time.Microsecond))
			add(s.end.Add(time.Hour))
		}
	}
	return out
}

// The SQL of the serving-status filter agrees with lifecycle.Serving for every status, stop
// code and date situation, at the boundaries to the microsecond.
func TestListServingFilterMatchesLifecycle(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, sets, func(t *testing.T, db *bun.DB) {
		t.Parallel()
		ctx := context.Background()
		repo := bunstore.New(db)
		// The store keeps candidates by status and dates; the service judges schedules.
		svc := campaign.NewService(repo, campaign.ServiceConfig{})
		codes := append([]lifecycle.StopCode{lifecycle.StopNone}, lifecycle.StopCodes()...)
		shapes := servingShapes()
		var stored []*campaign.Campaign
		for _, status := range lifecycle.Statuses() {
			for _, code := range codes {
				for _, shape := range shapes {
					c := campaigntest.Fixture(fmt.Sprintf("Serving %s %q %s", status, code, shape.name), base.Add(-24*time.Hour),
						func(p *campaign.RehydrateParams) {
							p.Status, p.StopCode, p.StartDate, p.EndDate = status, code, shape.start, shape.end
						})
					require.NoError(t, repo.Create(ctx, c, campaigntest.Created(c)))
					stored = append(stored, c)
				}
			}
		}
		instants := servingInstants(shapes)
		lists := 0
		seen := map[lifecycle.ServingStatus]int{}
		for _, now := range instants {
			// Where each campaign is listed: every filter value is asked for on its own.
			listed := map[campaign.ID][]lifecycle.ServingStatus{}
			for _, s := range lifecycle.ServingStatuses() {
				page, next, err := svc.List(ctx, campaign.Filter{Serving: []lifecycle.ServingStatus{s}, Now: now, Limit: 100})
				require.NoError(t, err)
				require.Nil(t, next, "one page holds the table")
				lists++
				for _, c := range page {
					listed[c.ID()] = append(listed[c.ID()], s)
				}
			}
			for _, c := range stored {
				want := c.ServingWith(nil, lifecycle.Delivered{}, now) // the fixture's window: Mondays 09:00-17:00 Paris
				assert.Equal(t, []lifecycle.ServingStatus{want}, listed[c.ID()], "%s at %s",
					c.Name(), now.Format(time.RFC3339Nano))
				seen[want]++
			}
		}
		require.Len(t, stored, 120)
		for _, s := range lifecycle.ServingStatuses() {
			assert.Positive(t, seen[s], "no campaign was %s at any instant", s)
		}
		t.Logf("%d campaigns, %d instants, %d lists", len(stored), len(instants), lists)
	})
}
