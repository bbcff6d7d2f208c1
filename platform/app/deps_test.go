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
	// The OpenTelemetry SDK and its exporters (which bring gRPC along) are the binaries'
	// choice: the library traces through the OpenTelemetry API only, with the host's provider.
	heavy := []string{"github.com/nats-io/nats-server/v2", "modernc.org/sqlite", "github.com/spf13/viper",
		"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "google.golang.org/grpc"}
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

// The dependency rule (README, Layout): each capability's root package holds its domain and
// service and links neither Bun nor Echo (its store and its handlers are sub-packages named
// after them); lifecycle and the platform's leaf packages import no capability; targeting and
// metrics never import each other. Only the client (platform/campaigns), the binaries' glue
// and cmd/ put the capabilities together.
func TestDependencyRule(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"/...").Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("go list: %v\n%s", err, exit.Stderr)
	}
	require.NoError(t, err)
	within := func(p, pkg string) bool { return p == module+"/"+pkg || strings.HasPrefix(p, module+"/"+pkg+"/") }
	capabilities := []string{"campaign", "lifecycle", "targeting", "metrics"}
	dec := json.NewDecoder(bytes.NewReader(out))
	roots := 0
	for {
		var p struct {
			ImportPath    string
			Imports, Deps []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		if slices.Contains(capabilities, strings.TrimPrefix(p.ImportPath, module+"/")) {
			roots++
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "github.com/uptrace/bun") || strings.HasPrefix(d, "github.com/labstack/echo") {
					t.Errorf("%s links %s: a capability's root holds its domain and service only", p.ImportPath, d)
				}
			}
		}
		for _, imp := range p.Imports {
			switch {
			case within(p.ImportPath, "lifecycle") && (within(imp, "campaign") || within(imp, "targeting") || within(imp, "metrics")):
				t.Errorf("%s imports %s: lifecycle imports no other capability", p.ImportPath, imp)
			case within(p.ImportPath, "targeting") && within(imp, "metrics"), within(p.ImportPath, "metrics") && within(imp, "targeting"):
				t.Errorf("%s imports %s: targeting and metrics never import each other", p.ImportPath, imp)
			case within(p.ImportPath, "platform") && !within(p.ImportPath, "platform/campaigns") && !within(p.ImportPath, "platform/app") &&
				slices.ContainsFunc(capabilities, func(c string) bool { return within(imp, c) }):
				t.Errorf("%s imports %s: the platform's packages import no capability (only the client and the binaries' glue do)", p.ImportPath, imp)
			}
		}
	}
	assert.Equal(t, len(capabilities), roots, "go list listed every capability's root package")
}
