package app_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	campaignapi "github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
)

// The hostile walk of the routes whose body is a file (the import): JSON Lines and CSV.

// fileRequest is a valid one-line JSON Lines file with a name no other request of the walk
// uses (a dry run: the walk sends it many times).
func (w *walker) fileRequest(t *testing.T, _ operation) request {
	return request{id: realID, about: "base", ctype: "application/x-ndjson", query: "dryRun=true",
		body: append(mustJSON(t, w.importLine(t, "Hostile import")), '\n')}
}

// importLine is a valid create body.
func (w *walker) importLine(t *testing.T, name string) map[string]any {
	w.seq++
	return validBody(fmt.Sprintf("%s %d", name, w.seq))
}

// walkFile sends hostile files: hostile lines, hostile values in every member of a line and
// every column of a record, broken encodings, and the wrong media types. Every answer must be
// below 500 and a problem when 4xx (check), and every failed line must carry a problem of a
// client error.
func (w *walker) walkFile(t *testing.T, op operation, base request) {
	const jsonl, csvType = "application/x-ndjson", "text/csv"
	send := func(ctype, about string, body []byte, query string) *apptest.Response {
		r := base
		r.ctype, r.about, r.body, r.query = ctype, about, body, query
		resp := w.send(t, op, r)
		checkLineProblems(t, about, resp)
		return resp
	}
	// Whole files.
	valid := mustJSON(t, w.importLine(t, "Hostile file"))
	files := map[string]string{
		"invalid UTF-8":         "\xff\xfe\n" + string(valid),
		"NUL bytes":             "\x00\x00\x00",
		"a line over the limit": string(valid) + "\n{\"name\":\"" + strings.Repeat("x", int(w.s.API.Config.HTTP.BodyLimit)+10) + "\"}\n" + string(valid),
		"deep nesting":          strings.Repeat("[", 20_000) + "\n" + strings.Repeat(`{"a":`, 20_000),
		"only blank lines":      "\n\r\n  \n",
		"a JSON array":          "[" + string(valid) + "]",
		"two values on a line":  string(valid) + " " + string(valid),
		"null lines":            "null\nnull",
	}
	for about, f := range files {
		send(jsonl, about, []byte(f), "dryRun=true")
		send(jsonl, about+" (best effort)", []byte(f), "mode=best-effort&dryRun=true")
	}
	for _, v := range hostileJSON() {
		send(jsonl, fmt.Sprintf("line %.40s", v), []byte(v+"\n"+string(valid)), "dryRun=true")
	}
	// One hostile value at a time in every member of a line, many lines per file.
	var baseValue any
	require.NoError(t, json.Unmarshal(valid, &baseValue))
	doc := apptest.Document(t)
	schema := doc.Components.Schemas["CampaignCreate"]
	require.NotNil(t, schema)
	for _, path := range members(schema.Value, nil, 0) {
		var file bytes.Buffer
		for _, v := range hostileJSON() {
			file.Write(withMember(t, baseValue, path, v))
			file.WriteByte('\n')
		}
		send(jsonl, "member "+pathText(path), file.Bytes(), "dryRun=true&mode=best-effort")
	}
	// CSV: hostile text in every column, one record per value.
	header := campaignapi.CSVHeader(true)
	good := map[string]string{
		"name": "Hostile csv", "type": "PROMOTION", "startDate": validBody("x")["startDate"].(string),
		"budgetAmount": "10.00", "budgetCurrency": "EUR", "channels": "EMAIL",
		"settings": `{"channels":["EMAIL"],"frequency":"ONCE"}`,
	}
	for ci, col := range header {
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		require.NoError(t, cw.Write(header))
		for i, v := range append(hostileText(), hostileJSON()...) {
			rec := make([]string, len(header))
			for j, h := range header {
				rec[j] = good[h]
			}
			rec[0] = ""
			if col != "name" {
				rec[1] = fmt.Sprintf("Hostile csv %s %d", col, i)
			}
			rec[ci] = v
			require.NoError(t, cw.Write(rec))
		}
		cw.Flush()
		send(csvType, "column "+col, buf.Bytes(), "dryRun=true&mode=best-effort")
	}
	csvFiles := map[string]string{
		"a bare quote":        "name,type\nab\"c,PROMOTION\nok name,PROMOTION\n",
		"an open quote":       "name,type\n\"abc,PROMOTION\nx,y\n",
		"too many fields":     "name,type\nabc,PROMOTION,extra\n",
		"too few fields":      "name,type\nabc\n",
		"a BOM":               "\ufeffname,type\nabc,PROMOTION\n",
		"no header":           "",
		"an empty header":     ",,\n",
		"a repeated column":   "name,name\na,b\n",
		"invalid UTF-8":       "name\n\xff\xfe\n",
		"CRLF":                "name,type\r\nabc,PROMOTION\r\n",
		"a huge field":        "name,settings\nabc,\"" + strings.Repeat("{", 100_000) + "\"\n",
		"settings not object": "name,settings\nabc,[1]\nabd,null\nabe,\"{\"\"zz\"\":1}\"\n",
	}
	for about, f := range csvFiles {
		send(csvType, "CSV "+about, []byte(f), "dryRun=true&mode=best-effort")
	}
	// Media types and empty bodies.
	expect(t, op, base, send("application/json", "JSON", valid, ""), []int{http.StatusUnsupportedMediaType}, "")
	expect(t, op, base, send("", "no Content-Type", valid, ""), []int{http.StatusUnsupportedMediaType}, "")
	expect(t, op, base, send("text/csv; charset", "a broken media type", valid, ""), []int{http.StatusUnsupportedMediaType}, "")
	r := base
	r.body, r.about = nil, "no body"
	expect(t, op, r, w.send(t, op, r), []int{http.StatusBadRequest}, "")
}

// checkLineProblems: every failed line of an import's answer has a client-error problem.
func checkLineProblems(t *testing.T, about string, resp *apptest.Response) {
	t.Helper()
	var rep struct {
		Results []struct {
			Line    int
			Status  string
			Problem *struct {
				Type   string
				Status int
			}
		}
	}
	if json.Unmarshal(resp.Body, &rep) != nil {
		return
	}
	for _, r := range rep.Results {
		if r.Status != "failed" {
			continue
		}
		if r.Problem == nil || r.Problem.Type == "" || r.Problem.Status < 400 || r.Problem.Status >= 500 {
			t.Errorf("%s: line %d failed without a client-error problem: %+v", about, r.Line, r.Problem)
		}
	}
}
