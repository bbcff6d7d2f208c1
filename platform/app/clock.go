package app

import (
	"fmt"
	"time"
)

// TestClockEnv names the variable that sets the API binary's clock to another moment, for
// runs that must not depend on the hour they happen at (.ci/tour runs the README's tour a
// second time on a Monday at 05:04 UTC, outside any office-hours schedule). It is an RFC 3339
// time; the clock starts there and moves on with the wall clock. It is a CAMPAIGNS_TEST_
// variable, read by the API binary only: never set it in a deployment.
const TestClockEnv = "CAMPAIGNS_TEST_CLOCK"

// TestClock reads TestClockEnv through lookup. Unset or empty, it returns nil (the wall
// clock). Otherwise it returns a clock that reads the given moment now and advances with
// wall, a fixed offset from it, so that durations, timeouts and ordering still hold.
func TestClock(lookup func(string) (string, bool), wall func() time.Time) (func() time.Time, error) {
	v, ok := lookup(TestClockEnv)
	if !ok || v == "" {
		return nil, nil
	}
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: not an RFC 3339 time such as 2026-12-07T05:04:00Z: %w", TestClockEnv, v, err)
	}
	offset := at.Sub(wall())
	return func() time.Time { return wall().Add(offset) }, nil
}
