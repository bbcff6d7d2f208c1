package test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nobody is the unprivileged user the image's commands run as here (the image's own is 65532).
const nobody = 65534

// TestImageCommandsAsNonRoot runs the commands the Dockerfile and compose.yaml give the image,
// as an unprivileged user with a read-only config directory and a writable data directory, as
// in the container: the migration, the API and a worker serve, their healthchecks pass, and a
// data dir the user cannot write is refused.
func TestImageCommandsAsNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching to an unprivileged user needs root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	cmds := composeCommands(t)
	for name, argv := range cmds {
		if argv[0] != "campaigns-api" && argv[0] != "campaigns-worker" {
			t.Fatalf("compose %s runs %v: not a binary of the image", name, argv)
		}
	}

	root := t.TempDir()
	open := func(dir string) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	open(filepath.Dir(root))
	open(root)
	bin := filepath.Join(root, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/campaigns-api", "./cmd/campaigns-worker")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// /etc/campaigns: root's, read-only to the user. Data dirs: the user's.
	confDir := filepath.Join(root, "etc")
	apiPort, workerPort, natsPort := freePort(t), freePort(t), freePort(t)
	config := fmt.Sprintf(`data_dir: %s
http: {host: 127.0.0.1, port: %d, shutdown_timeout: 5s}
database: {driver: sqlite, auto_migrate: false}
nats: {embedded: true, embedded_port: %d}
worker: {embedded: false, host: 127.0.0.1, port: %d}
`, filepath.Join(root, "api-data"), apiPort, natsPort, workerPort)
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	confFile := filepath.Join(confDir, "config.yaml")
	if err := os.WriteFile(confFile, []byte(config), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(confDir, 0o555); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"api-data", "worker-data"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(root, d), nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	// The worker is a process of its own on the API's embedded NATS, with its data dir.
	workerEnv := []string{"CAMPAIGNS_DATA_DIR=" + filepath.Join(root, "worker-data"), "CAMPAIGNS_DATABASE_SQLITE_PATH=" + filepath.Join(root, "api-data", "campaigns.db"),
		"CAMPAIGNS_NATS_EMBEDDED=false", fmt.Sprintf("CAMPAIGNS_NATS_URL=nats://127.0.0.1:%d", natsPort)}

	command := func(argv []string, env ...string) *exec.Cmd {
		args := append([]string{fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
			filepath.Join(bin, argv[0])}, argv[1:]...)
		cmd := exec.Command(setpriv, args...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "CAMPAIGNS_CONFIG=" + confFile}, env...)
		return cmd
	}
	run := func(name string, argv []string, env ...string) (int, string) {
		t.Helper()
		out, err := command(argv, env...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return 0, string(out)
	}
	start := func(name string, argv []string, env ...string) *exec.Cmd {
		t.Helper()
		cmd := command(argv, env...)
		log, err := os.Create(filepath.Join(root, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		})
		return cmd
	}

	// The migration, as compose runs it.
	if code, out := run("migrate", cmds["migrate"]); code != 0 || !strings.Contains(out, "migrations applied") {
		t.Fatalf("%v exited %d: %s", cmds["migrate"], code, out)
	}
	// The healthcheck fails while nothing serves.
	if code, _ := run("api healthcheck", cmds["api healthcheck"]); code != 1 {
		t.Errorf("%v with no API: exit %d, want 1", cmds["api healthcheck"], code)
	}

	api := start("api", cmds["api"])
	waitHealth(t, apiPort, root, "api")
	worker := start("worker", cmds["worker"], workerEnv...)
	waitHealth(t, workerPort, root, "worker")
	for _, name := range []string{"api healthcheck", "worker healthcheck"} {
		env := []string{}
		if strings.HasPrefix(name, "worker") {
			env = workerEnv
		}
		if code, out := run(name, cmds[name], env...); code != 0 {
			t.Errorf("%v: exit %d: %s", cmds[name], code, out)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/docs", apiPort))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /docs: %v %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}

	// SIGTERM: both stop cleanly.
	for name, cmd := range map[string]*exec.Cmd{"api": api, "worker": worker} {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s stopped with %v; log: %s", name, err, readLog(root, name))
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop on SIGTERM", name)
		}
	}

	// What they wrote is in their data dirs, owned by the user; the config dir is untouched.
	st, err := os.Stat(filepath.Join(root, "api-data", "campaigns.db"))
	if err != nil || st.Sys().(*syscall.Stat_t).Uid != nobody {
		t.Errorf("api-data/campaigns.db: %v (owner %v)", err, st)
	}
	if entries, _ := os.ReadDir(confDir); len(entries) != 1 {
		t.Errorf("the config dir gained files: %v", entries)
	}
	// A data dir the user cannot write is refused, naming it.
	code, out := run("api on a read-only data dir", cmds["api"], "CAMPAIGNS_DATA_DIR="+confDir, fmt.Sprintf("CAMPAIGNS_HTTP_PORT=%d", freePort(t)))
	if code == 0 || !strings.Contains(out, confDir) {
		t.Errorf("the API on a read-only data dir: exit %d: %s", code, out)
	}
	if entries, _ := os.ReadDir(confDir); len(entries) != 1 {
		t.Errorf("the API wrote into the read-only config dir: %v", entries)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func readLog(root, name string) string {
	b, _ := os.ReadFile(filepath.Join(root, name+".log"))
	return string(b)
}

func waitHealth(t *testing.T, port int, root, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	for ctx.Err() == nil {
		resp, err := http.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: no healthy answer on %s; log:\n%s", name, url, readLog(root, name))
}
