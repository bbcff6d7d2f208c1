package echoapi

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// An import reads a file of campaigns line by line (JSON Lines or CSV in the export's format)
// and creates each as a new campaign. This file holds the line parsers: each turns one line
// into the request body a create takes, or into the problem that line has.

// importLine is one parsed line: its number in the file (1-based; for CSV the line its record
// starts on), the create request it holds, and the id it had where it was exported (the
// result echoes it, to map old ids to new ones). problem is set when the line cannot be read.
type importLine struct {
	number   int
	req      campaignRequest
	sourceID string
	problem  *httpx.Problem
}

// lineSource yields the lines of an import. next returns io.EOF after the last line; any other
// error (the body over its limit, a broken connection) ends the import.
type lineSource interface {
	next() (importLine, error)
}

// jsonLines reads JSON Lines: one campaign object per line, blank lines skipped.
type jsonLines struct {
	r       *bufio.Reader
	maxLine int
	line    int
	buf     []byte
}

func newJSONLines(r io.Reader, maxLine int) *jsonLines {
	return &jsonLines{r: bufio.NewReaderSize(r, 64<<10), maxLine: maxLine}
}

func (j *jsonLines) next() (importLine, error) {
	for {
		raw, tooLong, err := j.readLine()
		if len(raw) == 0 && !tooLong && err != nil {
			return importLine{}, err
		}
		j.line++
		if tooLong {
			return importLine{number: j.line, problem: lineTooLong(j.maxLine)}, nil
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			if err != nil {
				return importLine{}, err
			}
			continue
		}
		return parseJSONLine(j.line, raw), nil
	}
}

// readLine reads up to the next newline (not kept), at most maxLine bytes of it: a longer line
// is skipped to its end and reported as tooLong. It returns io.EOF with the last line when the
// file does not end in a newline.
func (j *jsonLines) readLine() (line []byte, tooLong bool, err error) {
	j.buf = j.buf[:0]
	for {
		chunk, err := j.r.ReadSlice('\n')
		if !tooLong {
			if len(j.buf)+len(chunk) > j.maxLine+2 { // room for "\r\n"
				tooLong, j.buf = true, j.buf[:0]
			} else {
				j.buf = append(j.buf, chunk...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && (len(j.buf) > 0 || tooLong):
			if errors.Is(err, io.EOF) {
				return bytes.TrimRight(j.buf, "\r\n"), tooLong, nil
			}
			return nil, false, err
		case err != nil:
			return nil, false, err
		}
		return bytes.TrimRight(j.buf, "\r\n"), tooLong, nil
	}
}

func lineTooLong(limit int) *httpx.Problem {
	return httpx.NewProblem(http.StatusRequestEntityTooLarge, "line-too-large", "Line too large",
		fmt.Sprintf("the line is longer than %d bytes (http.body_limit, the limit of one campaign's JSON)", limit))
}

// parseJSONLine reads one JSON Lines line: a campaign object as the export writes it (the GET
// representation, read-only members and metrics included, which the import ignores) or as a
// create takes it. The JSON is decoded as strictly as a create's body.
func parseJSONLine(n int, raw []byte) importLine {
	out := importLine{number: n}
	if err := httpx.DecodeJSONBytes(raw, &out.req); err != nil {
		out.problem = asProblem(err)
		return out
	}
	if out.req.ID != nil {
		var s string
		if json.Unmarshal(out.req.ID, &s) == nil {
			if id, err := campaign.ParseID(s); err == nil {
				out.sourceID = id.String()
			}
		}
	}
	return out
}

func asProblem(err error) *httpx.Problem {
	var p *httpx.Problem
	if errors.As(err, &p) {
		return p
	}
	return httpx.BadRequest("the line could not be decoded")
}

// csvLines reads CSV with a header row of the export's column names (any order, any subset
// holding name; unknown or repeated names refuse the whole file).
type csvLines struct {
	r       *csv.Reader
	lim     *recordLimit
	columns map[string]int
}

// recordLimit is the reader under a CSV import's csv.Reader: it fails once the current record
// has taken more than limit bytes (plus what the csv.Reader buffers ahead), so that one record
// (an unterminated quote, say) cannot fill the memory up to the body limit, as JSON Lines'
// maxLine prevents for a line.
type recordLimit struct {
	r     io.Reader
	read  int64 // bytes handed to the csv.Reader
	start int64 // offset of the current record's start
	limit int64
}

// csvReadAhead bounds what a csv.Reader reads past its current record (its bufio.Reader's
// default size).
const csvReadAhead = 4096

func (l *recordLimit) Read(p []byte) (int, error) {
	if l.read-l.start > l.limit+csvReadAhead {
		return 0, &errRecordTooLarge{limit: int(l.limit)}
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

// errRecordTooLarge stops a CSV import at a record longer than its limit: the reader cannot
// find the next record's start without reading the rest of this one.
type errRecordTooLarge struct{ limit int }

func (e *errRecordTooLarge) Error() string {
	return fmt.Sprintf("import: a CSV record is longer than %d bytes", e.limit)
}

// newCSVLines reads the header. A missing or unusable header is a 400 for the whole file.
// maxRecord is the longest record in bytes (the limit of a JSON line).
func newCSVLines(r io.Reader, maxRecord int) (*csvLines, error) {
	lim := &recordLimit{r: r, limit: int64(maxRecord)}
	cr := csv.NewReader(lim)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, httpx.BadRequest("the CSV is empty: the first row must name the columns (see the export)")
	}
	if err != nil {
		var long *errRecordTooLarge
		if tooLarge(err) || errors.As(err, &long) {
			return nil, err
		}
		return nil, httpx.BadRequest("the CSV header row could not be read: " + csvErrorText(err))
	}
	known := append(CSVHeader(true), "")
	cols := make(map[string]int, len(header))
	var errs []httpx.FieldError
	for i, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")) // spreadsheets write a BOM
		switch {
		case name == "" || !slices.Contains(known, name):
			errs = append(errs, httpx.FieldError{Field: fmt.Sprintf("column %d", i+1),
				Message: fmt.Sprintf("unknown column %.40q; the columns are those of the export: %s", name, strings.Join(CSVHeader(true), ", "))})
		case cols[name] != 0:
			errs = append(errs, httpx.FieldError{Field: name, Message: "is given twice"})
		}
		cols[name] = i + 1 // 1-based, so that 0 means absent
	}
	if cols["name"] == 0 {
		errs = append(errs, httpx.FieldError{Field: "name", Message: "the header must have a name column"})
	}
	if len(errs) > 0 {
		return nil, httpx.BadRequest("the CSV header row is invalid", errs...)
	}
	return &csvLines{r: cr, lim: lim, columns: cols}, nil
}

func (c *csvLines) next() (importLine, error) {
	c.lim.start = c.r.InputOffset()
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return importLine{}, io.EOF
	}
	var pe *csv.ParseError
	var long *errRecordTooLarge
	switch {
	case err == nil:
	case tooLarge(err), errors.As(err, &long):
		return importLine{}, err
	case errors.As(err, &pe):
		// The record is unusable; the reader goes on at the next one.
		return importLine{number: pe.StartLine, problem: httpx.BadRequest("the CSV record could not be read: " + csvErrorText(err))}, nil
	default:
		return importLine{}, err
	}
	// A record read without error has at least one field; "\r\n" does not count.
	line, _ := c.r.FieldPos(0)
	if c.r.InputOffset()-c.lim.start > c.lim.limit+2 {
		return importLine{number: line, problem: lineTooLong(int(c.lim.limit))}, nil
	}
	return parseCSVRecord(line, c.columns, rec), nil
}

func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb) || errors.Is(err, echo.ErrStatusRequestEntityTooLarge)
}

// csvErrorText describes a CSV syntax error without Go's wording of positions.
func csvErrorText(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s (line %d, column %d)", pe.Err.Error(), pe.Line, pe.Column)
	}
	return "malformed CSV"
}

// parseCSVRecord turns one CSV record into a create request. Columns the export writes but a
// create does not take (id, status, dates of the record, metrics...) are ignored.
func parseCSVRecord(n int, cols map[string]int, rec []string) importLine {
	out := importLine{number: n}
	get := func(name string) string {
		if i := cols[name]; i > 0 && i <= len(rec) {
			return rec[i-1]
		}
		return ""
	}
	r := &out.req
	r.Name, r.Description, r.Type = csvUntext(get("name")), csvUntext(get("description")), campaign.Type(get("type"))
	r.TargetingRules = strings.Fields(get("targetingRules"))
	r.StartDate = get("startDate")
	if end := get("endDate"); end != "" {
		r.EndDate = &end
	}
	if amount, currency := get("budgetAmount"), get("budgetCurrency"); amount != "" || currency != "" {
		r.Budget = &moneyRequest{Currency: currency}
		if amount != "" {
			r.Budget.Amount, _ = json.Marshal(amount) // a string: parsed exactly, like a JSON amount
		}
	}
	if raw := get("settings"); strings.TrimSpace(raw) != "" {
		var s settingsRequest
		if err := httpx.DecodeJSONBytes([]byte(raw), &s); err != nil {
			out.problem = inColumn("settings", asProblem(err))
			return out
		}
		r.Settings = &s
	}
	if chs := strings.Fields(get("channels")); len(chs) > 0 {
		channels := make([]campaign.Channel, len(chs))
		for i, ch := range chs {
			channels[i] = campaign.Channel(ch)
		}
		switch {
		case r.Settings == nil:
			r.Settings = &settingsRequest{Channels: channels}
		case r.Settings.Channels == nil:
			r.Settings.Channels = channels
		case !slices.Equal(r.Settings.Channels, channels):
			out.problem = httpx.BadRequest("the channels column and the settings column disagree",
				httpx.FieldError{Field: "channels", Message: "must list settings.channels (or be left empty)"})
			return out
		}
	}
	if id, err := campaign.ParseID(get("id")); err == nil {
		out.sourceID = id.String()
	}
	return out
}

// inColumn names the fields of a problem about the settings column's JSON as the create body
// names them (settings.channels, not channels).
func inColumn(col string, p *httpx.Problem) *httpx.Problem {
	out := *p
	out.Detail = "the " + col + " column is not a valid settings object"
	out.Errors = make([]httpx.FieldError, len(p.Errors))
	for i, fe := range p.Errors {
		fe.Field = col + "." + fe.Field
		out.Errors[i] = fe
	}
	if len(out.Errors) == 0 {
		out.Errors = []httpx.FieldError{{Field: col, Message: p.Detail}}
	}
	return &out
}
