package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table must list every key, with its environment variables; the
// operations guide's (configs/README.md) may list a key the README leaves to it.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	ops, err := os.ReadFile("../../configs/README.md")
	if err != nil {
		t.Fatalf("read configs/README.md: %v", err)
	}
	readme := string(b) + string(ops)
	for key := range defaults {
		env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if !strings.Contains(readme, "| `"+key+"` | `"+env+"`") {
			t.Errorf("README's configuration table lacks %s (%s)", key, env)
		}
		if legacy, ok := legacyEnv[key]; ok && !strings.Contains(readme, "`"+legacy+"`") {
			t.Errorf("README does not mention %s for %s", legacy, key)
		}
	}
}
