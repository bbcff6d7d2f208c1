package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/engine-rules-sp/campaigns"

// The library's packages stay light for a host that embeds them: only the YAML loader, the
// binaries' glue and the binaries read the YAML configuration, and a host on PostgreSQL with
// an external NATS links no embedded NATS server, no SQLite driver and no viper. Those come
// only with the packages that exist for them (and the test helpers built on those).
func TestLibraryPackagesStayLight(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports,Deps", module+"/...")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("go list: %v\n%s", err, exit.Stderr)
	}
	require.NoError(t, err)

	mayReadYAMLConfig := func(p string) bool {
		return p == module+"/platform/config" || p == module+"/platform/app" || strings.HasPrefix(p, module+"/platform/app/") ||
			strings.HasPrefix(p, module+"/cmd/")
	}
	heavy := []string{"github.com/nats-io/nats-server/v2", "modernc.org/sqlite", "github.com/spf13/viper"}
	mayLinkHeavy := func(p string) bool {
		return mayReadYAMLConfig(p) || slices.Contains([]string{
			module + "/platform/database/sqlite", module + "/platform/natsx/embedded", // what they are for
			module + "/platform/database/dbtest", module + "/platform/natsx/natstest", // test helpers
		}, p)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	checked := 0
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
			Deps                               []string
		}
		err := dec.Decode(&p)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		checked++
		if !mayReadYAMLConfig(p.ImportPath) {
			all := slices.Concat(p.Imports, p.TestImports, p.XTestImports)
			assert.NotContains(t, all, module+"/platform/config", "%s (or its tests) imports the YAML configuration", p.ImportPath)
		}
		if !mayLinkHeavy(p.ImportPath) {
			for _, d := range p.Deps {
				for _, h := range heavy {
					if d == h || strings.HasPrefix(d, h+"/") {
						t.Errorf("%s links %s", p.ImportPath, d)
					}
				}
			}
		}
	}
	assert.Greater(t, checked, 20, "go list listed the module's packages")
}
