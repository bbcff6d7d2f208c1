package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Report is the outcome of a run.
type Report struct {
	URL       string  `json:"url"`
	Run       string  `json:"run"`
	Rate      int     `json:"rate"` // requested req/s; 0 = as fast as the workers go
	Workers   int     `json:"workers"`
	Requested float64 `json:"requestedSeconds"`
	// Elapsed runs from the first request sent to the last answer received.
	Elapsed      float64 `json:"elapsedSeconds"`
	Batch        int     `json:"batch"`
	Fixtures     int     `json:"fixtures"`
	ReadFixtures int     `json:"readFixtures"`
	Activated    bool    `json:"activated"`
	// TrackedEvents is the number of events the tracking requests had accepted.
	TrackedEvents int `json:"trackedEvents"`
	// Mix is each class's share of the requests, in percent.
	Mix        map[Class]float64 `json:"mix"`
	Operations []OpStats         `json:"operations"`
	Total      OpStats           `json:"total"`
	// Deleted is the number of campaigns cleanup deleted (absent without cleanup).
	Deleted *int     `json:"deleted,omitempty"`
	Notes   []string `json:"notes"`
}

// OpStats are one operation's figures (or the totals').
type OpStats struct {
	Op       Op     `json:"op"`
	Class    Class  `json:"class,omitempty"`
	Requests uint64 `json:"requests"`
	// Share is the operation's part of all requests, in percent.
	Share float64 `json:"share"`
	// Rate is the requests per second over the run; Throughput counts only the 2xx/3xx ones.
	Rate       float64 `json:"rate"`
	Throughput float64 `json:"throughput"`
	// Success is the fraction of 2xx/3xx answers.
	Success     float64        `json:"success"`
	Latency     Latency        `json:"latencyMs"`
	StatusCodes map[string]int `json:"statusCodes"`
	// Errors are up to five distinct error texts (the status line, or why no answer came).
	Errors []string `json:"errors"`
}

// Latency in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func round(v float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(v*p) / p
}

func opStats(op Op, m *vegeta.Metrics, all uint64, elapsed float64) OpStats {
	m.Close()
	s := OpStats{Op: op, Class: classOf(op), Requests: m.Requests, Success: m.Success,
		StatusCodes: m.StatusCodes, Errors: m.Errors[:min(len(m.Errors), 5)],
		Latency: Latency{P50: ms(m.Latencies.P50), P90: ms(m.Latencies.P90), P99: ms(m.Latencies.P99),
			Max: ms(m.Latencies.Max), Mean: ms(m.Latencies.Mean)}}
	if s.StatusCodes == nil {
		s.StatusCodes = map[string]int{}
	}
	if s.Errors == nil {
		s.Errors = []string{}
	}
	if all > 0 {
		s.Share = 100 * float64(m.Requests) / float64(all)
	}
	if elapsed > 0 {
		// One clock for every operation (the whole run's), so that the rates add up.
		s.Rate = round(float64(m.Requests)/elapsed, 2)
		s.Throughput = round(float64(m.Requests)/elapsed*m.Success, 2)
	}
	s.Share, s.Success = round(s.Share, 2), round(s.Success, 4)
	return s
}

func (r *Report) fill(per map[Op]*vegeta.Metrics, total *vegeta.Metrics, tracked, swapped int) {
	total.Close()
	r.Elapsed = round((total.Duration + total.Wait).Seconds(), 3)
	r.TrackedEvents = tracked
	r.Mix = map[Class]float64{}
	for _, m := range Mix() {
		s := opStats(m.Op, per[m.Op], total.Requests, r.Elapsed)
		r.Operations = append(r.Operations, s)
		r.Mix[m.Class] += s.Share
	}
	for c, v := range r.Mix {
		r.Mix[c] = round(v, 2)
	}
	r.Total = opStats("total", total, total.Requests, r.Elapsed)
	if swapped > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d updates or lifecycle actions were sent as creates: every fixture "+
			"for them had a write in flight", swapped))
	}
	if r.Rate > 0 && r.Elapsed > 0 && r.Total.Rate < 0.9*float64(r.Rate) {
		r.Notes = append(r.Notes, fmt.Sprintf("%.1f req/s were sent of the %d asked: the API answered too slowly "+
			"for -workers %d to keep up", r.Total.Rate, r.Rate, r.Workers))
	}
	if n := r.Total.StatusCodes["429"]; n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d requests were rate-limited (429): the API limits each caller "+
			"(rate_limit.requests_per_second, rate_limit.serving.*); lower -rate or raise the limits", n))
	}
	if !r.Activated {
		r.Notes = append(r.Notes, "lifecycle = POST .../activate?dryRun=true (activation was refused)")
	}
}

// ServerErrors counts the 5xx answers.
func (r *Report) ServerErrors() int {
	n := 0
	for code, c := range r.Total.StatusCodes {
		if strings.HasPrefix(code, "5") && len(code) == 3 {
			n += c
		}
	}
	return n
}

// NoAnswer counts the requests that got no HTTP answer (timeouts, refused connections).
func (r *Report) NoAnswer() int { return r.Total.StatusCodes["0"] }

// WriteJSON prints the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText prints the report as a table.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "campaigns load test of %s (run %s)\n", r.URL, r.Run)
	fmt.Fprintf(w, "%d requests in %.1fs (requested %.0fs, %s)\n", r.Total.Requests, r.Elapsed, r.Requested, rateText(r.Rate, r.Workers))
	state := "ACTIVE"
	if !r.Activated {
		state = "DRAFT"
	}
	fmt.Fprintf(w, "fixtures: %d %s campaigns for reads and tracking, %d for updates, %d for lifecycle actions; %d events per tracking batch\n\n",
		r.ReadFixtures, state, writeFixtures, writeFixtures, r.Batch)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation  class\trequests\tshare\treq/s\tok/s\tp50\tp90\tp99\tmax\t  status codes")
	row := func(s OpStats) {
		fmt.Fprintf(tw, "%-10s %-5s\t%d\t%.1f%%\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t  %s\n", s.Op, s.Class, s.Requests, s.Share,
			s.Rate, s.Throughput, fmtMs(s.Latency.P50), fmtMs(s.Latency.P90), fmtMs(s.Latency.P99), fmtMs(s.Latency.Max),
			codes(s.StatusCodes))
	}
	for _, s := range r.Operations {
		row(s)
	}
	row(r.Total)
	_ = tw.Flush()
	fmt.Fprintf(w, "\nmix: read %.1f%%, track %.1f%%, write %.1f%% (aim 80/15/5)\n",
		r.Mix[ClassRead], r.Mix[ClassTrack], r.Mix[ClassWrite])
	fmt.Fprintf(w, "tracking: %d events accepted (%.0f events/s)\n", r.TrackedEvents, float64(r.TrackedEvents)/max(r.Elapsed, 1e-9))
	for _, s := range append(slices.Clone(r.Operations), r.Total) {
		if s.Op != "total" && len(s.Errors) > 0 && s.Success < 1 {
			fmt.Fprintf(w, "errors of %s: %s\n", s.Op, strings.Join(s.Errors, "; "))
		}
	}
	if r.Deleted != nil {
		fmt.Fprintf(w, "cleanup: deleted %d campaigns\n", *r.Deleted)
	} else {
		fmt.Fprintf(w, "cleanup: off; the run's campaigns are named %s-*\n", r.Run)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func fmtMs(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
}

// codes prints status codes in order, "200:351 412:1"; 0 is no answer.
func codes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, " ")
}
