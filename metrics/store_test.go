package metrics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Keys built with minutes or in another zone land in their UTC hour.
func TestHourOf(t *testing.T) {
	at := time.Date(2026, 11, 30, 1, 59, 59, 999, time.FixedZone("CEST", 2*3600))
	assert.Equal(t, time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC), HourOf(at))
	assert.True(t, HourOf(at) == HourOf(at.UTC().Add(-30*time.Minute)), "usable as a map key")
}
