package lifecycle_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/lifecycle"
)

func window(t *testing.T, zone string, start, end string, days ...string) lifecycle.Window {
	t.Helper()
	var z lifecycle.Zones
	loc, err := z.Load(zone)
	require.NoError(t, err)
	w := lifecycle.Window{Location: loc}
	w.Start, err = lifecycle.ParseClock(start)
	require.NoError(t, err)
	w.End, err = lifecycle.ParseClock(end)
	require.NoError(t, err)
	for _, d := range days {
		wd, err := lifecycle.ParseWeekday(d)
		require.NoError(t, err)
		w.Days = append(w.Days, wd)
	}
	return w
}

func at(t *testing.T, zone, local string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	ts, err := time.ParseInLocation("2006-01-02 15:04", local, loc)
	require.NoError(t, err)
	return ts
}

func TestScheduleOpen(t *testing.T) {
	t.Parallel()
	const madrid = "Europe/Madrid"
	tests := []struct {
		name  string
		sched lifecycle.Schedule
		at    time.Time
		open  bool
	}{
		// The seed system's example: SUN 03:00–04:00 Madrid is closed at 08:52 on a Sunday.
		{"seed example, Sunday 08:52 Madrid", lifecycle.Schedule{window(t, madrid, "03:00", "04:00", "SUN")}, at(t, madrid, "2026-11-29 08:52"), false},
		{"seed example, Sunday 03:30 Madrid", lifecycle.Schedule{window(t, madrid, "03:00", "04:00", "SUN")}, at(t, madrid, "2026-11-29 03:30"), true},
		{"start is inclusive", lifecycle.Schedule{window(t, madrid, "09:00", "17:00", "MON")}, at(t, madrid, "2026-11-30 09:00"), true},
		{"end is exclusive", lifecycle.Schedule{window(t, madrid, "09:00", "17:00", "MON")}, at(t, madrid, "2026-11-30 17:00"), false},
		{"wrong day", lifecycle.Schedule{window(t, madrid, "09:00", "17:00", "TUE")}, at(t, madrid, "2026-11-30 10:00"), false},
		{"judged in the window's zone, not UTC", lifecycle.Schedule{window(t, "Asia/Tokyo", "09:00", "10:00", "TUE")}, time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC), true},
		{"UTC Monday is Tokyo Tuesday", lifecycle.Schedule{window(t, "Asia/Tokyo", "09:00", "10:00", "MON")}, time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC), false},
		// A window whose zone could not be loaded (a stored zone this host lacks) is never open,
		// and never panics.
		{"unknown zone, never open", lifecycle.Schedule{{Days: []time.Weekday{time.Monday}, Start: 0, End: 0}}, at(t, madrid, "2026-11-30 10:00"), false},
		// Crossing midnight: FRI 22:00–02:00 covers Friday night and early Saturday.
		{"midnight: Friday 23:30", lifecycle.Schedule{window(t, madrid, "22:00", "02:00", "FRI")}, at(t, madrid, "2026-12-04 23:30"), true},
		{"midnight: Saturday 01:59", lifecycle.Schedule{window(t, madrid, "22:00", "02:00", "FRI")}, at(t, madrid, "2026-12-05 01:59"), true},
		{"midnight: Saturday 02:00", lifecycle.Schedule{window(t, madrid, "22:00", "02:00", "FRI")}, at(t, madrid, "2026-12-05 02:00"), false},
		{"midnight: Saturday 23:00 (not listed)", lifecycle.Schedule{window(t, madrid, "22:00", "02:00", "FRI")}, at(t, madrid, "2026-12-05 23:00"), false},
		{"midnight: Friday 01:00 belongs to Thursday", lifecycle.Schedule{window(t, madrid, "22:00", "02:00", "FRI")}, at(t, madrid, "2026-12-04 01:00"), false},
		{"midnight: SUN window spills into Monday", lifecycle.Schedule{window(t, madrid, "23:00", "01:00", "SUN")}, at(t, madrid, "2026-11-30 00:30"), true},
		// DST in Madrid: 2026-03-29 02:00 CET jumps to 03:00 CEST; 2026-10-25 03:00 CEST falls back to 02:00 CET.
		{"DST spring: 03:30 CEST on the change day", lifecycle.Schedule{window(t, madrid, "03:00", "04:00", "SUN")}, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), true},
		{"DST spring: 01:30 CET on the change day", lifecycle.Schedule{window(t, madrid, "03:00", "04:00", "SUN")}, time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), false},
		{"DST spring: 04:00 CEST closes", lifecycle.Schedule{window(t, madrid, "03:00", "04:00", "SUN")}, time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC), false},
		{"DST spring: 09:00 wall clock is 07:00 UTC", lifecycle.Schedule{window(t, madrid, "09:00", "10:00", "SUN")}, time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC), true},
		{"DST spring: 08:00 UTC is 10:00 wall clock", lifecycle.Schedule{window(t, madrid, "09:00", "10:00", "SUN")}, time.Date(2026, 3, 29, 8, 0, 0, 0, time.UTC), false},
		{"DST autumn: first 02:30 (CEST)", lifecycle.Schedule{window(t, madrid, "02:00", "03:00", "SUN")}, time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), true},
		{"DST autumn: second 02:30 (CET)", lifecycle.Schedule{window(t, madrid, "02:00", "03:00", "SUN")}, time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), true},
		{"DST autumn: 03:00 CET closes", lifecycle.Schedule{window(t, madrid, "02:00", "03:00", "SUN")}, time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC), false},
		{"DST autumn: 09:00 wall clock is 08:00 UTC", lifecycle.Schedule{window(t, madrid, "09:00", "10:00", "SUN")}, time.Date(2026, 10, 25, 8, 0, 0, 0, time.UTC), true},
		{"DST autumn: 07:00 UTC is 08:00 wall clock", lifecycle.Schedule{window(t, madrid, "09:00", "10:00", "SUN")}, time.Date(2026, 10, 25, 7, 0, 0, 0, time.UTC), false},
		{"DST across midnight: SAT 23:00–03:30 on the spring night", lifecycle.Schedule{window(t, madrid, "23:00", "03:30", "SAT")}, time.Date(2026, 3, 29, 1, 15, 0, 0, time.UTC), true},
		{"windows are OR-ed", lifecycle.Schedule{window(t, madrid, "09:00", "10:00", "MON"), window(t, "UTC", "12:00", "13:00", "MON")}, time.Date(2026, 11, 30, 12, 5, 0, 0, time.UTC), true},
		{"no window open", lifecycle.Schedule{window(t, madrid, "09:00", "10:00", "MON"), window(t, "UTC", "12:00", "13:00", "MON")}, time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC), false},
		{"no windows: always open", nil, time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.open, tt.sched.Open(tt.at), tt.name)
	}
}

func TestParseClockAndWeekday(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int{"00:00": 0, "09:30": 570, "23:59": 1439} {
		got, err := lifecycle.ParseClock(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	for _, bad := range []string{"", "24:00", "9:30", "09:60", "0a:00", "09-30", "+9:30"} {
		_, err := lifecycle.ParseClock(bad)
		assert.Error(t, err, bad)
	}
	d, err := lifecycle.ParseWeekday("SUN")
	require.NoError(t, err)
	assert.Equal(t, time.Sunday, d)
	_, err = lifecycle.ParseWeekday("Sunday")
	assert.Error(t, err)
	var z lifecycle.Zones
	_, err = z.Load("Local")
	assert.Error(t, err)
	_, err = z.Load("Mars/Olympus")
	assert.Error(t, err)
}

func TestServingWith(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) // a Monday
	start := now.Add(-24 * time.Hour)
	cap10 := int64(10)
	limit := decimal.NewFromInt(50)
	closed := lifecycle.Schedule{window(t, "UTC", "09:00", "10:00", "MON")}
	open := lifecycle.Schedule{window(t, "UTC", "11:00", "13:00", "MON")}
	tests := []struct {
		name   string
		status lifecycle.Status
		code   lifecycle.StopCode
		d      lifecycle.Delivery
		want   lifecycle.ServingStatus
		holds  []lifecycle.Hold
	}{
		{"nothing holds", lifecycle.StatusActive, "", lifecycle.Delivery{Schedule: open, MaxImpressions: &cap10, Budget: decimal.NewFromInt(100),
			Delivered: lifecycle.Delivered{Impressions: 9, Spend: decimal.NewFromInt(99)}}, lifecycle.ServingServing, nil},
		{"out of schedule", lifecycle.StatusActive, "", lifecycle.Delivery{Schedule: closed}, lifecycle.ServingOutOfSchedule, []lifecycle.Hold{lifecycle.HoldSchedule}},
		{"cap reached", lifecycle.StatusActive, "", lifecycle.Delivery{MaxImpressions: &cap10, Delivered: lifecycle.Delivered{Impressions: 10}},
			lifecycle.ServingCapReached, []lifecycle.Hold{lifecycle.HoldCap}},
		{"budget spent, before the automation", lifecycle.StatusActive, "", lifecycle.Delivery{Budget: decimal.NewFromInt(100),
			Delivered: lifecycle.Delivered{Spend: decimal.NewFromInt(100)}}, lifecycle.ServingBudgetExhausted, []lifecycle.Hold{lifecycle.HoldBudget}},
		{"budget limit spent", lifecycle.StatusActive, "", lifecycle.Delivery{Budget: decimal.NewFromInt(100), BudgetLimit: &limit,
			Delivered: lifecycle.Delivered{Spend: decimal.NewFromInt(50)}}, lifecycle.ServingBudgetExhausted, []lifecycle.Hold{lifecycle.HoldBudget}},
		{"every hold, budget first", lifecycle.StatusActive, "", lifecycle.Delivery{Schedule: closed, MaxImpressions: &cap10, Budget: decimal.NewFromInt(1),
			Delivered: lifecycle.Delivered{Impressions: 11, Spend: decimal.NewFromInt(2)}}, lifecycle.ServingBudgetExhausted,
			[]lifecycle.Hold{lifecycle.HoldBudget, lifecycle.HoldCap, lifecycle.HoldSchedule}},
		{"paused is paused whatever holds", lifecycle.StatusPaused, "", lifecycle.Delivery{Schedule: closed}, lifecycle.ServingPaused, []lifecycle.Hold{lifecycle.HoldSchedule}},
		{"paused at the cap", lifecycle.StatusPaused, lifecycle.StopCapReached, lifecycle.Delivery{}, lifecycle.ServingCapReached, nil},
		{"paused at the budget limit", lifecycle.StatusPaused, lifecycle.StopBudgetLimit, lifecycle.Delivery{}, lifecycle.ServingBudgetExhausted, nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, lifecycle.ServingWith(tt.status, tt.code, start, nil, tt.d, now), tt.name)
		assert.Equal(t, tt.holds, tt.d.Holds(now), tt.name)
	}
}
