package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// freshTarget is another empty database of the same kind as target.
func freshTarget(t *testing.T, target dbtest.Target) dbtest.Target {
	if target.Name == "postgres" {
		return dbtest.PostgresTarget(t)
	}
	return dbtest.SQLiteTarget(t)
}

// ioCampaigns are bodies that together use every member a campaign has.
func ioCampaigns(tag string) []map[string]any {
	a := validBody("Export " + tag + " alpha, \"quoted\"")
	a["description"] = "a description\non two lines"
	b := validBody("Export " + tag + " beta")
	b["endDate"] = nil
	b["description"] = ""
	b["type"] = "COUPON"
	b["budget"] = map[string]any{"amount": "500000", "currency": "JPY"}
	b["settings"] = map[string]any{
		"channels": []string{"SMS"}, "frequency": "DAILY", "maxImpressions": 1000,
		"budgetLimit":     map[string]any{"amount": "400000", "currency": "JPY"},
		"personalization": map[string]any{"enabled": true, "rules": []string{rule1}},
		"abTestSettings": map[string]any{"enabled": true, "successMetric": "conversionRate", "minSampleSize": 500,
			"variants": []map[string]any{{"key": "c", "name": "Control", "weight": 30, "control": true},
				{"key": "t", "name": "Treatment", "description": "bolder", "weight": 70}}},
	}
	c := validBody("Export " + tag + " gamma")
	c["targetingRules"] = []string{}
	return []map[string]any{a, b, c}
}

// exportLines reads a JSON Lines export.
func exportLines(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		out = append(out, m)
	}
	return out
}

// sameCampaign asserts that got reproduces want: every member a create sets. The id, status,
// servingStatus, author, timestamps, version and targetingVerified are the import's own.
func sameCampaign(t *testing.T, want, got map[string]any, name string) {
	t.Helper()
	for _, k := range []string{"description", "type", "targetingRules", "startDate", "endDate", "budget", "settings"} {
		assert.Equal(t, want[k], got[k], "%s of %q", k, want["name"])
	}
	assert.Equal(t, name, got["name"])
	assert.Equal(t, "DRAFT", got["status"])
	assert.EqualValues(t, 1, got["version"])
	assert.NotEqual(t, want["id"], got["id"])
	assert.Equal(t, userA, got["createdBy"])
}

func importFile(t *testing.T, s *apptest.Server, query, ctype string, body []byte, header ...string) *apptest.Response {
	t.Helper()
	path := "/api/v1/campaigns/import"
	if query != "" {
		path += "?" + query
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("X-User-ID", userA)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return s.Send(req, body)
}

func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		src := apptest.New(t, target, apptest.ServerConfig{})
		ids := map[string]string{}
		for _, body := range ioCampaigns("rt") {
			r := src.Do(http.MethodPost, "/api/v1/campaigns", body, asUserA...)
			require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
			ids[r.Map(t)["name"].(string)] = r.Map(t)["id"].(string)
		}
		// One is ACTIVE: the import makes it a DRAFT again.
		r := src.Do(http.MethodPost, "/api/v1/campaigns/"+ids["Export rt beta"]+"/activate", nil, asUserA...)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

		exp := src.Do(http.MethodGet, "/api/v1/campaigns/export?format=jsonl&sort=name", nil, asUserA...)
		require.Equal(t, http.StatusOK, exp.Status, "%s", exp.Body)
		assert.Equal(t, "application/x-ndjson", exp.Header.Get("Content-Type"))
		assert.Regexp(t, `^attachment; filename="campaigns-\d{8}T\d{6}Z\.jsonl"$`, exp.Header.Get("Content-Disposition"))
		want := exportLines(t, exp.Body)
		require.Len(t, want, 3)
		assert.Equal(t, "ACTIVE", want[1]["status"])

		dst := apptest.New(t, freshTarget(t, target), apptest.ServerConfig{Configure: func(c *config.Config) {
			// The import has its own limit: far above the JSON body limit here.
			c.HTTP.BodyLimit, c.HTTP.ImportBodyLimit = 4096, 256<<10
		}})
		imp := importFile(t, dst, "", "application/x-ndjson", exp.Body)
		require.Equal(t, http.StatusOK, imp.Status, "%s", imp.Body)
		var rep struct {
			Summary struct{ Lines, Created, Valid, Failed int }
			Results []struct {
				Line             int
				Status, ID, Name string
				SourceID         string `json:"sourceId"`
			}
		}
		imp.Decode(t, &rep)
		assert.Equal(t, 3, rep.Summary.Created)
		for i, res := range rep.Results {
			assert.Equal(t, i+1, res.Line)
			assert.Equal(t, "created", res.Status)
			assert.Equal(t, want[i]["id"], res.SourceID)
		}
		back := dst.Do(http.MethodGet, "/api/v1/campaigns/export?sort=name", nil, asUserA...)
		require.Equal(t, http.StatusOK, back.Status)
		got := exportLines(t, back.Body)
		require.Len(t, got, 3)
		for i := range want {
			sameCampaign(t, want[i], got[i], want[i]["name"].(string))
			assert.Equal(t, rep.Results[i].ID, got[i]["id"])
		}
		// Every import is a CampaignCreated event.
		ev := dst.Do(http.MethodGet, "/api/v1/campaigns/"+rep.Results[0].ID+"/events", nil, asUserA...)
		require.Equal(t, http.StatusOK, ev.Status)
		assert.Contains(t, string(ev.Body), `"CampaignCreated"`)

		// The CSV export, into the same database: the names are taken, so they are renamed.
		csvExp := src.Do(http.MethodGet, "/api/v1/campaigns/export?format=csv&sort=name", nil, asUserA...)
		require.Equal(t, http.StatusOK, csvExp.Status, "%s", csvExp.Body)
		assert.Equal(t, "text/csv; charset=utf-8", csvExp.Header.Get("Content-Type"))
		recs, err := csv.NewReader(bytes.NewReader(csvExp.Body)).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 4)
		assert.Equal(t, []string{"id", "name", "description", "type", "status", "servingStatus", "targetingRules",
			"startDate", "endDate", "budgetAmount", "budgetCurrency", "channels", "createdBy", "createdAt",
			"updatedAt", "version", "targetingVerified", "settings"}, recs[0])
		assert.Equal(t, "SMS", recs[2][11])
		assert.Equal(t, "500000", recs[2][9])

		clash := importFile(t, dst, "", "text/csv", csvExp.Body)
		p := requireProblem(t, clash, http.StatusUnprocessableEntity)
		assert.Equal(t, "urn:campaigns:problem:import-failed", p["type"])
		results := p["results"].([]any)
		require.Len(t, results, 3)
		assert.Equal(t, "urn:campaigns:problem:name-taken", results[0].(map[string]any)["problem"].(map[string]any)["type"])
		// The first record spans three lines (a quoted newline): the next starts on line 4.
		assert.EqualValues(t, 4, results[1].(map[string]any)["line"])

		ren := importFile(t, dst, "onConflict=rename", "text/csv", csvExp.Body)
		require.Equal(t, http.StatusOK, ren.Status, "%s", ren.Body)
		renamed := dst.Do(http.MethodGet, "/api/v1/campaigns/export?q=(import)&sort=name", nil, asUserA...)
		got = exportLines(t, renamed.Body)
		require.Len(t, got, 3)
		for i := range want {
			sameCampaign(t, want[i], got[i], want[i]["name"].(string)+" (import)")
		}
		ren2 := importFile(t, dst, "onConflict=rename&mode=best-effort", "text/csv", csvExp.Body)
		require.Equal(t, http.StatusOK, ren2.Status, "%s", ren2.Body)
		assert.Contains(t, string(ren2.Body), `"name":"Export rt gamma (import 2)"`)
	})
}

func TestExportFiltersAndMetrics(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{})
		var ids []string
		for _, body := range ioCampaigns("fm") {
			r := s.Do(http.MethodPost, "/api/v1/campaigns", body, asUserA...)
			require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
			ids = append(ids, r.Map(t)["id"].(string))
		}
		r := s.Do(http.MethodPost, "/api/v1/campaigns/"+ids[0]+"/activate", nil, asUserA...)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

		// The list's filters, parsed by the list's code.
		active := s.Do(http.MethodGet, "/api/v1/campaigns/export?status=ACTIVE", nil, asUserA...)
		require.Equal(t, http.StatusOK, active.Status)
		lines := exportLines(t, active.Body)
		require.Len(t, lines, 1)
		assert.Equal(t, ids[0], lines[0]["id"])
		assert.NotContains(t, lines[0], "metrics")
		sms := s.Do(http.MethodGet, "/api/v1/campaigns/export?channel=SMS&format=csv", nil, asUserA...)
		recs, err := csv.NewReader(bytes.NewReader(sms.Body)).ReadAll()
		require.NoError(t, err)
		require.Len(t, recs, 2)
		assert.Equal(t, ids[1], recs[1][0])
		none := s.Do(http.MethodGet, "/api/v1/campaigns/export?format=csv&q=nothing-matches", nil, asUserA...)
		require.Equal(t, http.StatusOK, none.Status)
		assert.Equal(t, 1, strings.Count(string(none.Body), "\n"), "the header row alone")

		bad := s.Do(http.MethodGet, "/api/v1/campaigns/export?format=xml&status=NOPE&includeMetrics=1", nil, asUserA...)
		p := requireProblem(t, bad, http.StatusBadRequest)
		assert.ElementsMatch(t, []string{"status", "format", "includeMetrics"}, fieldsOf(p))
		paged := s.Do(http.MethodGet, "/api/v1/campaigns/export?limit=5", nil, asUserA...)
		requireProblem(t, paged, http.StatusBadRequest)
		// The static route is not taken for a campaign id.
		get := s.Do(http.MethodGet, "/api/v1/campaigns/"+ids[2], nil, asUserA...)
		require.Equal(t, http.StatusOK, get.Status)

		// Totals: two rollups of the first campaign, read per page in one query.
		id := uuid.MustParse(ids[0])
		now := time.Now().UTC()
		require.NoError(t, s.API.Metrics.Commit(context.Background(), metrics.Batch{Consumer: "io-test", From: 0, To: 1,
			Rollups: map[metrics.Key]metrics.Totals{
				{CampaignID: id, Hour: metrics.HourOf(now), Variant: "A", Channel: "EMAIL"}: {Impressions: 100, Clicks: 7, CostE4: 12_3400},
				{CampaignID: id, Hour: metrics.HourOf(now), Variant: "B", Channel: "PUSH"}:  {Impressions: 50, Clicks: 3, Conversions: 2, RevenueE4: 99_0000},
			}}, now))
		withM := s.Do(http.MethodGet, "/api/v1/campaigns/export?includeMetrics=true&sort=name", nil, asUserA...)
		require.Equal(t, http.StatusOK, withM.Status, "%s", withM.Body)
		lines = exportLines(t, withM.Body)
		require.Len(t, lines, 3)
		m := lines[0]["metrics"].(map[string]any)
		assert.EqualValues(t, 150, m["impressions"])
		assert.EqualValues(t, 10, m["clicks"])
		assert.EqualValues(t, 2, m["conversions"])
		assert.Equal(t, map[string]any{"amount": "99.00", "currency": "EUR"}, m["revenue"])
		assert.Equal(t, map[string]any{"amount": "12.34", "currency": "EUR"}, m["cost"])
		assert.EqualValues(t, 0, lines[1]["metrics"].(map[string]any)["impressions"])
		csvM := s.Do(http.MethodGet, "/api/v1/campaigns/export?includeMetrics=true&sort=name&format=csv", nil, asUserA...)
		recs, err = csv.NewReader(bytes.NewReader(csvM.Body)).ReadAll()
		require.NoError(t, err)
		assert.Equal(t, []string{"150", "10", "2", "0", "0", "0", "99.00", "12.34"}, recs[1][18:])
		// A metrics export imports as it is (the metrics columns are ignored).
		dst := apptest.New(t, freshTarget(t, target), apptest.ServerConfig{})
		imp := importFile(t, dst, "", "text/csv", csvM.Body)
		require.Equal(t, http.StatusOK, imp.Status, "%s", imp.Body)
		imp = importFile(t, dst, "onConflict=rename", "application/x-ndjson", withM.Body)
		require.Equal(t, http.StatusOK, imp.Status, "%s", imp.Body)
	})
}

func TestImportModes(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{Configure: func(c *config.Config) {
			c.HTTP.ImportBodyLimit = 64 << 10
		}})
		count := func() int {
			r := s.Do(http.MethodGet, "/api/v1/campaigns/export", nil, asUserA...)
			require.Equal(t, http.StatusOK, r.Status)
			return len(exportLines(t, r.Body))
		}
		line := func(name string) string { return string(mustJSON(t, validBody(name))) }
		bad := validBody("Modes bad")
		bad["budget"] = map[string]any{"amount": "-5", "currency": "EURO"}
		bad["startDate"] = "2001-01-01T00:00:00Z"
		file := line("Modes one") + "\n\n" + string(mustJSON(t, bad)) + "\r\n" + `{"name":"x","zz":1}` + "\n" + line("Modes one") + "\n" + line("Modes two")

		dry := importFile(t, s, "dryRun=true", "application/x-ndjson", []byte(file))
		require.Equal(t, http.StatusOK, dry.Status, "%s", dry.Body)
		var rep struct {
			Summary struct {
				Lines, Created, Valid, Failed int
				Complete                      bool
			}
			Results []map[string]any
		}
		dry.Decode(t, &rep)
		assert.Equal(t, 5, rep.Summary.Lines)
		assert.Equal(t, 2, rep.Summary.Valid)
		assert.Equal(t, 3, rep.Summary.Failed)
		assert.True(t, rep.Summary.Complete)
		assert.Equal(t, 0, count(), "a dry run writes nothing")
		want := []struct {
			line   float64
			status string
			typ    string
		}{{1, "valid", ""}, {3, "failed", "validation"}, {4, "failed", "bad-request"}, {5, "failed", "name-taken"}, {6, "valid", ""}}
		for i, w := range want {
			res := rep.Results[i]
			assert.Equal(t, w.line, res["line"])
			assert.Equal(t, w.status, res["status"])
			assert.NotContains(t, res, "id", "a dry run has no ids")
			if w.typ != "" {
				assert.Equal(t, "urn:campaigns:problem:"+w.typ, res["problem"].(map[string]any)["type"])
			}
		}
		// The validation problem is the create's: every broken rule.
		assert.ElementsMatch(t, []string{"startDate", "budget", "budget.amount"}, fieldsOf(rep.Results[1]["problem"].(map[string]any)))
		assert.Equal(t, []string{"zz"}, fieldsOf(rep.Results[2]["problem"].(map[string]any)))

		all := importFile(t, s, "", "application/x-ndjson", []byte(file))
		p := requireProblem(t, all, http.StatusUnprocessableEntity)
		require.Len(t, p["results"], 5)
		first := p["results"].([]any)[0].(map[string]any)
		assert.Equal(t, "valid", first["status"])
		assert.NotContains(t, first, "id", "a rolled-back line has no id")
		assert.Equal(t, 0, count(), "all-or-nothing wrote nothing")

		best := importFile(t, s, "mode=best-effort", "application/x-ndjson", []byte(file))
		require.Equal(t, http.StatusOK, best.Status, "%s", best.Body)
		best.Decode(t, &rep)
		assert.Equal(t, 2, rep.Summary.Created)
		assert.Equal(t, "created", rep.Results[0]["status"])
		assert.NotEmpty(t, rep.Results[0]["id"])
		assert.Equal(t, 2, count())

		ok := importFile(t, s, "mode=all-or-nothing", "application/x-ndjson", []byte(line("Modes three")+"\n"+line("Modes four")+"\n"))
		require.Equal(t, http.StatusOK, ok.Status, "%s", ok.Body)
		assert.Equal(t, 4, count())

		// Refusals of the whole request.
		requireProblem(t, importFile(t, s, "", "application/json", []byte(line("Modes j"))), http.StatusUnsupportedMediaType)
		requireProblem(t, importFile(t, s, "", "application/x-ndjson", []byte(line("Modes k")), "Idempotency-Key", "k1"), http.StatusBadRequest)
		requireProblem(t, importFile(t, s, "", "application/x-ndjson", []byte("\n \n")), http.StatusBadRequest)
		requireProblem(t, importFile(t, s, "mode=some", "application/x-ndjson", []byte(line("Modes l"))), http.StatusBadRequest)
		p = requireProblem(t, importFile(t, s, "", "text/csv", []byte("name,colour\nx,red\n")), http.StatusBadRequest)
		assert.Equal(t, []string{"column 2"}, fieldsOf(p))
		requireProblem(t, importFile(t, s, "", "text/csv", []byte("description\nx\n")), http.StatusBadRequest)

		// Over the import limit: a 413, and in best effort what came before it stays.
		var big strings.Builder
		for i := 0; big.Len() < 80<<10; i++ {
			big.WriteString(line(fmt.Sprintf("Modes big %d", i)) + "\n")
		}
		p = requireProblem(t, importFile(t, s, "", "application/x-ndjson", []byte(big.String())), http.StatusRequestEntityTooLarge)
		assert.Equal(t, 4, count())
		req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/campaigns/import?mode=best-effort", struct{ *strings.Reader }{strings.NewReader(big.String())})
		require.NoError(t, err) // no Content-Length: the limit is met while streaming
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("X-User-ID", userA)
		resp := s.Send(req, []byte(big.String()))
		p = requireProblem(t, resp, http.StatusRequestEntityTooLarge)
		summary := p["summary"].(map[string]any)
		assert.Equal(t, false, summary["complete"])
		assert.Greater(t, summary["created"].(float64), 10.0)
		assert.Equal(t, 4+int(summary["created"].(float64)), count())
		_ = p
	})
}

// An export longer than the server's write timeout and the request timeout runs to its end:
// http.transfer_timeout replaces both on the production server.
func TestExportOutlivesTheRequestTimeouts(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.Serve(t, target, apptest.ServerConfig{Configure: func(c *config.Config) {
			c.HTTP.WriteTimeout, c.HTTP.RequestTimeout = 300*time.Millisecond, 300*time.Millisecond
		}})
		const n = 20_000
		seedCampaigns(t, s.API.DB, 0, n)
		start := time.Now()
		r := s.Do(http.MethodGet, "/api/v1/campaigns/export?format=csv", nil, asUserA...)
		took := time.Since(start)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, n+1, bytes.Count(r.Body, []byte("\n")))
		if took < 300*time.Millisecond {
			t.Logf("the export took %s, less than the timeouts: this run proves nothing", took)
		}
	})
}
