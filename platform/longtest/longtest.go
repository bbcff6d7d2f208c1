// Package longtest sizes the tests that soak, scale out or import at production size. The
// README's test command runs them at a size a newcomer can wait for; CI sets
// CAMPAIGNS_TEST_LONG=1 and runs them at full size, so nothing it checked before goes unchecked.
// The assertions are the same at both sizes: only how much is sent changes.
package longtest

import "os"

// Env is the variable that asks for the full sizes.
const Env = "CAMPAIGNS_TEST_LONG"

// Enabled reports whether the full sizes were asked for (CAMPAIGNS_TEST_LONG=1).
func Enabled() bool { return os.Getenv(Env) == "1" }

// Size is full when the full sizes were asked for, and quick otherwise.
func Size(quick, full int) int {
	if Enabled() {
		return full
	}
	return quick
}
