package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Main is the loadtest subcommand: it parses args, runs the test and prints the report on
// stdout (progress on stderr). It returns the exit code: 0 done, 1 the setup failed or some
// request got a 5xx or no answer, 2 bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	cfg, err := ParseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg = cfg.withEnv(lookupEnv)
	// Validated as given: a flag set to 0 is refused, not taken for "the default".
	if _, err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	rep, err := Run(ctx, cfg, stderr)
	if errors.Is(err, ErrUsage) {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if rep != nil {
		if cfg.JSON {
			err2 := rep.WriteJSON(stdout)
			err = errors.Join(err, err2)
		} else {
			rep.WriteText(stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if rep.ServerErrors() > 0 || rep.NoAnswer() > 0 {
		fmt.Fprintf(stderr, "loadtest: %d requests got a 5xx and %d no answer\n", rep.ServerErrors(), rep.NoAnswer())
		return 1
	}
	return 0
}

// Run sets up the fixtures, attacks for cfg.Duration, cleans up (when cfg.Cleanup) and returns
// the report. Progress lines go to progress. When ctx ends the attack stops early and cleanup
// still runs. The report is returned with a cleanup error too.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	cfg = cfg.withDefaults()
	base, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	var seedBytes [8]byte
	_, _ = rand.Read(seedBytes[:]) // crypto/rand.Read never fails
	seed := binary.LittleEndian.Uint64(seedBytes[:])
	run := cfg.Prefix + "-" + hex.EncodeToString(seedBytes[:3])

	header := http.Header{"User-Agent": {"campaigns-api-loadtest"}}
	switch {
	case cfg.Token != "":
		header.Set("Authorization", "Bearer "+cfg.Token)
	case cfg.APIKey != "":
		header.Set("X-API-Key", cfg.APIKey)
	default:
		header.Set("X-User-ID", cfg.UserID)
	}
	// Only the URL given: no proxy from the environment, no redirects followed.
	noProxy := func(*http.Request) (*url.URL, error) { return nil, nil }
	setupClient := &client{base: base.String(), header: header, http: &http.Client{
		Timeout:       cfg.Timeout,
		Transport:     &http.Transport{Proxy: noProxy, MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	defer setupClient.http.CloseIdleConnections()

	p := newPlan(base, header, run, cfg.Batch, seed)
	fmt.Fprintf(progress, "loadtest: run %s: creating %d fixture campaigns on %s\n", run, cfg.Campaigns+2*writeFixtures, base)
	note, err := p.setup(ctx, setupClient, cfg)
	if err != nil {
		err = fmt.Errorf("loadtest setup: %w", err)
		if cfg.Cleanup {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			_, cerr := p.cleanup(cctx, setupClient)
			cancel()
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	rep := &Report{URL: base.String(), Run: run, Rate: cfg.Rate, Workers: cfg.Workers, Requested: cfg.Duration.Seconds(),
		Batch: cfg.Batch, Activated: p.activated, Fixtures: len(p.all), ReadFixtures: len(p.reads), Notes: []string{}}
	if note != "" {
		rep.Notes = append(rep.Notes, note)
	}

	fmt.Fprintf(progress, "loadtest: attacking for %s (%s)\n", cfg.Duration, rateText(cfg.Rate, cfg.Workers))
	per := map[Op]*vegeta.Metrics{}
	for _, m := range Mix() {
		per[m.Op] = &vegeta.Metrics{}
	}
	var total vegeta.Metrics
	tracked := 0
	p.attack(ctx, cfg, noProxy, func(res *vegeta.Result) {
		op, id := p.classify(res.Method, res.URL)
		if m := per[op]; m != nil {
			m.Add(res)
		}
		total.Add(res)
		if op == OpTrack && res.Code == http.StatusAccepted {
			var body struct {
				Accepted int `json:"accepted"`
			}
			if json.Unmarshal(res.Body, &body) == nil {
				tracked += body.Accepted
			}
		}
		p.observe(ctx, setupClient, res, op, id)
	})
	p.refreshes.Wait()
	rep.fill(per, &total, tracked, p.swapped)

	if cfg.Cleanup {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		fmt.Fprintf(progress, "loadtest: deleting the run's campaigns\n")
		n, err := p.cleanup(cctx, setupClient)
		rep.Deleted = &n
		if err != nil {
			return rep, fmt.Errorf("loadtest cleanup: %w", err)
		}
	}
	return rep, nil
}

// attack runs vegeta's Attacker with the plan's Targeter and hands each result to observe,
// until the duration is over or ctx ends.
func (p *plan) attack(ctx context.Context, cfg Config, proxy func(*http.Request) (*url.URL, error), observe func(*vegeta.Result)) {
	initial := min(cfg.Workers, 16)
	if cfg.Rate == 0 {
		initial = cfg.Workers // closed loop: every worker sends back to back
	}
	atk := vegeta.NewAttacker(
		vegeta.Timeout(cfg.Timeout),
		vegeta.Workers(uint64(initial)),
		vegeta.MaxWorkers(uint64(cfg.Workers)),
		vegeta.Connections(cfg.Workers),
		vegeta.KeepAlive(true),
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.MaxBody(1<<20),
		vegeta.Proxy(proxy),
	)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	pacer := vegeta.ConstantPacer{Freq: cfg.Rate, Per: time.Second}
	for res := range atk.Attack(p.Targeter(), pacer, cfg.Duration, p.run) {
		observe(res)
	}
}

func rateText(rate, workers int) string {
	if rate == 0 {
		return fmt.Sprintf("as fast as %d workers go", workers)
	}
	return fmt.Sprintf("%d req/s, at most %d in flight", rate, workers)
}
