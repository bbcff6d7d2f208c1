// Package loadtest drives a running campaigns API with a realistic mix of reads, tracking
// batches and writes for a bounded time, and reports throughput, latency percentiles and status
// codes per operation. It lives under cmd/ so that the load generator (vegeta) is compiled into
// the API binary only, never into the library packages an embedder imports.
package loadtest

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The bounds of the flags: a load test always stops by itself.
const (
	DefaultURL       = "http://127.0.0.1:8080"
	DefaultDuration  = 30 * time.Second
	MaxDuration      = 10 * time.Minute
	DefaultRate      = 50
	MaxRate          = 100_000
	DefaultWorkers   = 32
	MaxWorkers       = 1024
	DefaultTimeout   = 10 * time.Second
	MaxTimeout       = time.Minute
	DefaultCampaigns = 10
	MaxCampaigns     = 500
	DefaultBatch     = 20
	MaxBatch         = 1000 // the API's own limit per /track request
	DefaultPrefix    = "loadtest"
)

// Config is one load test. Zero fields take the defaults noted; Validate checks the bounds.
type Config struct {
	// URL is the API's base URL (DefaultURL); only http and https are accepted.
	URL string
	// Duration bounds the attack (DefaultDuration, at most MaxDuration). Requests in flight
	// when it ends may take up to Timeout more; setup and cleanup come on top.
	Duration time.Duration
	// Rate is the requests per second to send (DefaultRate); 0 sends as fast as Workers allow.
	Rate int
	// Workers caps the requests in flight (DefaultWorkers, at most MaxWorkers).
	Workers int
	// Timeout bounds each request (DefaultTimeout, at most MaxTimeout).
	Timeout time.Duration
	// Token is sent as "Authorization: Bearer" (auth.mode jwt); APIKey as X-API-Key
	// (auth.mode apikey). At most one of them. With neither, X-User-ID names the caller
	// (auth.mode none). The caller needs campaigns:read, campaigns:write,
	// campaigns:lifecycle and tracking:write (the admin role, or editor+manager+tracker).
	Token  string
	APIKey string
	// UserID is the X-User-ID sent when there is no token or key (default: a new UUID).
	UserID string
	// Campaigns is the number of fixture campaigns that reads and tracking spread over
	// (DefaultCampaigns); a few more are made for updates and pause/resume.
	Campaigns int
	// Batch is the number of events per tracking request (DefaultBatch, at most MaxBatch).
	Batch int
	// Prefix starts the name of every campaign the run makes, followed by a run id
	// (DefaultPrefix).
	Prefix string
	// RuleID is the targeting rule the fixtures carry: activation needs one, and a deployment
	// with a Rules Engine needs an existing ACTIVE rule (default: a new UUID, which a
	// deployment without a Rules Engine accepts).
	RuleID string
	// Cleanup deletes every campaign of the run at the end (cancelling the active ones).
	Cleanup bool
	// JSON prints the report as JSON instead of a table.
	JSON bool
}

// ErrUsage marks a flag or value the load test refuses.
var ErrUsage = errors.New("loadtest: bad usage")

func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// ParseFlags reads the loadtest subcommand's flags. Usage and errors go to stderr; the error
// wraps ErrUsage (or is flag.ErrHelp for -h).
func ParseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("campaigns-api loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{}
	fs.StringVar(&cfg.URL, "url", DefaultURL, "base URL of the API to load (http or https only)")
	fs.DurationVar(&cfg.Duration, "duration", DefaultDuration, "how long to send requests (at most "+MaxDuration.String()+")")
	fs.IntVar(&cfg.Rate, "rate", DefaultRate, "requests per second; 0 = as fast as -workers allow")
	fs.IntVar(&cfg.Workers, "workers", DefaultWorkers, fmt.Sprintf("maximum requests in flight (at most %d)", MaxWorkers))
	fs.DurationVar(&cfg.Timeout, "timeout", DefaultTimeout, "timeout of each request")
	fs.StringVar(&cfg.Token, "token", "", "bearer token (auth.mode jwt; default $CAMPAIGNS_LOADTEST_TOKEN)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "API key sent as X-API-Key (auth.mode apikey; default $CAMPAIGNS_LOADTEST_API_KEY)")
	fs.StringVar(&cfg.UserID, "user", "", "X-User-ID when there is no token or key (auth.mode none; default: a new UUID)")
	fs.IntVar(&cfg.Campaigns, "campaigns", DefaultCampaigns, "fixture campaigns that reads and tracking spread over")
	fs.IntVar(&cfg.Batch, "batch", DefaultBatch, fmt.Sprintf("events per tracking request (at most %d)", MaxBatch))
	fs.StringVar(&cfg.Prefix, "prefix", DefaultPrefix, "name prefix of the campaigns the run makes")
	fs.StringVar(&cfg.RuleID, "rule", "", "targeting rule id the fixtures carry (an ACTIVE rule when the API has a Rules Engine)")
	fs.BoolVar(&cfg.Cleanup, "cleanup", true, "delete the run's campaigns at the end")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: campaigns-api loadtest [flags]")
		fmt.Fprintln(stderr, "Sends 80% reads, 15% tracking batches and 5% writes to a running API and reports latencies.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, usageError("unexpected arguments %q", fs.Args())
	}
	return cfg, nil
}

// withEnv fills the credentials from the environment when the flags left them empty, so that
// they need not appear in a process listing.
func (c Config) withEnv(lookup func(string) (string, bool)) Config {
	if c.Token == "" && c.APIKey == "" {
		if v, ok := lookup("CAMPAIGNS_LOADTEST_TOKEN"); ok {
			c.Token = v
		}
		if v, ok := lookup("CAMPAIGNS_LOADTEST_API_KEY"); ok {
			c.APIKey = v
		}
	}
	return c
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Campaigns == 0 {
		c.Campaigns = DefaultCampaigns
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.UserID == "" && c.Token == "" && c.APIKey == "" {
		c.UserID = uuid.NewString()
	}
	if c.RuleID == "" {
		c.RuleID = uuid.NewString()
	}
	return c
}

// Validate checks every bound and returns the base URL without a trailing slash.
func (c Config) Validate() (*url.URL, error) {
	base, err := parseBaseURL(c.URL)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return nil, usageError("-duration must be above 0 and at most %s, got %s", MaxDuration, c.Duration)
	case c.Rate < 0 || c.Rate > MaxRate:
		return nil, usageError("-rate must be from 0 to %d requests per second, got %d", MaxRate, c.Rate)
	case c.Workers < 1 || c.Workers > MaxWorkers:
		return nil, usageError("-workers must be from 1 to %d, got %d", MaxWorkers, c.Workers)
	case c.Timeout < 100*time.Millisecond || c.Timeout > MaxTimeout:
		return nil, usageError("-timeout must be from 100ms to %s, got %s", MaxTimeout, c.Timeout)
	case c.Campaigns < 1 || c.Campaigns > MaxCampaigns:
		return nil, usageError("-campaigns must be from 1 to %d, got %d", MaxCampaigns, c.Campaigns)
	case c.Batch < 1 || c.Batch > MaxBatch:
		return nil, usageError("-batch must be from 1 to %d, got %d", MaxBatch, c.Batch)
	case c.Token != "" && c.APIKey != "":
		return nil, usageError("give -token or -api-key, not both (the API refuses both at once)")
	case c.UserID != "" && uuid.Validate(c.UserID) != nil:
		return nil, usageError("-user must be a UUID, got %q", c.UserID)
	case c.RuleID != "" && uuid.Validate(c.RuleID) != nil:
		return nil, usageError("-rule must be a UUID, got %q", c.RuleID)
	case !validPrefix(c.Prefix):
		return nil, usageError("-prefix must be 1 to 64 letters, digits, '-' or '_', got %q", c.Prefix)
	}
	return base, nil
}

func validPrefix(p string) bool {
	if p == "" || len(p) > 64 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// parseBaseURL accepts an absolute http or https URL with a host, and optionally a path prefix
// (an API behind a proxy path). Credentials, queries and fragments are refused: credentials
// belong in -token or -api-key.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usageError("-url %q is not a URL: %v", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, usageError("-url must be an http or https URL, got %q", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, usageError("-url %q has no host", raw)
	case u.User != nil:
		return nil, usageError("-url must not carry credentials; use -token or -api-key")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, usageError("-url must not have a query or a fragment, got %q", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}
