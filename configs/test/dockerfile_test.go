package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY...
	args string
}

// parseDockerfile is a light parser: comments dropped, "\" continuations joined, one
// instruction per line. Enough to check the file's structure, not a BuildKit replacement.
func parseDockerfile(t *testing.T, src string) [][]instruction {
	t.Helper()
	var stages [][]instruction
	var pending string
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && pending == "") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			pending += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		full := strings.TrimSpace(pending + trimmed)
		pending = ""
		if full == "" {
			continue
		}
		cmd, args, _ := strings.Cut(full, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		switch {
		case in.cmd == "FROM":
			stages = append(stages, []instruction{in})
		case len(stages) == 0 && in.cmd == "ARG":
			// A global build argument, before the first stage.
		case len(stages) == 0:
			t.Fatalf("Dockerfile: %s before the first FROM", in.cmd)
		default:
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if pending != "" {
		t.Fatal("Dockerfile ends in a continuation")
	}
	return stages
}

func find(stage []instruction, cmd string) []instruction {
	var out []instruction
	for _, in := range stage {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// execForm decodes an exec-form (JSON array) argument, failing on the shell form: the final
// image has no shell.
func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("%s %q is not in exec form (the image has no shell): %v", what, args, err)
	}
	return argv
}

func dockerfileStages(t *testing.T) [][]instruction {
	t.Helper()
	stages := parseDockerfile(t, string(readFile(t, "configs/Dockerfile")))
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage Dockerfile, got %d stage(s)", len(stages))
	}
	return stages
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	src := string(readFile(t, "configs/Dockerfile"))
	stages := dockerfileStages(t)
	build, final := stages[0], stages[len(stages)-1]
	cfg := loadProductionConfig(t)

	// The Go toolchain of the build stage is the one go.mod asks for.
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(readFile(t, "go.mod")))
	if goVersion == nil || !strings.Contains(src, "ARG GO_VERSION="+goVersion[1]+"\n") {
		t.Errorf("the build stage's GO_VERSION is not go.mod's go %v", goVersion)
	}
	if !strings.HasPrefix(build[0].args, "golang:${GO_VERSION}") || !strings.HasSuffix(build[0].args, " AS build") {
		t.Errorf("build stage: FROM %s", build[0].args)
	}

	// Static binaries, both built.
	var buildEnv, runs string
	for _, in := range find(build, "ENV") {
		buildEnv += in.args + " "
	}
	for _, in := range find(build, "RUN") {
		runs += in.args + "\n"
	}
	if !strings.Contains(buildEnv, "CGO_ENABLED=0") {
		t.Error("the build stage does not set CGO_ENABLED=0")
	}
	for _, cmd := range []string{"campaigns-api", "campaigns-worker"} {
		if !strings.Contains(runs, "-o /out/"+cmd+" ./cmd/"+cmd) {
			t.Errorf("the build stage does not build ./cmd/%s", cmd)
		}
		if _, err := os.Stat(filepath.Join(repoRoot, "cmd", cmd, "main.go")); err != nil {
			t.Errorf("cmd/%s: %v", cmd, err)
		}
	}

	// The final stage: no shell, both binaries, the production config, a non-root numeric user.
	if !strings.HasPrefix(final[0].args, "gcr.io/distroless/static") && final[0].args != "scratch" {
		t.Errorf("final stage FROM %s: want distroless static or scratch", final[0].args)
	}
	var copies string
	for _, in := range find(final, "COPY") {
		copies += in.args + "\n"
		if !strings.Contains(in.args, "--from=") {
			src := strings.Fields(in.args)[0]
			if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
				t.Errorf("COPY %s: not in the build context: %v", src, err)
			}
		}
	}
	for _, want := range []string{"/out/campaigns-api", "/out/campaigns-worker", "configs/config.production.yaml /etc/campaigns/config.yaml"} {
		if !strings.Contains(copies, want) {
			t.Errorf("the final stage does not copy %s", want)
		}
	}
	if !strings.Contains(copies, "--chown=65532:65532 /out/data "+cfg.DataDir) {
		t.Errorf("data_dir %s is not created owned by the runtime user", cfg.DataDir)
	}
	users := find(final, "USER")
	if len(users) != 1 {
		t.Fatalf("the final stage has %d USER instructions, want 1", len(users))
	}
	uid, gid, _ := strings.Cut(users[0].args, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric non-root uid (Kubernetes' runAsNonRoot checks it)", users[0].args)
	}
	if n, err := strconv.Atoi(gid); err != nil || n == 0 {
		t.Errorf("USER %s: want a numeric non-root gid", users[0].args)
	}
	envs := ""
	for _, in := range find(final, "ENV") {
		envs += in.args + " "
	}
	if !strings.Contains(envs, "CAMPAIGNS_CONFIG=/etc/campaigns/config.yaml") {
		t.Error("the image does not point CAMPAIGNS_CONFIG at its config")
	}
	vols := find(final, "VOLUME")
	if len(vols) != 1 || execForm(t, "VOLUME", vols[0].args)[0] != cfg.DataDir {
		t.Errorf("want VOLUME [%q] (data_dir), got %v", cfg.DataDir, vols)
	}
	exposes := find(final, "EXPOSE")
	want := strconv.Itoa(cfg.HTTP.Port) + " " + strconv.Itoa(cfg.Worker.Port)
	if len(exposes) != 1 || exposes[0].args != want {
		t.Errorf("EXPOSE %v, want %s (http.port, worker.port)", exposes, want)
	}

	// HEALTHCHECK and CMD run the binaries' own commands (checked by TestImageCommandsAsNonRoot).
	hc := find(final, "HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("want one HEALTHCHECK, got %d", len(hc))
	}
	_, hcCmd, ok := strings.Cut(hc[0].args, "CMD ")
	if !ok || !slices.Equal(execForm(t, "HEALTHCHECK", hcCmd), []string{"campaigns-api", "healthcheck"}) {
		t.Errorf("HEALTHCHECK %s: want CMD [\"campaigns-api\", \"healthcheck\"]", hc[0].args)
	}
	cmds := find(final, "CMD")
	if len(cmds) != 1 || !slices.Equal(execForm(t, "CMD", cmds[0].args), []string{"campaigns-api"}) {
		t.Errorf("CMD %v: want [\"campaigns-api\"]", cmds)
	}
}
