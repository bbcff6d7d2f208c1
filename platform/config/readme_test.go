package config

import (
	"os"
	"strings"
	"testing"
)

// The configuration table of the operations guide (configs/README.md, Configuration) must
// list every key, with its environment variables.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../configs/README.md")
	if err != nil {
		t.Fatalf("read configs/README.md: %v", err)
	}
	readme := string(b)
	for key := range defaults {
		env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if !strings.Contains(readme, "| `"+key+"` | `"+env+"`") {
			t.Errorf("configs/README.md's configuration table lacks %s (%s)", key, env)
		}
		if legacy, ok := legacyEnv[key]; ok && !strings.Contains(readme, "`"+legacy+"`") {
			t.Errorf("configs/README.md does not mention %s for %s", legacy, key)
		}
	}
}
