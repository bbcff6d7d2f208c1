package targeting_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/lifecycle"
	"github.com/engine-rules-sp/campaigns/targeting"
)

// memExposures answers from a fixed set and records every call.
type memExposures struct {
	mu    sync.Mutex
	known map[campaign.ID]targeting.Exposure
	calls [][]campaign.ID
}

func (m *memExposures) Exposures(_ context.Context, customerID string, ids []campaign.ID) (map[campaign.ID]targeting.Exposure, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, slices.Clone(ids))
	out := map[campaign.ID]targeting.Exposure{}
	for _, id := range ids {
		if x, ok := m.known[id]; ok && customerID == "c-1" {
			out[id] = x
		}
	}
	return out, nil
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	require.NoError(t, err)
	return l
}

// Each frequency allows one impression per period of the campaign's first scheduling rule's
// time zone (UTC without one): the customer's last counted exposure in the current period,
// or any exposure for ONCE, makes the campaign not eligible, with the reason.
func TestFrequencyCapsPerPeriodInTheCampaignsZone(t *testing.T) {
	t.Parallel()
	ny, auckland := mustZone(t, "America/New_York"), mustZone(t, "Pacific/Auckland")
	at := func(l *time.Location, s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, l)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		name      string
		frequency campaign.Frequency
		zone      string // "" for no scheduling rule (UTC)
		last      time.Time
		now       time.Time
		capped    bool
	}{
		{"once, never reached", campaign.FrequencyOnce, "", time.Time{}, at(time.UTC, "2026-12-01 10:00"), false},
		{"once, reached a year ago", campaign.FrequencyOnce, "", at(time.UTC, "2025-12-01 10:00"), at(time.UTC, "2026-12-01 10:00"), true},
		{"daily, same local day", campaign.FrequencyDaily, "America/New_York", at(ny, "2026-11-29 00:05"), at(ny, "2026-11-29 23:59"), true},
		// 04:30Z and 05:10Z of the same UTC day, but two New York days.
		{"daily, next local day", campaign.FrequencyDaily, "America/New_York", at(ny, "2026-11-28 23:30"), at(ny, "2026-11-29 00:10"), false},
		{"daily, UTC without a scheduling rule", campaign.FrequencyDaily, "", at(ny, "2026-11-28 23:30"), at(ny, "2026-11-29 00:10"), true},
		{"daily, across a DST change", campaign.FrequencyDaily, "America/New_York", at(ny, "2026-11-01 00:30"), at(ny, "2026-11-01 23:30"), true},
		// ISO week 53 of 2026 runs from Monday 28 December to Sunday 3 January 2027.
		{"weekly, same ISO week across the new year", campaign.FrequencyWeekly, "Pacific/Auckland", at(auckland, "2026-12-28 09:00"), at(auckland, "2027-01-03 23:30"), true},
		{"weekly, next ISO week", campaign.FrequencyWeekly, "Pacific/Auckland", at(auckland, "2027-01-03 23:30"), at(auckland, "2027-01-04 00:30"), false},
		{"weekly, Sunday then Monday in UTC terms", campaign.FrequencyWeekly, "Pacific/Auckland", at(time.UTC, "2027-01-03 10:00"), at(time.UTC, "2027-01-03 12:00"), false},
		{"monthly, same month", campaign.FrequencyMonthly, "Pacific/Auckland", at(auckland, "2026-12-01 00:10"), at(auckland, "2026-12-31 23:59"), true},
		{"monthly, next month", campaign.FrequencyMonthly, "Pacific/Auckland", at(auckland, "2026-11-30 23:00"), at(auckland, "2026-12-01 00:30"), false},
		{"monthly, last exposure a few seconds ahead (clock skew)", campaign.FrequencyMonthly, "", at(time.UTC, "2026-12-01 00:00"), at(time.UTC, "2026-11-30 23:59"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := campaign.RehydrateParams{ID: campaign.NewID(), Name: tc.name, Status: lifecycle.StatusActive,
				StartDate: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
				Settings:  campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}, Frequency: tc.frequency}}
			if tc.zone != "" {
				// Open every day but its first minute: the window gives the zone; the schedule must not hold it back.
				p.Settings.SchedulingRules = []campaign.SchedulingRule{{Days: []string{"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}, Start: "00:01", End: "00:00", Timezone: tc.zone}}
			}
			c := stored(p)
			x := &memExposures{known: map[campaign.ID]targeting.Exposure{}}
			if !tc.last.IsZero() {
				x.known[c.ID()] = targeting.Exposure{Impressions: 1, Last: tc.last}
			}
			ev := targeting.NewEvaluator(&memCampaigns{all: []*campaign.View{c}},
				targeting.EvaluatorConfig{Now: func() time.Time { return tc.now }, Exposures: x})
			got, err := ev.EligibleCampaigns(context.Background(), targeting.Request{CustomerID: "c-1"})
			require.NoError(t, err)
			v, err := ev.Campaign(context.Background(), c.ID(), targeting.Request{CustomerID: "c-1"})
			require.NoError(t, err)
			if tc.capped {
				assert.Empty(t, got.Eligible)
				assert.Empty(t, got.Undetermined, "a frequency cap is a verdict")
				assert.False(t, v.Eligible)
				require.NotEmpty(t, v.Reasons)
				assert.True(t, strings.HasPrefix(v.Reasons[0], fmt.Sprintf("frequency cap (%s)", tc.frequency)), v.Reasons[0])
			} else {
				assert.Len(t, got.Eligible, 1)
				assert.True(t, v.Eligible, "%v", v.Reasons)
			}
			other, err := ev.EligibleCampaigns(context.Background(), targeting.Request{CustomerID: "c-2"})
			require.NoError(t, err)
			assert.Len(t, other.Eligible, 1, "another customer is not capped")
		})
	}
}

// The exposures of every candidate campaign are read in one call per request, never one per
// campaign.
func TestExposuresAreReadOncePerRequest(t *testing.T) {
	t.Parallel()
	m := &memCampaigns{}
	x := &memExposures{known: map[campaign.ID]targeting.Exposure{}}
	for i := range 30 {
		c := stored(campaign.RehydrateParams{ID: campaign.NewID(), Name: fmt.Sprintf("c%d", i), Status: lifecycle.StatusActive,
			StartDate: time.Now().Add(-time.Hour),
			Settings:  campaign.Settings{Channels: []campaign.Channel{campaign.ChannelEmail}, Frequency: campaign.FrequencyDaily}})
		m.all = append(m.all, c)
		if i%3 == 0 {
			x.known[c.ID()] = targeting.Exposure{Impressions: 2, Last: time.Now().Add(-time.Minute)}
		}
	}
	ev := targeting.NewEvaluator(m, targeting.EvaluatorConfig{Exposures: x})
	got, err := ev.EligibleCampaigns(context.Background(), targeting.Request{CustomerID: "c-1"})
	require.NoError(t, err)
	assert.Len(t, got.Eligible, 20, "the 10 reached today are capped")
	require.Len(t, x.calls, 1, "one read per request")
	assert.Len(t, x.calls[0], 30, "for all the candidates")
}
