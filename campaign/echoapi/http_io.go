package echoapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// The routes of the export and the import, under the group Register mounts them on. A host
// that gives them their own body limit and deadline (httpx.RouteLimits) names them so.
const (
	ExportPath = "/campaigns/export"
	ImportPath = "/campaigns/import"
)

// Media types of the export and the import.
const (
	MediaJSONLines = "application/x-ndjson"
	MediaCSV       = "text/csv"
)

// IOHandler serves the export (GET /campaigns/export) and the import (POST /campaigns/import)
// of campaigns.
type IOHandler struct {
	h        *Handler
	svc      *campaign.Service
	totals   campaign.TotalsSource
	maxLine  int
	maxLines int
	tempDir  string
	logger   *slog.Logger
}

// IOConfig is the optional part of an IOHandler; its zero value is usable.
type IOConfig struct {
	// Logger logs what the problem responses do not show (nil: slog.Default()).
	Logger *slog.Logger
	// Totals, when set, lets an export add each campaign's performance totals
	// (includeMetrics=true; without it that is a 400).
	Totals campaign.TotalsSource
	// MaxLineBytes is the longest line of a JSON Lines import, one campaign (default
	// httpx.DefaultBodyLimit, the limit of a create's body).
	MaxLineBytes int
	// MaxLines is the most campaigns one import takes (default DefaultImportMaxLines): the
	// report has one result per line, so the answer stays bounded. Past it: 413.
	MaxLines int
	// TempDir is where an all-or-nothing or dry-run import spools its body before it reads
	// it, twice (default os.TempDir()).
	TempDir string
}

// DefaultImportMaxLines is IOConfig.MaxLines when none is set.
const DefaultImportMaxLines = 100_000

// MaxReportedProblems is how many failed lines of one import keep their problem in the
// report; the later failed lines keep their status, and the summary counts the problems left
// out (problemsOmitted). A file of broken lines thus gets a bounded answer.
const MaxReportedProblems = 1000

// NewIOHandler returns the export and import handler of svc. An all-or-nothing import is
// checked whole (Service.CheckCreate), then written in short transactions
// (Service.StartImport); svc's store must be a campaign.ImportStore (campaign/bunstore is).
func NewIOHandler(svc *campaign.Service, cfg IOConfig) *IOHandler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxLineBytes <= 0 {
		cfg.MaxLineBytes = httpx.DefaultBodyLimit
	}
	if cfg.MaxLines <= 0 {
		cfg.MaxLines = DefaultImportMaxLines
	}
	return &IOHandler{
		h: NewHandler(svc, HandlerConfig{Logger: cfg.Logger}), svc: svc, totals: cfg.Totals,
		maxLine: cfg.MaxLineBytes, maxLines: cfg.MaxLines, tempDir: cfg.TempDir, logger: cfg.Logger,
	}
}

// Register mounts the routes under g (usually /api/v1). /campaigns/export is a static route:
// Echo matches it before /campaigns/:id, whatever the order of registration.
func (h *IOHandler) Register(g httpx.Router) {
	p := httpx.Problems(h.logger)
	exportParams := append(listParams()[:0:0], httpx.One("format"), httpx.One("includeMetrics"))
	for _, prm := range listParams() {
		if prm.Name != "limit" && prm.Name != "cursor" {
			exportParams = append(exportParams, prm)
		}
	}
	g.GET(ExportPath, h.export, p, httpx.Query(exportParams...))
	g.POST(ImportPath, h.importFile, p, httpx.Query(httpx.One("mode"), httpx.One("dryRun"), httpx.One("onConflict")))
}

// The export.

func (h *IOHandler) export(c echo.Context) error {
	q := c.QueryParams()
	var errs fieldErrors
	format := q.Get("format")
	switch format {
	case "":
		format = "jsonl"
	case "jsonl", "csv":
	default:
		errs.add("format", "must be jsonl or csv")
	}
	withMetrics := parseBool(q, "includeMetrics", &errs)
	f, ferr := parseFilter(q)
	if ferr != nil || len(errs) > 0 {
		p := httpx.BadRequest("the query string is invalid", errs...)
		var fp *httpx.Problem
		if errors.As(ferr, &fp) {
			p.Errors = append(fp.Errors, errs...)
		}
		return p
	}
	if withMetrics && h.totals == nil {
		return httpx.BadRequest("this service has no metrics to export",
			httpx.FieldError{Field: "includeMetrics", Message: "is not available here"})
	}
	ctx := c.Request().Context()
	w := &exportWriter{c: c, csv: format == "csv", totals: h.totals, withMetrics: withMetrics, now: h.svc.Now()}
	f.Now = w.now
	err := h.svc.Export(ctx, f, func(page []*campaign.View) error { return w.page(ctx, page) })
	if err == nil {
		return w.finish()
	}
	if !w.started {
		return h.h.problem(err, false) // nothing sent yet: an ordinary problem
	}
	// The status line is gone: say what happened the only ways left, then cut the transfer
	// short so that no client mistakes the part for the whole.
	level := slog.LevelError
	if ctx.Err() != nil {
		level = slog.LevelWarn // the client left, or the deadline passed
	}
	h.logger.Log(ctx, level, "export interrupted", slog.Int("rows", w.rows), slog.Any("error", err))
	w.interrupted(ctx, err)
	panic(http.ErrAbortHandler)
}

// exportWriter writes the export page by page, flushing each to the client.
type exportWriter struct {
	c           echo.Context
	csv         bool
	withMetrics bool
	totals      campaign.TotalsSource
	now         time.Time

	started bool
	rows    int
	bw      *bufio.Writer
	cw      *csv.Writer
	enc     *json.Encoder
}

func (w *exportWriter) start() error {
	ext, ct := "jsonl", MediaJSONLines
	if w.csv {
		ext, ct = "csv", MediaCSV+"; charset=utf-8"
	}
	resp := w.c.Response()
	resp.Header().Set(echo.HeaderContentType, ct)
	resp.Header().Set(echo.HeaderContentDisposition,
		fmt.Sprintf(`attachment; filename="campaigns-%s.%s"`, w.now.Format("20060102T150405Z"), ext))
	resp.WriteHeader(http.StatusOK)
	w.started = true
	w.bw = bufio.NewWriterSize(resp, 64<<10)
	if w.csv {
		w.cw = csv.NewWriter(w.bw)
		return w.cw.Write(CSVHeader(w.withMetrics))
	}
	w.enc = json.NewEncoder(w.bw)
	return nil
}

func (w *exportWriter) page(ctx context.Context, page []*campaign.View) error {
	var totals map[uuid.UUID]campaign.Totals
	if w.withMetrics {
		ids := make([]uuid.UUID, len(page))
		for i, c := range page {
			ids[i] = uuid.UUID(c.ID())
		}
		var err error
		if totals, err = w.totals.CampaignTotals(ctx, ids); err != nil {
			return fmt.Errorf("export totals: %w", err)
		}
	}
	if !w.started {
		if err := w.start(); err != nil {
			return err
		}
	}
	for _, c := range page {
		r := NewResponse(c, w.now)
		var m *ExportMetrics
		if w.withMetrics {
			m = newExportMetrics(totals[uuid.UUID(c.ID())], r.Budget.Currency)
		}
		if err := w.write(r, m); err != nil {
			return err
		}
		w.rows++
	}
	return w.flush()
}

func (w *exportWriter) write(r Response, m *ExportMetrics) error {
	if w.csv {
		rec, err := csvRecord(r, m)
		if err != nil {
			return err
		}
		return w.cw.Write(rec)
	}
	if m != nil {
		r.Metrics = m
	}
	return w.enc.Encode(r)
}

// flush sends what is buffered: the client receives each page as it is read.
func (w *exportWriter) flush() error {
	if w.cw != nil {
		w.cw.Flush()
		if err := w.cw.Error(); err != nil {
			return err
		}
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	return http.NewResponseController(w.c.Response()).Flush()
}

// finish ends a complete export (an empty one is the header row alone, or nothing).
func (w *exportWriter) finish() error {
	if !w.started {
		if err := w.start(); err != nil {
			return err
		}
	}
	if err := w.flush(); err != nil {
		w.c.Logger().Debug("export: client gone", err)
	}
	return nil
}

// interrupted tells a JSON Lines client why the export stopped, in a last line
// {"error": problem} that no campaign line can be mistaken for. A CSV has no such place.
func (w *exportWriter) interrupted(ctx context.Context, err error) {
	if w.csv {
		return
	}
	p := httpx.NewProblem(http.StatusInternalServerError, "export-interrupted", "Export interrupted",
		fmt.Sprintf("the export stopped after %d campaigns; the lines before this one are complete, the rest are missing: run it again", w.rows))
	if errors.Is(err, context.DeadlineExceeded) {
		p.Status, p.Detail = http.StatusServiceUnavailable, p.Detail+" (it ran out of time: narrow it with filters or raise http.transfer_timeout)"
	}
	p.RequestID = audit.CorrelationID(ctx)
	p.Instance = w.c.Request().URL.Path
	_ = w.enc.Encode(map[string]any{"error": p})
	_ = w.bw.Flush()
	_ = http.NewResponseController(w.c.Response()).Flush()
}

// parseBool reads an optional true/false parameter.
func parseBool(q url.Values, name string, errs *fieldErrors) bool {
	s := q.Get(name)
	if s == "" {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil || (s != "true" && s != "false") {
		errs.add(name, "must be true or false")
	}
	return b
}

// The import.

// ImportMode says what an import does with the lines when some fail.
type ImportMode string

// The import modes.
const (
	// ImportAllOrNothing writes every line, and nothing if any line fails: every line is
	// checked before the first is written, in short transactions; what was written is
	// deleted again should the writing fail midway (see IOHandler.write).
	ImportAllOrNothing ImportMode = "all-or-nothing"
	// ImportBestEffort writes each valid line in a transaction of its own.
	ImportBestEffort ImportMode = "best-effort"
)

// MaxRenames is how many "(import N)" names onConflict=rename tries before the line fails.
const MaxRenames = 100

// The statuses of an import's line.
const (
	LineCreated = "created" // written
	LineValid   = "valid"   // valid, but not written: a dry run, or an all-or-nothing import with a failed line
	LineFailed  = "failed"  // not written; problem says why
)

// ImportOptions are the query of an import.
type ImportOptions struct {
	Mode   ImportMode
	DryRun bool
	Rename bool // onConflict=rename
}

// LineResult is the outcome of one line of an import.
type LineResult struct {
	Line   int    `json:"line"`
	Status string `json:"status"`
	// ID is the new campaign's id (created lines only).
	ID *campaign.ID `json:"id,omitempty"`
	// SourceID is the id the line carried (an export's id column), to map old ids to new.
	SourceID string `json:"sourceId,omitempty"`
	// Name is the name the campaign got when onConflict=rename changed it.
	Name    string         `json:"name,omitempty"`
	Problem *httpx.Problem `json:"problem,omitempty"`
}

// ImportSummary counts the lines of an import.
type ImportSummary struct {
	Lines   int        `json:"lines"`
	Created int        `json:"created"`
	Valid   int        `json:"valid"`
	Failed  int        `json:"failed"`
	Mode    ImportMode `json:"mode"`
	DryRun  bool       `json:"dryRun"`
	// Complete: the whole file was read (false when the import stopped early: the body over
	// its limit, a failure of the database, the deadline).
	Complete bool `json:"complete"`
	// ProblemsOmitted counts the failed lines whose problem the report leaves out (past the
	// first MaxReportedProblems).
	ProblemsOmitted int `json:"problemsOmitted,omitempty"`
}

// ImportReport is the answer of an import.
type ImportReport struct {
	Summary ImportSummary `json:"summary"`
	Results []LineResult  `json:"results"`
}

func (rep *ImportReport) add(r LineResult) {
	rep.Summary.Lines++
	switch r.Status {
	case LineCreated:
		rep.Summary.Created++
	case LineValid:
		rep.Summary.Valid++
	default:
		rep.Summary.Failed++
		if rep.Summary.Failed > MaxReportedProblems {
			r.Problem = nil
			rep.Summary.ProblemsOmitted++
		}
	}
	rep.Results = append(rep.Results, r)
}

func parseImportQuery(q url.Values) (ImportOptions, error) {
	var errs fieldErrors
	opts := ImportOptions{Mode: ImportMode(q.Get("mode"))}
	switch opts.Mode {
	case "":
		opts.Mode = ImportAllOrNothing
	case ImportAllOrNothing, ImportBestEffort:
	default:
		errs.add("mode", "must be all-or-nothing or best-effort")
	}
	opts.DryRun = parseBool(q, "dryRun", &errs)
	switch q.Get("onConflict") {
	case "", "fail":
	case "rename":
		opts.Rename = true
	default:
		errs.add("onConflict", "must be fail or rename")
	}
	if len(errs) > 0 {
		return opts, httpx.BadRequest("the query string is invalid", errs...)
	}
	return opts, nil
}

func (h *IOHandler) importFile(c echo.Context) error {
	req := c.Request()
	if req.Header.Get("Idempotency-Key") != "" {
		return httpx.BadRequest("an import cannot be replayed: leave Idempotency-Key out (a repeated import reports its names as taken, or renames them with onConflict=rename)",
			httpx.FieldError{Field: "Idempotency-Key", Message: "is not accepted by this endpoint"})
	}
	opts, err := parseImportQuery(c.QueryParams())
	if err != nil {
		return err
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	isCSV := mt == MediaCSV
	if err != nil || (mt != MediaJSONLines && mt != "application/jsonl" && !isCSV) {
		return httpx.NewProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			"send the campaigns as JSON Lines (application/x-ndjson) or CSV (text/csv), in the export's format")
	}
	if req.ContentLength == 0 {
		return httpx.BadRequest("the request body is empty; send the campaigns to import")
	}
	actor, err := author(c)
	if err != nil {
		return err
	}
	ctx := req.Context()
	var body io.Reader = req.Body
	var spooled *os.File
	if opts.Mode != ImportBestEffort || opts.DryRun {
		// The file is read twice (checked, then written) and never while the client sends it:
		// a slow client holds nothing.
		f, err := h.spool(req.Body)
		if err != nil {
			return h.interruptedImport(ctx, newImportReport(opts), err)
		}
		defer discard(f)
		body, spooled = f, f
	}
	open := func() (lineSource, error) {
		if spooled != nil {
			if _, err := spooled.Seek(0, io.SeekStart); err != nil {
				return nil, fmt.Errorf("import: rewind the spooled body: %w", err)
			}
		}
		var src lineSource
		if isCSV {
			cl, err := newCSVLines(body, h.maxLine)
			if err != nil {
				return nil, err
			}
			src = cl
		} else {
			src = newJSONLines(body, h.maxLine)
		}
		return &lineCap{src: src, max: h.maxLines}, nil
	}
	src, err := open()
	if err != nil {
		var p *httpx.Problem
		if errors.As(err, &p) {
			return p
		}
		return h.interruptedImport(ctx, newImportReport(opts), err)
	}
	rep, err := h.run(ctx, src, open, actor, opts)
	switch {
	case err != nil:
		return h.interruptedImport(ctx, rep, err)
	case rep.Summary.Lines == 0:
		return httpx.BadRequest("the file holds no campaign")
	case opts.Mode == ImportAllOrNothing && !opts.DryRun && rep.Summary.Failed > 0:
		p := httpx.NewProblem(http.StatusUnprocessableEntity, "import-failed", "Import failed",
			fmt.Sprintf("%d of %d lines failed, so nothing was written (mode all-or-nothing); see results", rep.Summary.Failed, rep.Summary.Lines))
		p.Extra = map[string]any{"summary": rep.Summary, "results": rep.Results}
		return p
	}
	return c.JSON(http.StatusOK, rep)
}

// spool copies body to a temporary file (its size is bounded by the route's body limit) and
// returns the file, rewound; discard removes it.
func (h *IOHandler) spool(body io.Reader) (*os.File, error) {
	f, err := os.CreateTemp(h.tempDir, "campaigns-import-*")
	if err != nil {
		return nil, fmt.Errorf("import: spool the body: %w", err)
	}
	if _, err := io.Copy(f, body); err != nil {
		discard(f)
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		discard(f)
		return nil, fmt.Errorf("import: rewind the spooled body: %w", err)
	}
	return f, nil
}

func discard(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

func newImportReport(opts ImportOptions) *ImportReport {
	return &ImportReport{Summary: ImportSummary{Mode: opts.Mode, DryRun: opts.DryRun}, Results: []LineResult{}}
}

// errTooManyLines stops an import at its line past IOConfig.MaxLines.
type errTooManyLines struct{ max int }

func (e *errTooManyLines) Error() string {
	return fmt.Sprintf("import: more than %d lines", e.max)
}

// lineCap ends src with errTooManyLines at its line past max.
type lineCap struct {
	src  lineSource
	max  int
	seen int
}

func (l *lineCap) next() (importLine, error) {
	line, err := l.src.next()
	if err != nil {
		return line, err
	}
	if l.seen++; l.seen > l.max {
		return importLine{}, &errTooManyLines{max: l.max}
	}
	return line, nil
}

// interruptedImport answers an import that stopped before the end of its file, with what it
// did up to there.
func (h *IOHandler) interruptedImport(ctx context.Context, rep *ImportReport, err error) error {
	var p *httpx.Problem
	var many *errTooManyLines
	var long *errRecordTooLarge
	written := "nothing was written"
	if rep.Summary.Created > 0 {
		written = "the lines before it that were created stay created (see results)"
	}
	switch {
	case tooLarge(err):
		p = httpx.NewProblem(http.StatusRequestEntityTooLarge, "import-too-large", "Import too large",
			"the file is larger than http.import_body_limit; the import stopped there: "+written)
	case errors.As(err, &many):
		p = httpx.NewProblem(http.StatusRequestEntityTooLarge, "import-too-many-lines", "Import has too many lines",
			fmt.Sprintf("the file holds more than %d campaigns (http.import_max_lines); split it. The import stopped at line %d: %s",
				many.max, many.max+1, written))
	case errors.As(err, &long):
		p = httpx.NewProblem(http.StatusRequestEntityTooLarge, "line-too-large", "Line too large",
			fmt.Sprintf("a CSV record is longer than %d bytes (http.body_limit, the limit of one campaign); the import stopped there: %s",
				long.limit, written))
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, os.ErrDeadlineExceeded):
		p = httpx.NewProblem(http.StatusServiceUnavailable, "import-interrupted", "Import interrupted",
			"the import ran out of time (http.transfer_timeout); see results for what was written")
	case errors.Is(err, campaign.ErrImportAborted):
		h.logger.WarnContext(ctx, "import taken over by the recovery of stalled imports", slog.Any("error", err))
		p = httpx.NewProblem(http.StatusServiceUnavailable, "import-interrupted", "Import interrupted",
			"the import stalled longer than the recovery waits for, and was rolled back: nothing of it is kept; send the file again")
		p.Headers = map[string]string{"Retry-After": httpx.DatabaseRetryAfter}
	case httpx.DatabaseProblem(err) != nil:
		h.logger.WarnContext(ctx, "import interrupted by a database fault", slog.Any("error", err))
		p = httpx.NewProblem(http.StatusServiceUnavailable, "import-interrupted", "Import interrupted",
			"the database connection failed; see results for what was written, and retry the rest after Retry-After seconds")
		p.Headers = map[string]string{"Retry-After": httpx.DatabaseRetryAfter}
	default:
		h.logger.ErrorContext(ctx, "import interrupted", slog.Any("error", err))
		p = httpx.NewProblem(http.StatusInternalServerError, "import-interrupted", "Import interrupted",
			"the import stopped on an unexpected error; see results for what was written, and quote the requestId when reporting it")
	}
	p.Extra = map[string]any{"summary": rep.Summary, "results": rep.Results}
	return p
}

// ImportChunkLines and ImportChunkTime bound one write transaction of an all-or-nothing
// import: it commits after this many lines, or once it has run this long, whichever comes
// first. Between two, every other writer has its turn (on SQLite, the database's one write
// lock, which writers take in arrival order). Short, because some writers need several turns
// in a row: the aggregator renews its partitions' leases one statement each, and each waits
// for the chunk in progress; at 200 ms, 16 partitions took longer than their 5 s TTL.
const (
	ImportChunkLines = 500
	ImportChunkTime  = 50 * time.Millisecond
)

// errLineFailed stops the writing of an all-or-nothing import at a line that failed there
// though it passed the checks (a campaign created meanwhile took its name).
var errLineFailed = errors.New("import: a line failed while writing")

// run imports every line of src. Best effort writes each line on its own transaction, reading
// the client between them. The other imports read the spooled file: first every line is
// checked without writing (Service.CheckCreate, names of earlier lines counted as taken), which
// is all a dry run does; then, when every line passed, open reads the file again and write
// stores it in short transactions.
func (h *IOHandler) run(ctx context.Context, src lineSource, open func() (lineSource, error), actor campaign.UserID, opts ImportOptions) (*ImportReport, error) {
	rep := newImportReport(opts)
	if opts.Mode == ImportBestEffort && !opts.DryRun {
		err := h.lines(ctx, src, rep, opts, func(ctx context.Context, in campaign.Input) (*campaign.View, error) {
			return h.svc.Create(ctx, actor, in)
		}, LineCreated)
		return rep, err
	}
	seen := map[string]bool{} // the folded names of the lines that passed
	err := h.lines(ctx, src, rep, opts, func(ctx context.Context, in campaign.Input) (*campaign.View, error) {
		v, err := h.svc.CheckCreate(ctx, actor, in)
		if err != nil {
			return nil, err
		}
		key := campaign.FoldName(v.Name())
		if seen[key] {
			return nil, campaign.ErrNameTaken
		}
		seen[key] = true
		return v, nil
	}, LineValid)
	for i := range rep.Results {
		rep.Results[i].ID = nil // nothing was written
	}
	if err != nil || opts.DryRun || rep.Summary.Failed > 0 {
		return rep, err
	}
	if src, err = open(); err != nil {
		return rep, err
	}
	return rep, h.write(ctx, src, actor, opts, rep)
}

// write stores the lines of src, which all passed their checks (rep holds their results, in
// order), in transactions of at most ImportChunkLines lines and about ImportChunkTime, behind
// the import's marker (campaign.Import): the last one marks it done. If a line fails there
// after all, or the import cannot go on, what the earlier chunks wrote is deleted again
// (Import.RollBack), and rep says nothing was created.
func (h *IOHandler) write(ctx context.Context, src lineSource, actor campaign.UserID, opts ImportOptions, rep *ImportReport) error {
	imp, err := h.svc.StartImport(ctx, actor)
	if err != nil {
		return err
	}
	next := 0 // the index in rep.Results of the next line to write
	var failed LineResult
	var chunk []LineResult // the results of the chunk being written
	chunks, longest, started := 0, time.Duration(0), time.Now()
	for last := false; !last; {
		began := time.Now()
		last, err = imp.Chunk(ctx, func(ctx context.Context, w *campaign.ImportTx) (bool, error) {
			chunk = chunk[:0]
			start := time.Now()
			for len(chunk) < ImportChunkLines && time.Since(start) < ImportChunkTime {
				line, err := src.next()
				if errors.Is(err, io.EOF) {
					return true, nil
				}
				if err != nil {
					return false, err
				}
				res, err := h.line(ctx, line, opts, w.Create)
				if err != nil {
					return false, err
				}
				if res.Status == LineFailed {
					failed = res
					return false, errLineFailed
				}
				chunk = append(chunk, res)
			}
			return false, nil
		})
		chunks, longest = chunks+1, max(longest, time.Since(began))
		if err != nil {
			break
		}
		for _, res := range chunk {
			res.Status = LineCreated
			rep.Results[next] = res
			next++
		}
	}
	// The longest chunk is how long the import held other writers up at most (on SQLite,
	// the write lock), waits for the lock included.
	h.logger.InfoContext(ctx, "import written", slog.String("import_id", imp.ID().String()),
		slog.Int("lines", next), slog.Int("chunks", chunks), slog.Duration("longest_chunk", longest),
		slog.Duration("took", time.Since(started)), slog.Bool("rolled_back", err != nil))
	if err == nil {
		rep.Summary.Created, rep.Summary.Valid = rep.Summary.Valid, 0
		if ferr := imp.Finish(ctx); ferr != nil {
			h.logger.WarnContext(ctx, "import: could not forget a finished import's record; housekeeping will",
				slog.String("import_id", imp.ID().String()), slog.Any("error", ferr))
		}
		return nil
	}
	h.rollBack(ctx, imp)
	for i := range next {
		rep.Results[i].Status, rep.Results[i].ID, rep.Results[i].Name = LineValid, nil, ""
	}
	if errors.Is(err, errLineFailed) {
		if i := next + len(chunk); i < len(rep.Results) && rep.Results[i].Line == failed.Line {
			rep.Results[i] = failed
		}
		rep.Summary.Valid--
		rep.Summary.Failed++
		return nil
	}
	rep.Summary.Complete = false
	return err
}

// rollBack deletes what imp wrote. When the request is over (its deadline, or the client
// left), that runs in the background, bounded by importRollBackTimeout; a roll-back that cannot
// finish is finished by the housekeeping (Service.RecoverImports).
func (h *IOHandler) rollBack(ctx context.Context, imp *campaign.Import) {
	run := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, importRollBackTimeout)
		defer cancel()
		kept, err := imp.RollBack(ctx)
		if err != nil {
			h.logger.ErrorContext(ctx, "import: roll-back failed; the housekeeping finishes it",
				slog.String("import_id", imp.ID().String()), slog.Any("error", err))
			return
		}
		if kept > 0 {
			h.logger.WarnContext(ctx, "import: rolled back, keeping campaigns changed meanwhile",
				slog.String("import_id", imp.ID().String()), slog.Int("kept", kept))
		}
	}
	if ctx.Err() != nil {
		go run(context.WithoutCancel(ctx))
		return
	}
	run(context.WithoutCancel(ctx))
}

// importRollBackTimeout bounds the roll-back of an import that failed midway.
const importRollBackTimeout = 10 * time.Minute

// lines reads src to its end and creates each line's campaign with create; ok is the status
// of a line created. It returns an error only when the import cannot go on.
func (h *IOHandler) lines(ctx context.Context, src lineSource, rep *ImportReport, opts ImportOptions,
	create func(context.Context, campaign.Input) (*campaign.View, error), ok string) error {
	for {
		line, err := src.next()
		if errors.Is(err, io.EOF) {
			rep.Summary.Complete = true
			return nil
		}
		if err != nil {
			return err
		}
		res, err := h.line(ctx, line, opts, create)
		if err != nil {
			return err
		}
		if res.Status == "" {
			res.Status = ok
		}
		rep.add(res)
	}
}

// line imports one line. Its problems are the create's (400 for what does not parse, 422
// with every broken rule, 409 for a taken name); an error is one that stops the import.
func (h *IOHandler) line(ctx context.Context, line importLine, opts ImportOptions,
	create func(context.Context, campaign.Input) (*campaign.View, error)) (LineResult, error) {
	res := LineResult{Line: line.number, SourceID: line.sourceID}
	if line.problem != nil {
		res.Status, res.Problem = LineFailed, line.problem
		return res, nil
	}
	in, err := h.h.input(line.req, nil)
	if err != nil {
		res.Status, res.Problem = LineFailed, asProblem(err)
		return res, nil
	}
	name := strings.TrimSpace(in.Name)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			in.Name = renamed(name, attempt)
			res.Name = in.Name
		}
		camp, err := create(ctx, in)
		if err == nil {
			id := camp.ID()
			res.ID = &id
			return res, nil
		}
		if errors.Is(err, campaign.ErrNameTaken) && opts.Rename && attempt < MaxRenames {
			continue
		}
		var p *httpx.Problem
		if !errors.As(h.h.problem(err, false), &p) {
			return res, err
		}
		if errors.Is(err, campaign.ErrNameTaken) {
			p = nameTaken(opts.Rename, name)
		}
		res.Status, res.Problem, res.Name = LineFailed, p, ""
		return res, nil
	}
}

func nameTaken(renaming bool, name string) *httpx.Problem {
	detail := "another campaign (in the database or on an earlier line) already has this name (names are compared without case); import with onConflict=rename to give it a free one"
	if renaming {
		detail = fmt.Sprintf("no free name was found among %q and its first %d \"(import N)\" variants", name, MaxRenames)
	}
	p := httpx.Conflict("name-taken", detail)
	p.Errors = []httpx.FieldError{{Field: "name", Message: "is already in use"}}
	return p
}

// renamed is name with the n-th import suffix: "<name> (import)", "<name> (import 2)"...; the
// name is shortened when the suffix would take it past MaxNameLen.
func renamed(name string, n int) string {
	suffix := " (import)"
	if n > 1 {
		suffix = fmt.Sprintf(" (import %d)", n)
	}
	room := campaign.MaxNameLen - utf8.RuneCountInString(suffix)
	if utf8.RuneCountInString(name) > room {
		name = strings.TrimSpace(string([]rune(name)[:room]))
	}
	return name + suffix
}
