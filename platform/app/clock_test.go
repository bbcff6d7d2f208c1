package app_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/config"
)

// CAMPAIGNS_TEST_CLOCK sets the clock to a moment that then moves on with the wall clock;
// unset or empty it is the wall clock; anything but RFC 3339 is refused, naming the variable.
func TestTestClock(t *testing.T) {
	t.Parallel()
	wall := time.Date(2026, 12, 9, 14, 50, 0, 0, time.UTC)
	tick := func() time.Time { return wall }
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == app.TestClockEnv {
				return v, true
			}
			return "", false
		}
	}

	now, err := app.TestClock(env("2026-12-07T05:04:00Z"), tick)
	require.NoError(t, err)
	require.NotNil(t, now)
	assert.Equal(t, time.Date(2026, 12, 7, 5, 4, 0, 0, time.UTC), now().UTC())
	assert.Equal(t, time.Monday, now().Weekday())
	wall = wall.Add(90 * time.Second) // time moves on
	assert.Equal(t, time.Date(2026, 12, 7, 5, 5, 30, 0, time.UTC), now().UTC())

	for _, unset := range []func(string) (string, bool){env(""), func(string) (string, bool) { return "", false }} {
		now, err := app.TestClock(unset, tick)
		require.NoError(t, err)
		assert.Nil(t, now, "the wall clock")
	}

	_, err = app.TestClock(env("monday 05:04"), tick)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CAMPAIGNS_TEST_CLOCK")

	// The variable is one the configuration knows: it never stops start-up as a typo.
	assert.NoError(t, config.CheckEnvironment([]string{app.TestClockEnv + "=2026-12-07T05:04:00Z"}))
}
