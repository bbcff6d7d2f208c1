package test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// repoRoot is the repository, two levels up from configs/test.
const repoRoot = "../.."

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

// productionConfig is the part of configs/config.production.yaml the deployment files depend on.
type productionConfig struct {
	DataDir string `json:"data_dir"`
	HTTP    struct {
		Port            int    `json:"port"`
		ShutdownTimeout string `json:"shutdown_timeout"`
	} `json:"http"`
	Worker struct {
		Port int `json:"port"`
	} `json:"worker"`
	Metrics struct {
		Partitions int `json:"partitions"`
	} `json:"metrics"`
}

// defaultPartitions is metrics.partitions when the file does not set it (platform/config).
const defaultPartitions = 16

func loadProductionConfig(t *testing.T) productionConfig {
	t.Helper()
	var c productionConfig
	if err := yaml.Unmarshal(readFile(t, "configs/config.production.yaml"), &c); err != nil {
		t.Fatalf("config.production.yaml: %v", err)
	}
	if c.Metrics.Partitions == 0 {
		c.Metrics.Partitions = defaultPartitions
	}
	if c.HTTP.Port == 0 || c.Worker.Port == 0 || c.DataDir == "" {
		t.Fatalf("config.production.yaml lacks http.port, worker.port or data_dir: %+v", c)
	}
	return c
}

func (c productionConfig) shutdownTimeout(t *testing.T) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(c.HTTP.ShutdownTimeout)
	if err != nil || d <= 0 {
		t.Fatalf("http.shutdown_timeout %q: %v", c.HTTP.ShutdownTimeout, err)
	}
	return d
}

// servedPaths are the paths the OpenAPI document (which the API's tests hold to the routes it
// serves) lists.
func servedPaths(t *testing.T) map[string]bool {
	t.Helper()
	var doc struct {
		Paths map[string]any `json:"paths"`
	}
	if err := yaml.Unmarshal(readFile(t, "platform/app/openapi.yaml"), &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	paths := make(map[string]bool, len(doc.Paths))
	for p := range doc.Paths {
		paths[p] = true
	}
	return paths
}

// yamlDocs splits a multi-document YAML file.
func yamlDocs(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// natsServerMinor is the minor version of the nats-server the library embeds (go.mod).
func natsServerMinor(t *testing.T) int {
	t.Helper()
	m := regexp.MustCompile(`github\.com/nats-io/nats-server/v2 v2\.(\d+)\.`).FindSubmatch(readFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod names no nats-server")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func TestK8sConfigIsTheProductionConfig(t *testing.T) {
	t.Parallel()
	if !bytes.Equal(readFile(t, "configs/k8s/config.production.yaml"), readFile(t, "configs/config.production.yaml")) {
		t.Error("configs/k8s/config.production.yaml differs from configs/config.production.yaml " +
			"(kustomize reads only its own directory): cp configs/config.production.yaml configs/k8s/")
	}
}

func parseDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}
