package config

import (
	"os"
	"strings"
	"testing"
)

// The configuration tables (the README's, and the operations guide's, configs/README.md) must
// list every key, with its environment variables.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	var readme string
	for _, name := range []string{"../../README.md", "../../configs/README.md"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		readme += string(b)
	}
	for key := range defaults {
		env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if !strings.Contains(readme, "| `"+key+"` | `"+env+"`") {
			t.Errorf("neither README's nor configs/README.md's configuration table lists %s (%s)", key, env)
		}
		if legacy, ok := legacyEnv[key]; ok && !strings.Contains(readme, "`"+legacy+"`") {
			t.Errorf("README does not mention %s for %s", legacy, key)
		}
	}
}
