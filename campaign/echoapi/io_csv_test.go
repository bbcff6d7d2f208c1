package echoapi

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// A CSV record longer than the limit of a JSON line is a line-too-large problem when it is a
// little past it, and ends the import when it is far past it (an unterminated quote, say),
// before the reader holds it all.
func TestCSVRecordTooLong(t *testing.T) {
	const limit = 1000
	body := "name,description\n" +
		"abc,short\n" +
		"def," + strings.Repeat("x", limit+500) + "\n" +
		"ghi,short\n" +
		"jkl,\"" + strings.Repeat("y", 10*limit+50_000) + "\n"
	src, err := newCSVLines(&countingReader{r: strings.NewReader(body)}, limit)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		line, err := src.next()
		var long *errRecordTooLarge
		if errors.As(err, &long) {
			got = append(got, "stop")
			break
		}
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		if line.problem != nil {
			got = append(got, line.problem.Type)
			continue
		}
		got = append(got, line.req.Name)
	}
	want := []string{"abc", httpx.ProblemTypePrefix + "line-too-large", "ghi", "stop"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %q, want %q", got, want)
	}
	if read := src.lim.read; read > int64(len(body)-40_000) {
		t.Fatalf("read %d of %d bytes: the long record was read to its end", read, len(body))
	}
}

type countingReader struct{ r io.Reader }

func (c *countingReader) Read(p []byte) (int, error) { return c.r.Read(p) }

// csvText keeps a spreadsheet from running a cell as a formula, and csvUntext undoes it
// exactly, whatever the text.
func TestCSVTextRoundTrip(t *testing.T) {
	for _, s := range []string{
		"", "plain", "=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'", "''", "'abc", "'=x", "''=x",
		"'''-", "a=b", "é=", "=",
	} {
		enc := csvText(s)
		if enc != "" && strings.ContainsRune("=+-@\t\r", rune(enc[0])) {
			t.Errorf("csvText(%q) = %q starts as a formula", s, enc)
		}
		if dec := csvUntext(enc); dec != s {
			t.Errorf("csvUntext(csvText(%q)) = %q (encoded %q)", s, dec, enc)
		}
	}
}
