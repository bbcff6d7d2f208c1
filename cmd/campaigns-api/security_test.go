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

// A setting only the authenticator can judge (an API key given in clear instead of its hash)
// stops the API the same way: the configuration exit code and one line naming the key.
func TestRefusesAnAPIKeyThatIsNotAHash(t *testing.T) {
	cleanEnv(t)
	t.Setenv("CAMPAIGNS_AUTH_MODE", "apikey")
	t.Setenv("CAMPAIGNS_AUTH_API_KEYS", `[{"name":"ops","sha256":"my-plain-key","roles":["admin"]}]`)
	code, _, stderr := runCmd(t)
	assert.Equal(t, 2, code, "stderr: %s", stderr)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	assert.Equal(t, "invalid config auth.api_keys[0].sha256: must be the key's SHA-256 as 64 hex digits (sha256sum), never the key itself",
		lines[len(lines)-1])
}

// An API key without an owner stops the API at start, naming the key: it would otherwise act
// as nobody's user, and its holder as a second person.
func TestRefusesAnAPIKeyWithoutOwner(t *testing.T) {
	cleanEnv(t)
	t.Setenv("CAMPAIGNS_AUTH_MODE", "apikey")
	t.Setenv("CAMPAIGNS_AUTH_API_KEYS", `[{"name":"ops","sha256":"`+strings.Repeat("ab", 32)+`","roles":["admin"]}]`)
	code, _, stderr := runCmd(t)
	assert.Equal(t, 2, code, "stderr: %s", stderr)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], `invalid config auth.api_keys[0].owner: key "ops" has no owner: set owner to the user id (a UUID)`),
		"%s", lines[len(lines)-1])
}
