package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Without authentication the API serves loopback only, unless told otherwise on purpose: on
// another address it refuses to start, naming the setting, with the configuration exit code.
func TestRefusesAnonymousAccessOnAPublicAddress(t *testing.T) {
	cleanEnv(t)
	t.Setenv("CAMPAIGNS_HTTP_HOST", "0.0.0.0")
	code, _, stderr := runCmd(t)
	assert.Equal(t, 2, code, "stderr: %s", stderr)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	assert.True(t, strings.HasPrefix(last, "invalid config auth.mode:"), last)
	assert.Contains(t, last, "auth.allow_anonymous")
}
