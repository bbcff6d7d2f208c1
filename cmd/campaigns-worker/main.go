// Command campaigns-worker runs the background work of the campaigns service and serves its
// own /health and /ready.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // scheduling rules name IANA zones; do not depend on the host's zoneinfo

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/config"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("campaigns-worker", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML config file (default $CAMPAIGNS_CONFIG, else "+config.DefaultFile+")")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: campaigns-worker [--config FILE]")
		return 2
	}
	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := app.NewLogger(cfg.Log, os.Stderr)
	if err := app.RunWorker(ctx, cfg, logger); err != nil {
		logger.Error("campaigns worker stopped", "error", err)
		return 1
	}
	return 0
}
