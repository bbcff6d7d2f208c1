package test

import (
	"regexp"
	"slices"
	"strconv"
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
	Restart         string `json:"restart"`
	StopGracePeriod string `json:"stop_grace_period"`
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
	if want := []string{"api", "migrate", "nats", "postgres", "worker"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
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
