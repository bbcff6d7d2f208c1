// Command campaigns-api serves the campaigns HTTP API, manages its schema with
// "migrate up|down|status", probes a running API's /health with "healthcheck" (exit 0 when
// it answers 200: a container HEALTHCHECK needs no shell or curl), or drives a running API
// with a realistic mix of requests with "loadtest" (flags: "loadtest -h").
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
	"time"
	_ "time/tzdata" // scheduling rules name IANA zones; do not depend on the host's zoneinfo

	"github.com/engine-rules-sp/campaigns/cmd/campaigns-api/internal/loadtest"
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
// and stops serving when ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("campaigns-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file (default $CAMPAIGNS_CONFIG, else "+config.DefaultFile+")")
	version := fs.Bool("version", false, "print the version and the VCS revision, and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: campaigns-api [--config FILE] [command]

Commands:
  (none)               serve the API (and, on the embedded default, its worker)
  migrate up|down|status
                       manage the database schema
  healthcheck          probe a running API's /health (exit 0 when it answers 200)
  loadtest [flags]     drive a running API with a realistic mix (loadtest -h)

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
		fmt.Fprintln(stdout, app.Version("campaigns-api"))
		return 0
	}
	if rest := fs.Args(); len(rest) > 0 && rest[0] == "loadtest" {
		// A client of another deployment: the service's own configuration plays no part.
		return loadtest.Main(ctx, rest[1:], stdout, stderr, os.LookupEnv)
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

	switch rest := fs.Args(); {
	case len(rest) == 0:
		now, err := app.TestClock(os.LookupEnv, time.Now)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		logger := app.NewLogger(cfg.Log, stderr)
		if err := app.RunAPIWith(ctx, cfg, logger, app.APIConfig{Now: now}); err != nil {
			var cerr *config.Error
			if errors.As(err, &cerr) {
				// A setting the API refuses to serve with (auth.mode none on a public address...).
				fmt.Fprintln(stderr, err)
				return 2
			}
			logger.Error("campaigns API stopped", "error", err)
			return 1
		}
		return 0
	case len(rest) == 1 && rest[0] == "healthcheck":
		if err := httpx.ProbeHealth(ctx, cfg.HTTP.Addr()); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	case len(rest) == 2 && rest[0] == "migrate":
		if err := app.Migrate(ctx, cfg, rest[1], stdout); err != nil {
			fmt.Fprintln(stderr, err)
			if errors.Is(err, app.ErrUsage) {
				return 2
			}
			return 1
		}
		return 0
	default:
		fmt.Fprintln(stderr, app.ErrUsage)
		fmt.Fprintln(stderr, "       campaigns-api loadtest [flags] (campaigns-api loadtest -h)")
		return 2
	}
}
