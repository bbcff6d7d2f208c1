package lifecycle_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestPacingWindowIsTheLocalDayWithinTheFlight(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	end := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	p := lifecycle.Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodDaily, Budget: dec("100"), Location: paris,
		Start: time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC), End: &end}
	for _, tc := range []struct {
		name     string
		now      time.Time
		from, to time.Time
		ok       bool
	}{
		{"the first day starts at the start date", time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC),
			time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC), true},
		{"23:30 UTC is already the next day in Paris", time.Date(2026, 3, 11, 23, 30, 0, 0, time.UTC),
			time.Date(2026, 3, 11, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 12, 23, 0, 0, 0, time.UTC), true},
		{"the DST day has 23 hours", time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC),
			time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC), true},
		{"the last day ends at the end date", time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC),
			time.Date(2026, 3, 30, 22, 0, 0, 0, time.UTC), end, true},
		{"before the flight: none", time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, false},
		{"after the flight: none", end, time.Time{}, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to, ok := p.Window(tc.now)
			assert.Equal(t, tc.ok, ok)
			assert.True(t, tc.from.Equal(from), "from %v, want %v", from, tc.from)
			assert.True(t, tc.to.Equal(to), "to %v, want %v", to, tc.to)
		})
	}
	open := lifecycle.Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodFlight, Budget: dec("100"), Start: p.Start}
	_, _, ok := open.Window(p.Start.Add(time.Hour))
	assert.False(t, ok, "an open-ended flight has no period to pace over")
}

func TestPacingPlanIndexAndProbability(t *testing.T) {
	start := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	end := start.Add(10 * 24 * time.Hour)
	even := lifecycle.Pacing{Mode: lifecycle.PacingEven, Period: lifecycle.PeriodFlight, Budget: dec("1000"), Start: start, End: &end}
	front := even
	front.Mode = lifecycle.PacingFrontLoaded
	asap := even
	asap.Mode = lifecycle.PacingASAP
	mid := start.Add(5 * 24 * time.Hour)

	assert.Equal(t, "500", even.Planned(mid).String())
	assert.Equal(t, "625", front.Planned(mid).String(), "1.5x - 0.5x² at x = 0.5")
	assert.Equal(t, "500", asap.Planned(mid).String(), "ASAP is judged against the even plan")

	i, ok := even.Index(dec("600"), mid)
	require.True(t, ok)
	assert.InDelta(t, 1.2, i, 1e-9, "(600/1000) / (5/10)")
	_, ok = even.Index(dec("0"), start)
	assert.False(t, ok, "undefined at the very start")

	assert.Equal(t, 1.0, even.Probability(dec("400"), mid), "behind the plan: always served")
	assert.Equal(t, 1.0, even.Probability(dec("500"), mid), "on the plan: always served")
	assert.InDelta(t, 0.5, even.Probability(dec("510"), mid), 1e-9, "half the band ahead: half the requests")
	assert.Equal(t, 0.0, even.Probability(dec("520"), mid), "a band ahead: none")
	assert.Equal(t, 1.0, asap.Probability(dec("900"), mid), "ASAP is never throttled")
	assert.Equal(t, 1.0, front.Probability(dec("600"), mid), "FRONT_LOADED plans 625 by then")
}

func TestPacingDrawIsDeterministicPerSlotAndEven(t *testing.T) {
	id := uuid.MustParse("01950000-0000-7000-8000-00000000000a")
	at := time.Date(2026, 3, 10, 12, 1, 0, 0, time.UTC)
	a := lifecycle.PacingDraw(id, "alice", at)
	assert.Equal(t, a, lifecycle.PacingDraw(id, "alice", at.Add(10*time.Minute)), "same 15-minute slot, same draw")
	assert.NotEqual(t, a, lifecycle.PacingDraw(id, "alice", at.Add(15*time.Minute)), "the next slot draws again")
	assert.NotEqual(t, a, lifecycle.PacingDraw(id, "bob", at))
	// Spread evenly: a tenth of the customers in each tenth of [0, 1).
	var buckets [10]int
	for i := range 20000 {
		d := lifecycle.PacingDraw(id, "customer-"+string(rune('a'+i%26))+time.Duration(i).String(), at)
		require.True(t, d >= 0 && d < 1)
		buckets[int(d*10)]++
	}
	for i, n := range buckets {
		assert.InDelta(t, 2000, n, 150, "bucket %d", i)
	}
}

func TestADailyBudgetHoldsTheCampaignForTheRestOfTheDayOnly(t *testing.T) {
	start := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	p := &lifecycle.Pacing{Mode: lifecycle.PacingASAP, Period: lifecycle.PeriodDaily, Budget: dec("50"), Location: time.UTC, Start: start}
	d := lifecycle.Delivery{Budget: dec("1000"), Pacing: p, Delivered: lifecycle.Delivered{Spend: dec("300"), PeriodSpend: dec("50")}}
	now := start.Add(36 * time.Hour)
	assert.Equal(t, []lifecycle.Hold{lifecycle.HoldBudget}, d.Holds(now))
	assert.Equal(t, lifecycle.ServingBudgetExhausted,
		lifecycle.ServingWith(lifecycle.StatusActive, lifecycle.StopNone, start, nil, d, now))
	d.Delivered.PeriodSpend = dec("49.99") // the next day's spend so far
	assert.Empty(t, d.Holds(now))
	assert.Equal(t, 1.0, d.ServeProbability(now), "ASAP is not throttled")
}
