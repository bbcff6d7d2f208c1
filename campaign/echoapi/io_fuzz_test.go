package echoapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

// checkLines reads src to its end: every line is a create request or a client-error
// problem, line numbers grow, and what a line holds goes through the create's parsing and
// validation without a panic.
func checkLines(t *testing.T, src lineSource) {
	t.Helper()
	last := 0
	for i := 0; ; i++ {
		line, err := src.next()
		if errors.Is(err, io.EOF) {
			return
		}
		var long *errRecordTooLarge
		if errors.As(err, &long) {
			return // a CSV record far past its limit ends the import
		}
		if err != nil {
			t.Fatalf("a body in memory cannot fail to read: %v", err)
		}
		if line.number <= last {
			t.Fatalf("line %d after line %d", line.number, last)
		}
		last = line.number
		if p := line.problem; p != nil {
			if !slices.Contains([]int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}, p.Status) || p.Type == "" {
				t.Fatalf("line %d: problem %d %q", line.number, p.Status, p.Type)
			}
			continue
		}
		in, errs := parseInput(line.req)
		in.Normalize()
		_ = in.Validate(time.Now(), nil)
		for _, fe := range errs {
			if fe.Field == "" || fe.Message == "" {
				t.Fatalf("line %d: empty field error %+v", line.number, fe)
			}
		}
		if line.sourceID != "" {
			if _, err := campaign.ParseID(line.sourceID); err != nil {
				t.Fatalf("source id %q", line.sourceID)
			}
		}
	}
}

func FuzzImportJSONLines(f *testing.F) {
	valid := `{"name":"Spring","type":"PROMOTION","startDate":"2030-01-01T00:00:00Z","budget":{"amount":"10.00","currency":"EUR"},"settings":{"channels":["EMAIL"]}}`
	for _, s := range []string{
		valid + "\n" + valid, "\n\n\r\n", valid + "\r\n{", `{"id":"00F36ED8-B109-4E91-949D-C7D8C6BF3FE3","metrics":{}}`,
		"\xff\n" + valid, "[1]\nnull\n\"x\"", `{"name":"a","name":"b"}`, `{"budget":{"amount":1e400}}`,
		string(bytes.Repeat([]byte("x"), 300)) + "\n" + valid,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLines(t, newJSONLines(bytes.NewReader(data), 256))
	})
}

func FuzzImportCSV(f *testing.F) {
	header := "id,name,description,type,targetingRules,startDate,endDate,budgetAmount,budgetCurrency,channels,settings,impressions\n"
	for _, s := range []string{
		header + `,Spring,,PROMOTION,,2030-01-01T00:00:00Z,,10.00,EUR,EMAIL,"{""channels"":[""EMAIL""]}",3` + "\n",
		header + "a,\"b\nc\",d\n", header + "x,\"open\n", "name\n\xff\n", "\ufeffname,type\r\nab\"c,d\r\n",
		"name,settings\nabc,[1]\nabd,null\n", "name,channels,settings\nabc,SMS EMAIL,\"{\"\"channels\"\":[\"\"SMS\"\"]}\"\n",
		"", ",,\n", "name,name\n", "colour\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newCSVLines(bytes.NewReader(data), 4096)
		if err != nil {
			var p *httpx.Problem
			var long *errRecordTooLarge
			if errors.As(err, &long) {
				return
			}
			if !errors.As(err, &p) || p.Status != http.StatusBadRequest {
				t.Fatalf("header: %v", err)
			}
			return
		}
		checkLines(t, src)
	})
}

// The JSON Lines reader skips a line over its limit to its end and goes on.
func TestJSONLinesTooLong(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 100_000))
	src := newJSONLines(bytes.NewReader([]byte(`{"name":"abc"}`+"\n"+long+"\n\n"+`{"name":"def"}`)), 1000)
	var got []string
	for {
		line, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if line.problem != nil {
			got = append(got, line.problem.Type)
			continue
		}
		got = append(got, line.req.Name)
	}
	want := []string{"abc", httpx.ProblemTypePrefix + "line-too-large", "def"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestRenamed(t *testing.T) {
	long := string(bytes.Repeat([]byte("é"), campaign.MaxNameLen))
	for _, c := range []struct {
		name string
		n    int
		want string
	}{{"Spring", 1, "Spring (import)"}, {"Spring", 2, "Spring (import 2)"}, {"Spring", 100, "Spring (import 100)"}} {
		if got := renamed(c.name, c.n); got != c.want {
			t.Errorf("renamed(%q, %d) = %q, want %q", c.name, c.n, got, c.want)
		}
	}
	if got := []rune(renamed(long, 3)); len(got) != campaign.MaxNameLen || string(got[len(got)-11:]) != " (import 3)" {
		t.Errorf("a long name is not cut to fit: %d runes, %q", len(got), string(got[len(got)-11:]))
	}
}
