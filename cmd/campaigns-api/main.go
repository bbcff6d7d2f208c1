// Command campaigns-api serves the campaigns HTTP API, or manages its schema with
// "migrate up|down|status".
package main

import (
	"context"
	"errors"
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
	fs := flag.NewFlagSet("campaigns-api", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML config file (default $CAMPAIGNS_CONFIG, else "+config.DefaultFile+")")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch rest := fs.Args(); {
	case len(rest) == 0:
		logger := app.NewLogger(cfg.Log, os.Stderr)
		if err := app.RunAPI(ctx, cfg, logger); err != nil {
			logger.Error("campaigns API stopped", "error", err)
			return 1
		}
		return 0
	case len(rest) == 2 && rest[0] == "migrate":
		if err := app.Migrate(ctx, cfg, rest[1], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if errors.Is(err, app.ErrUsage) {
				return 2
			}
			return 1
		}
		return 0
	default:
		fmt.Fprintln(os.Stderr, app.ErrUsage)
		return 2
	}
}
