package config_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/config"
)

func TestUnknownEnvironmentVariableIsRefusedWithTheNearestName(t *testing.T) {
	err := config.CheckEnvironment([]string{"PATH=/bin", "CAMPAIGNS_HTTP_PROT=18102", "CAMPAIGNS_HTTP_HOST=127.0.0.1"})
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	assert.Equal(t, "environment variable CAMPAIGNS_HTTP_PROT", cerr.Key)
	assert.Contains(t, cerr.Reason, "did you mean CAMPAIGNS_HTTP_PORT (http.port)?")

	err = config.CheckEnvironment([]string{"CAMPAIGNS_COMPLETELY_DIFFERENT_THING=1", "CAMPAIGNS_NATS_URLL=x"})
	require.ErrorAs(t, err, &cerr)
	assert.Equal(t, "environment variable CAMPAIGNS_COMPLETELY_DIFFERENT_THING", cerr.Key)
	assert.Contains(t, cerr.Reason, "Configuration table", "nothing near: where the names are")
	assert.Contains(t, cerr.Reason, "and 1 more: CAMPAIGNS_NATS_URLL")

	assert.NoError(t, config.CheckEnvironment([]string{
		"CAMPAIGNS_CONFIG=/etc/campaigns.yaml", "CAMPAIGNS_TEST_POSTGRES_URL=x", "CAMPAIGNS_BENCH_EVENTS=5",
		"CAMPAIGNS_LOADTEST_TOKEN=t", "CAMPAIGNS_TOUR_NATS_URL=x", "CAMPAIGNS_NATS_REPLICAS=3", "CAMPAIGNS=1", "OTHER_HTTP_PROT=1", "CAMPAIGNS_RENDERED_EMPTY=",
	}))
	for _, key := range config.Settings() {
		assert.NoError(t, config.CheckEnvironment([]string{config.EnvName(key) + "=x"}), key)
	}
}

// Every CAMPAIGNS_* variable the repository's documentation and deployment files name is a
// setting or one of the other known variables: a renamed setting cannot leave a stale name
// behind that would now stop start-up.
func TestEveryDocumentedVariableIsKnown(t *testing.T) {
	root := filepath.Join("..", "..")
	files := []string{"README.md", "Taskfile.yml", filepath.Join("platform", "app", "openapi.yaml"),
		filepath.Join("platform", "app", "BENCHMARKS.md"), filepath.Join("platform", "outbox", "BENCHMARKS.md"),
		filepath.Join("platform", "campaigns", "doc.go"), filepath.Join("platform", "console", "README.md")}
	for _, dir := range []string{".ci", "configs", filepath.Join("configs", "k8s")} {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		require.NoError(t, err)
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	name := regexp.MustCompile(`\bCAMPAIGNS_[A-Z0-9_]*[A-Z0-9]\b`)
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		for _, n := range name.FindAllString(string(b), -1) {
			if n == "CAMPAIGNS_HTTP_PROT" { // the example of a refused typo (configs/README.md, Configuration)
				continue
			}
			seen++
			assert.NoError(t, config.CheckEnvironment([]string{n + "=x"}), "%s names %s", f, n)
		}
	}
	assert.Greater(t, seen, 50)
}
