// Command campaigns-worker runs the background work of the campaigns service and serves its
// own /health and /ready; "healthcheck" probes a running worker's /health (exit 0 when it
// answers 200).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // scheduling rules name IANA zones; do not depend on the host's zoneinfo

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command: it returns the exit code (0 ok, 1 failure, 2 bad usage or config)
// and stops when ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("campaigns-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file (default $CAMPAIGNS_CONFIG, else "+config.DefaultFile+")")
	version := fs.Bool("version", false, "print the version and the VCS revision, and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: campaigns-worker [--config FILE] [healthcheck]

Runs the background work (event relay, tracking aggregation, automation, housekeeping) and
serves /health and /ready; "healthcheck" probes a running worker's /health.

Every setting is a key of the YAML file or a CAMPAIGNS_* environment variable
(nats.url: CAMPAIGNS_NATS_URL); see the Configuration table of configs/README.md.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, app.Version("campaigns-worker"))
		return 0
	}
	healthcheck := fs.NArg() == 1 && fs.Arg(0) == "healthcheck"
	if fs.NArg() > 0 && !healthcheck {
		fmt.Fprintln(stderr, "usage: campaigns-worker [--config FILE] [healthcheck]")
		return 2
	}
	// A misspelt variable would be ignored and its default used: refuse it as YAML does.
	if err := config.CheckEnvironment(os.Environ()); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if healthcheck {
		if err := httpx.ProbeHealth(ctx, cfg.Worker.Addr()); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	logger := app.NewLogger(cfg.Log, stderr)
	if err := app.RunWorker(ctx, cfg, logger); err != nil {
		var cerr *config.Error
		if errors.As(err, &cerr) {
			fmt.Fprintln(stderr, err)
			return 2
		}
		logger.Error("campaigns worker stopped", "error", err)
		return 1
	}
	return 0
}
