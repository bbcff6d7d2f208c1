package test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of the Compose specification configs/compose.yaml uses: decoding it
// strictly fails on any other (or misspelt) field.
type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]*struct{}      `json:"volumes"`
	// Extension fields, shared through YAML anchors.
	XCampaignsEnv map[string]string `json:"x-campaigns-env"`
	XCampaigns    composeService    `json:"x-campaigns"`
}

type composeService struct {
	Image       string            `json:"image"`
	Build       *composeBuild     `json:"build"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	ReadOnly    bool              `json:"read_only"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	Healthcheck *composeHealth    `json:"healthcheck"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Deploy *struct {
		Replicas int `json:"replicas"`
	} `json:"deploy"`
	Restart         string   `json:"restart"`
	StopGracePeriod string   `json:"stop_grace_period"`
	Profiles        []string `json:"profiles"`
}

type composeBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
}

type composeHealth struct {
	Test        []string `json:"test"`
	Disable     bool     `json:"disable"`
	Interval    string   `json:"interval"`
	Timeout     string   `json:"timeout"`
	StartPeriod string   `json:"start_period"`
	Retries     int      `json:"retries"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.UnmarshalStrict(readFile(t, "configs/compose.yaml"), &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

func TestCompose(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	cfg := loadProductionConfig(t)
	var names []string
	for name := range c.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"api", "grafana", "migrate", "nats", "postgres", "prometheus", "worker"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	// Prometheus and Grafana start only with --profile monitoring; the service does not need them.
	for _, name := range []string{"prometheus", "grafana"} {
		if !slices.Equal(c.Services[name].Profiles, []string{"monitoring"}) {
			t.Errorf("%s: profiles %v, want [monitoring]", name, c.Services[name].Profiles)
		}
	}
	for _, name := range []string{"postgres", "nats", "migrate", "api", "worker"} {
		if len(c.Services[name].Profiles) != 0 {
			t.Errorf("%s: in profiles %v: it must start without one", name, c.Services[name].Profiles)
		}
	}

	// The dependencies are health-checked.
	for _, name := range []string{"postgres", "nats"} {
		hc := c.Services[name].Healthcheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
			t.Errorf("%s: no exec-form healthcheck", name)
		}
	}
	// NATS with JetStream, the release line the library embeds (go.mod).
	nats := c.Services["nats"]
	m := regexp.MustCompile(`^nats:2\.(\d+)(-alpine)?$`).FindStringSubmatch(nats.Image)
	if m == nil || m[1] != strconv.Itoa(natsServerMinor(t)) {
		t.Errorf("nats image %s: want nats:2.%d (the embedded server's release)", nats.Image, natsServerMinor(t))
	}
	if !slices.Contains(nats.Command, "-js") {
		t.Errorf("nats runs %v: JetStream is off", nats.Command)
	}

	// The migration runs once, after PostgreSQL is healthy; the API and workers after it.
	mig := c.Services["migrate"]
	if mig.DependsOn["postgres"].Condition != "service_healthy" || mig.Restart != "no" {
		t.Errorf("migrate: depends_on %+v, restart %q", mig.DependsOn, mig.Restart)
	}
	for _, name := range []string{"api", "worker"} {
		s := c.Services[name]
		for dep, cond := range map[string]string{"postgres": "service_healthy", "nats": "service_healthy", "migrate": "service_completed_successfully"} {
			if s.DependsOn[dep].Condition != cond {
				t.Errorf("%s: depends on %s with %q, want %s", name, dep, s.DependsOn[dep].Condition, cond)
			}
		}
		if s.Healthcheck == nil || s.Healthcheck.Disable {
			t.Errorf("%s: no healthcheck", name)
		}
	}
	if d := c.Services["worker"].Deploy; d == nil || d.Replicas != 2 {
		t.Errorf("worker: want two replicas, got %+v", d)
	}
	if p := c.Services["api"].Ports; !slices.Equal(p, []string{"127.0.0.1:" + strconv.Itoa(cfg.HTTP.Port) + ":" + strconv.Itoa(cfg.HTTP.Port)}) {
		t.Errorf("api ports %v: want http.port on loopback", p)
	}

	// One image, built from configs/Dockerfile with the repository as context, run read-only
	// with the production config's addresses and no secret in the file.
	for _, name := range []string{"migrate", "api", "worker"} {
		s := c.Services[name]
		if s.Image != "campaigns:local" || s.Build == nil || s.Build.Context != ".." || s.Build.Dockerfile != "configs/Dockerfile" || !s.ReadOnly {
			t.Errorf("%s: image %q build %+v read_only %v", name, s.Image, s.Build, s.ReadOnly)
		}
		env := s.Environment
		if env["DB_HOST"] != "postgres" || env["NATS_URL"] != "nats://nats:4222" {
			t.Errorf("%s: DB_HOST %q NATS_URL %q do not name the compose services", name, env["DB_HOST"], env["NATS_URL"])
		}
		// One NATS server holds one replica of a stream: the production config's 3 would be
		// refused at start.
		if env["CAMPAIGNS_NATS_REPLICAS"] != "1" {
			t.Errorf("%s: CAMPAIGNS_NATS_REPLICAS %q: want 1 on the one NATS server", name, env["CAMPAIGNS_NATS_REPLICAS"])
		}
		for _, key := range []string{"DB_PASSWORD", "CAMPAIGNS_AUTH_JWT_SECRET"} {
			if !regexp.MustCompile(`^\$\{[A-Z_]+:-.+\}$`).MatchString(env[key]) {
				t.Errorf("%s: %s = %q: want it from the environment (${VAR:-trial default})", name, key, env[key])
			}
		}
	}
	if got := c.Services["api"].StopGracePeriod; got == "" {
		t.Error("api: no stop_grace_period")
	} else if d := parseDuration(t, got); d <= cfg.shutdownTimeout(t) {
		t.Errorf("api: stop_grace_period %s does not exceed http.shutdown_timeout", got)
	}
}

// composeCommands are the image commands compose.yaml runs: each service's command and
// healthcheck.
func composeCommands(t *testing.T) map[string][]string {
	t.Helper()
	c := loadCompose(t)
	cmds := map[string][]string{}
	for _, name := range []string{"migrate", "api", "worker"} {
		s := c.Services[name]
		cmds[name] = s.Command
		if s.Healthcheck != nil && !s.Healthcheck.Disable {
			if len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] != "CMD" {
				t.Fatalf("%s: healthcheck %v is not exec form (the image has no shell)", name, s.Healthcheck.Test)
			}
			cmds[name+" healthcheck"] = s.Healthcheck.Test[1:]
		}
	}
	return cmds
}

// The monitoring profile's Prometheus loads the alerting rules and scrapes the API and the
// workers on their ports, and Grafana is provisioned with it and the dashboard: each mounted
// file exists.
func TestComposeMonitoring(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	cfg := loadProductionConfig(t)
	mounts := map[string]string{}
	for _, name := range []string{"prometheus", "grafana"} {
		for _, v := range c.Services[name].Volumes {
			parts := strings.Split(v, ":")
			if !strings.HasPrefix(parts[0], "./") {
				continue // a named volume
			}
			if _, err := os.Stat(filepath.Join(repoRoot, "configs", parts[0])); err != nil {
				t.Errorf("%s mounts %s: %v", name, parts[0], err)
			}
			if len(parts) < 3 || parts[2] != "ro" {
				t.Errorf("%s mounts %s writable", name, parts[0])
			}
			mounts[parts[1]] = parts[0]
		}
	}
	if mounts["/etc/prometheus/campaigns.rules.yaml"] != "./monitoring/campaigns.rules.yaml" ||
		mounts["/var/lib/grafana/dashboards/campaigns-dashboard.json"] != "./monitoring/campaigns-dashboard.json" {
		t.Errorf("mounts %v: want the rules in Prometheus and the dashboard in Grafana", mounts)
	}
	var prom struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
			DNSSDConfigs []struct {
				Names []string `json:"names"`
				Port  int      `json:"port"`
			} `json:"dns_sd_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(readFile(t, "configs/monitoring/prometheus.yml"), &prom); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(prom.RuleFiles, []string{"/etc/prometheus/campaigns.rules.yaml"}) {
		t.Errorf("prometheus.yml rule_files %v", prom.RuleFiles)
	}
	jobs := map[string]string{}
	for _, sc := range prom.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			jobs[sc.JobName] = strings.Join(s.Targets, ",")
		}
		for _, d := range sc.DNSSDConfigs {
			jobs[sc.JobName] = strings.Join(d.Names, ",") + ":" + strconv.Itoa(d.Port)
		}
	}
	want := map[string]string{"campaigns-api": "api:" + strconv.Itoa(cfg.HTTP.Port), "campaigns-worker": "worker:" + strconv.Itoa(cfg.Worker.Port)}
	if !maps.Equal(jobs, want) {
		t.Errorf("scrape jobs %v, want %v", jobs, want)
	}
}
