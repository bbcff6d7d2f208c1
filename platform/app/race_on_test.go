//go:build race

package app_test

// raceDetector: the race detector slows every statement about tenfold, so the tests that
// measure time at full size run smaller under it (CI runs them at full size without it too).
const raceDetector = true
