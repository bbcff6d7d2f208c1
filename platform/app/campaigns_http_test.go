package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

const (
	userA = "7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11"
	userB = "0c8e3f7a-5b1d-4e2f-8a9c-1d2e3f4a5b6c"
	rule1 = "3f1c2b4a-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
)

var asUserA = []string{"X-User-ID", userA}

func validBody(name string) map[string]any {
	return map[string]any{
		"name":           name,
		"description":    "Spring promotion for loyal customers",
		"type":           "PROMOTION",
		"targetingRules": []string{rule1},
		"startDate":      time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
		"endDate":        time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"budget":         map[string]any{"amount": "10000.00", "currency": "EUR"},
		"settings": map[string]any{
			"targetAudience": []string{"vip", "newsletter"},
			"channels":       []string{"EMAIL", "PUSH"},
			"frequency":      "WEEKLY",
			"abTestSettings": map[string]any{"enabled": true, "variants": []map[string]any{
				{"key": "A", "name": "Control", "weight": 50}, {"key": "B", "name": "Bold", "weight": 50}}},
			"schedulingRules": []map[string]any{{"days": []string{"MON", "FRI"}, "startTime": "09:00", "endTime": "18:00", "timezone": "Europe/Madrid"}},
			"personalization": map[string]any{"enabled": false, "rules": []string{}},
		},
	}
}

// requireProblem checks the RFC 9457 shape of an error response and returns its body.
func requireProblem(t *testing.T, r *apptest.Response, status int) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	require.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json"), r.Header.Get("Content-Type"))
	p := r.Map(t)
	assert.EqualValues(t, status, p["status"])
	assert.NotEmpty(t, p["title"])
	assert.NotEmpty(t, p["type"])
	assert.Equal(t, r.Header.Get("X-Request-ID"), p["requestId"])
	for _, leak := range []string{"sql", "SQLSTATE", "goroutine", ".go:", "bun:", "pgx"} {
		assert.NotContains(t, string(r.Body), leak, "problem leaks internals")
	}
	return p
}

func fieldsOf(p map[string]any) []string {
	var out []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		out = append(out, e.(map[string]any)["field"].(string))
	}
	return out
}

func TestCampaignsHTTP(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		t.Parallel()
		s := apptest.New(t, target, apptest.ServerConfig{})
		t.Run("create", func(t *testing.T) { testCreate(t, s) })
		t.Run("get", func(t *testing.T) { testGet(t, s) })
		t.Run("update", func(t *testing.T) { testUpdate(t, s) })
		t.Run("delete", func(t *testing.T) { testDelete(t, s) })
		t.Run("list", func(t *testing.T) { testList(t, s) })
		t.Run("plumbing", func(t *testing.T) { testPlumbing(t, s) })
	})
}

func create(t *testing.T, s *apptest.Server, body map[string]any) map[string]any {
	t.Helper()
	r := s.Do(http.MethodPost, "/api/v1/campaigns", body, asUserA...)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	return r.Map(t)
}

func testCreate(t *testing.T, s *apptest.Server) {
	t.Run("201 with Location, ETag and the stored campaign", func(t *testing.T) {
		r := s.Do(http.MethodPost, "/api/v1/campaigns", validBody("Create OK"), "X-User-ID", userA, "X-Request-ID", "req-create-1")
		require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
		c := r.Map(t)
		assert.Equal(t, "/api/v1/campaigns/"+c["id"].(string), r.Header.Get("Location"))
		assert.Equal(t, `"1"`, r.Header.Get("ETag"))
		assert.Equal(t, "req-create-1", r.Header.Get("X-Request-ID"))
		assert.Equal(t, "DRAFT", c["status"])
		assert.Equal(t, userA, c["createdBy"])
		assert.EqualValues(t, 1, c["version"])
		assert.Equal(t, map[string]any{"amount": "10000.00", "currency": "EUR"}, c["budget"])
		assert.Equal(t, []any{rule1}, c["targetingRules"])
		settings := c["settings"].(map[string]any)
		assert.Equal(t, []any{"EMAIL", "PUSH"}, settings["channels"])
		assert.Equal(t, "WEEKLY", settings["frequency"])
	})
	t.Run("amount as a JSON number is parsed exactly", func(t *testing.T) {
		b := validBody("Create Number Amount")
		b["budget"] = map[string]any{"amount": 1234.5, "currency": "USD"}
		c := create(t, s, b)
		assert.Equal(t, map[string]any{"amount": "1234.50", "currency": "USD"}, c["budget"])
	})
	t.Run("the author comes from X-User-ID only, never from the body", func(t *testing.T) {
		b := validBody("Create Body Author")
		b["createdBy"] = userB
		for _, header := range [][]string{nil, asUserA} {
			p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", b, header...), http.StatusBadRequest)
			assert.Equal(t, []string{"createdBy"}, fieldsOf(p))
		}
		r := s.Do(http.MethodGet, "/api/v1/campaigns?"+url.Values{"q": {"Create Body Author"}}.Encode(), nil)
		assert.Empty(t, r.Map(t)["campaigns"], "nothing was created")
	})
	t.Run("other read-only members are refused on create", func(t *testing.T) {
		b := validBody("Create Read Only")
		b["status"], b["id"] = "ACTIVE", "0199b0c4-1d2e-7f00-8000-000000000000"
		p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", b, asUserA...), http.StatusBadRequest)
		assert.ElementsMatch(t, []string{"id", "status"}, fieldsOf(p))
	})
	t.Run("no author is 400", func(t *testing.T) {
		p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", validBody("Create No Author")), http.StatusBadRequest)
		assert.Equal(t, []string{"X-User-ID"}, fieldsOf(p))
	})
	t.Run("field names match exactly", func(t *testing.T) {
		b := validBody("Create Case")
		b["Name"] = b["name"]
		delete(b, "name")
		p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", b, asUserA...), http.StatusBadRequest)
		assert.Equal(t, []string{"Name"}, fieldsOf(p))
		b = validBody("Create Nested Case")
		b["settings"].(map[string]any)["Channels"] = []string{"SMS"}
		p = requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", b, asUserA...), http.StatusBadRequest)
		assert.Equal(t, []string{"settings.Channels"}, fieldsOf(p))
	})
	t.Run("invalid UTF-8 is 400, never replaced", func(t *testing.T) {
		raw := strings.Replace(string(mustJSON(t, validBody("Create Bad UTF8 X"))), "UTF8 X", "UTF8 \xff", 1)
		p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", raw, asUserA...), http.StatusBadRequest)
		assert.Contains(t, p["detail"], "UTF-8")
	})
	t.Run("a null body is 400", func(t *testing.T) {
		requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", "null", asUserA...), http.StatusBadRequest)
	})
	t.Run("a body that does not say it is JSON is 415", func(t *testing.T) {
		body := mustJSON(t, validBody("Create No Media Type"))
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
			req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/campaigns", bytes.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("X-User-ID", userA)
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			p := requireProblem(t, s.Send(req, body), http.StatusUnsupportedMediaType)
			assert.Equal(t, "urn:campaigns:problem:unsupported-media-type", p["type"], "Content-Type %q", ct)
		}
	})
	t.Run("every violation is reported at once", func(t *testing.T) {
		b := validBody("x")
		b["type"] = "BILLBOARD"
		b["startDate"] = "2020-01-01T00:00:00Z"
		b["endDate"] = "2019-01-01T00:00:00Z"
		b["budget"] = map[string]any{"amount": "-5", "currency": "EURO"}
		b["targetingRules"] = []string{rule1, "not-a-uuid", rule1}
		b["settings"].(map[string]any)["channels"] = []string{}
		p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", b, asUserA...), http.StatusUnprocessableEntity)
		fields := fieldsOf(p)
		for _, f := range []string{"name", "type", "startDate", "endDate", "budget", "budget.amount",
			"targetingRules[1]", "targetingRules[2]", "settings.channels"} {
			assert.Contains(t, fields, f)
		}
	})
	t.Run("unknown field is 400 naming it", func(t *testing.T) {
		b := validBody("Create Unknown Field")
		b["status"] = "ACTIVE"
		p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", b, asUserA...), http.StatusBadRequest)
		assert.Equal(t, []string{"status"}, fieldsOf(p))
	})
	t.Run("wrong JSON type is 400 naming the field", func(t *testing.T) {
		b := validBody("Create Wrong Type")
		b["name"] = 42
		p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", b, asUserA...), http.StatusBadRequest)
		assert.Equal(t, []string{"name"}, fieldsOf(p))
	})
	t.Run("malformed JSON is 400", func(t *testing.T) {
		requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", `{"name": "x",`, asUserA...), http.StatusBadRequest)
		requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", `{} {}`, asUserA...), http.StatusBadRequest)
		requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", `[]`, asUserA...), http.StatusBadRequest)
	})
	t.Run("non-JSON media type is 415", func(t *testing.T) {
		requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", "name=x", "X-User-ID", userA, "Content-Type", "application/x-www-form-urlencoded"), http.StatusUnsupportedMediaType)
	})
	t.Run("body over the limit is 413", func(t *testing.T) {
		b := validBody("Create Too Big")
		b["description"] = strings.Repeat("a", 2<<20)
		requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", b, asUserA...), http.StatusRequestEntityTooLarge)
	})
	t.Run("name taken, whatever its case, is 409", func(t *testing.T) {
		create(t, s, validBody("Create Taken"))
		p := requireProblem(t, s.Do(http.MethodPost, "/api/v1/campaigns", validBody("CREATE taken"), asUserA...), http.StatusConflict)
		assert.Equal(t, []string{"name"}, fieldsOf(p))
	})
}

func testGet(t *testing.T, s *apptest.Server) {
	c := create(t, s, validBody("Get Me"))
	r := s.Do(http.MethodGet, "/api/v1/campaigns/"+c["id"].(string), nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, `"1"`, r.Header.Get("ETag"))
	got := r.Map(t)
	assert.Contains(t, got, "metrics", "GET embeds the campaign's metrics")
	assert.Equal(t, map[string]any{"verdict": "NOT_ENOUGH_DATA", "mode": "sequential", "metric": "ctr", "winner": nil}, got["experiment"],
		"and, its A/B test being on, the experiment's verdict")
	delete(got, "metrics")
	delete(got, "experiment")
	assert.Equal(t, c, got)

	requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/0199b0c4-1d2e-7f00-8000-000000000000", nil), http.StatusNotFound)
	requireProblem(t, s.Do(http.MethodGet, "/api/v1/campaigns/not-a-uuid", nil), http.StatusNotFound)
}

func testUpdate(t *testing.T, s *apptest.Server) {
	c := create(t, s, validBody("Update Me"))
	path := "/api/v1/campaigns/" + c["id"].(string)
	b := validBody("Update Me Renamed")
	b["budget"] = map[string]any{"amount": "20000", "currency": "EUR"}

	t.Run("no precondition is 428", func(t *testing.T) {
		requireProblem(t, s.Do(http.MethodPut, path, b), http.StatusPreconditionRequired)
	})
	t.Run("If-Match current version is 200 with the next ETag", func(t *testing.T) {
		r := s.Do(http.MethodPut, path, b, "If-Match", `"1"`)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		assert.Equal(t, `"2"`, r.Header.Get("ETag"))
		got := r.Map(t)
		assert.Equal(t, "Update Me Renamed", got["name"])
		assert.Equal(t, "20000.00", got["budget"].(map[string]any)["amount"])
		assert.Equal(t, c["createdAt"], got["createdAt"])
		assert.Equal(t, c["createdBy"], got["createdBy"])
	})
	t.Run("stale If-Match is 412 and changes nothing", func(t *testing.T) {
		b2 := validBody("Update Me Stale")
		requireProblem(t, s.Do(http.MethodPut, path, b2, "If-Match", `"1"`), http.StatusPreconditionFailed)
		requireProblem(t, s.Do(http.MethodPut, path, b2, "If-Match", `"garbage"`), http.StatusPreconditionFailed)
		assert.Equal(t, "Update Me Renamed", s.Do(http.MethodGet, path, nil).Map(t)["name"])
	})
	t.Run("stale body version is 409", func(t *testing.T) {
		b2 := validBody("Update Me Stale")
		b2["version"] = 1
		p := requireProblem(t, s.Do(http.MethodPut, path, b2), http.StatusConflict)
		assert.Equal(t, "urn:campaigns:problem:version-conflict", p["type"])
	})
	t.Run("current body version is 200", func(t *testing.T) {
		b2 := validBody("Update Me Body Version")
		b2["version"] = 2
		r := s.Do(http.MethodPut, path, b2)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		assert.Equal(t, `"3"`, r.Header.Get("ETag"))
	})
	t.Run("invalid input is 422", func(t *testing.T) {
		b2 := validBody("ab")
		p := requireProblem(t, s.Do(http.MethodPut, path, b2, "If-Match", `"3"`), http.StatusUnprocessableEntity)
		assert.Equal(t, []string{"name"}, fieldsOf(p))
	})
	t.Run("createdBy in the body is ignored on update", func(t *testing.T) {
		b2 := validBody("Update Me Author")
		b2["createdBy"] = userB
		got := requireStatus(t, s.Do(http.MethodPut, path, b2, "If-Match", `"3"`), http.StatusOK)
		assert.Equal(t, userA, got["createdBy"], "the author never changes")
	})
	t.Run("PUT takes back what GET returned", func(t *testing.T) {
		read := s.Do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, read.Status)
		rep := read.Map(t)
		require.Contains(t, rep, "metrics", "GET embeds the metrics: the body carries them back")
		rep["name"] = "Update Me From GET"
		got := requireStatus(t, s.Do(http.MethodPut, path, rep), http.StatusOK) // its version is the precondition
		assert.Equal(t, "Update Me From GET", got["name"])
		assert.EqualValues(t, rep["version"].(float64)+1, got["version"])
		for _, k := range []string{"id", "status", "createdBy", "createdAt", "type", "budget", "settings", "targetingRules", "startDate", "endDate"} {
			assert.Equal(t, rep[k], got[k], k)
		}
		// The same body again: its version is stale now.
		p := requireProblem(t, s.Do(http.MethodPut, path, rep), http.StatusConflict)
		assert.Equal(t, "urn:campaigns:problem:version-conflict", p["type"])
		// Read-only members are ignored whatever they say; unknown ones are still refused.
		rep = s.Do(http.MethodGet, path, nil).Map(t)
		rep["status"], rep["createdBy"], rep["targetingVerified"], rep["servingStatus"] = "ACTIVE", userB, true, "SERVING"
		got = requireStatus(t, s.Do(http.MethodPut, path, rep), http.StatusOK)
		assert.Equal(t, "DRAFT", got["status"])
		assert.Equal(t, userA, got["createdBy"])
		rep = s.Do(http.MethodGet, path, nil).Map(t)
		rep["deletedAt"] = nil
		p = requireProblem(t, s.Do(http.MethodPut, path, rep), http.StatusBadRequest)
		assert.Equal(t, []string{"deletedAt"}, fieldsOf(p))
		// An id naming another campaign is a mistake, not a read-only member to ignore.
		rep = s.Do(http.MethodGet, path, nil).Map(t)
		rep["id"] = "0199b0c4-1d2e-7f00-8000-000000000000"
		p = requireProblem(t, s.Do(http.MethodPut, path, rep), http.StatusBadRequest)
		assert.Equal(t, []string{"id"}, fieldsOf(p))
	})
	t.Run("an ACTIVE campaign cannot be edited", func(t *testing.T) {
		c2 := create(t, s, validBody("Update Active"))
		setStatus(t, s, c2["id"].(string), "ACTIVE")
		p := requireProblem(t, s.Do(http.MethodPut, "/api/v1/campaigns/"+c2["id"].(string), validBody("Update Active 2"), "If-Match", `"1"`), http.StatusConflict)
		assert.Equal(t, "ACTIVE", p["currentStatus"])
	})
	t.Run("unknown campaign is 404", func(t *testing.T) {
		requireProblem(t, s.Do(http.MethodPut, "/api/v1/campaigns/0199b0c4-1d2e-7f00-8000-000000000000", b, "If-Match", `"1"`), http.StatusNotFound)
	})
}

// setStatus moves a campaign straight in the database: lifecycle actions are not under test here.
func setStatus(t *testing.T, s *apptest.Server, id, status string) {
	t.Helper()
	_, err := s.API.DB.NewUpdate().Table("campaigns").Set("status = ?", status).Where("id = ?", id).Exec(t.Context())
	require.NoError(t, err)
}

func testDelete(t *testing.T, s *apptest.Server) {
	c := create(t, s, validBody("Delete Me"))
	path := "/api/v1/campaigns/" + c["id"].(string)
	requireProblem(t, s.Do(http.MethodDelete, path, nil, "If-Match", `"5"`), http.StatusPreconditionFailed)
	r := s.Do(http.MethodDelete, path, nil, "If-Match", `"1"`)
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	assert.Empty(t, r.Body)
	requireProblem(t, s.Do(http.MethodGet, path, nil), http.StatusNotFound)
	requireProblem(t, s.Do(http.MethodDelete, path, nil), http.StatusNotFound)
	create(t, s, validBody("delete me")) // the name is free again

	for _, st := range []string{"ACTIVE", "PAUSED"} {
		c2 := create(t, s, validBody("Delete Running "+st))
		setStatus(t, s, c2["id"].(string), st)
		p := requireProblem(t, s.Do(http.MethodDelete, "/api/v1/campaigns/"+c2["id"].(string), nil), http.StatusConflict)
		assert.Equal(t, st, p["currentStatus"])
	}
	for _, st := range []string{"COMPLETED", "CANCELLED"} {
		c2 := create(t, s, validBody("Delete Ended "+st))
		setStatus(t, s, c2["id"].(string), st)
		assert.Equal(t, http.StatusNoContent, s.Do(http.MethodDelete, "/api/v1/campaigns/"+c2["id"].(string), nil).Status)
	}
}

func testList(t *testing.T, s *apptest.Server) {
	const n = 25
	for i := range n {
		b := validBody(fmt.Sprintf("List Item %02d", i))
		if i%5 == 0 {
			b["type"] = "LOYALTY"
			b["settings"].(map[string]any)["channels"] = []string{"SMS"}
		}
		create(t, s, b)
	}
	list := func(q url.Values) (*apptest.Response, map[string]any) {
		r := s.Do(http.MethodGet, "/api/v1/campaigns?"+q.Encode(), nil)
		if r.Status != http.StatusOK {
			return r, nil
		}
		return r, r.Map(t)
	}
	t.Run("pages through every match once, in order", func(t *testing.T) {
		q := url.Values{"q": {"List Item"}, "sort": {"name"}, "limit": {"10"}}
		var names []string
		for pages := 0; pages < 10; pages++ {
			r, body := list(q)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			assert.EqualValues(t, 10, body["limit"])
			for _, c := range body["campaigns"].([]any) {
				names = append(names, c.(map[string]any)["name"].(string))
			}
			next, _ := body["nextCursor"].(string)
			if next == "" {
				break
			}
			q.Set("cursor", next)
		}
		require.Len(t, names, n)
		for i, name := range names {
			assert.Equal(t, fmt.Sprintf("List Item %02d", i), name)
		}
	})
	t.Run("filters", func(t *testing.T) {
		_, body := list(url.Values{"q": {"list item"}, "type": {"LOYALTY"}, "limit": {"100"}})
		assert.Len(t, body["campaigns"], 5)
		_, body = list(url.Values{"q": {"list item"}, "channel": {"SMS"}})
		assert.Len(t, body["campaigns"], 5)
		_, body = list(url.Values{"q": {"list item"}, "status": {"DRAFT,ACTIVE"}, "createdBy": {userA}, "limit": {"100"}})
		assert.Len(t, body["campaigns"], n)
		_, body = list(url.Values{"q": {"list item"}, "status": {"ACTIVE"}})
		assert.Len(t, body["campaigns"], 0)
		from := time.Now().UTC().Format(time.RFC3339)
		to := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
		_, body = list(url.Values{"q": {"list item"}, "startFrom": {from}, "startTo": {to}, "limit": {"100"}})
		assert.Len(t, body["campaigns"], n)
		_, body = list(url.Values{"q": {"list item"}, "startTo": {from}})
		assert.Len(t, body["campaigns"], 0)
	})
	t.Run("bad query is 400 naming each parameter", func(t *testing.T) {
		r, _ := list(url.Values{"limit": {"500"}, "status": {"RUNNING"}, "sort": {"budget"}, "cursor": {"!!"}})
		p := requireProblem(t, r, http.StatusBadRequest)
		assert.ElementsMatch(t, []string{"limit", "status", "sort", "cursor"}, fieldsOf(p))
		// Names are checked before values: every unknown or repeated one is listed.
		r, _ = list(url.Values{"limit": {"5", "6"}, "colour": {"red"}, "Limit": {"5"}, "status": {"DRAFT", "ACTIVE"}})
		p = requireProblem(t, r, http.StatusBadRequest)
		assert.ElementsMatch(t, []string{"limit", "colour", "Limit"}, fieldsOf(p))
	})
	t.Run("text the database cannot compare is 400", func(t *testing.T) {
		for _, q := range []string{"abc\x00def", "\x00", "caf\xc3", "a\nb"} {
			r, _ := list(url.Values{"q": {q}})
			p := requireProblem(t, r, http.StatusBadRequest)
			assert.Equal(t, []string{"q"}, fieldsOf(p), "q=%q", q)
		}
	})
	t.Run("dates the database cannot hold are 400", func(t *testing.T) {
		for _, v := range []string{"0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-05:00"} {
			r, _ := list(url.Values{"startFrom": {v}, "startTo": {v}})
			p := requireProblem(t, r, http.StatusBadRequest)
			assert.ElementsMatch(t, []string{"startFrom", "startTo"}, fieldsOf(p), v)
		}
		r, _ := list(url.Values{"startFrom": {"0001-01-01T00:00:00Z"}, "startTo": {"9999-12-31T23:59:59Z"}})
		assert.Equal(t, http.StatusOK, r.Status, "the extremes themselves are fine: %s", r.Body)
	})
	t.Run("a forged cursor is 400", func(t *testing.T) {
		for _, c := range []campaign.Cursor{
			{Sort: campaign.SortName, Value: "a\x00b"},
			{Sort: campaign.SortCreatedAt, Desc: true, Value: "0000-01-01T00:00:00Z"},
			{Sort: campaign.SortStartDate, Value: "0001-01-01T00:00:00+01:00"},
		} {
			sort := string(c.Sort)
			if c.Desc {
				sort = "-" + sort
			}
			r, _ := list(url.Values{"sort": {sort}, "cursor": {c.Encode()}})
			p := requireProblem(t, r, http.StatusBadRequest)
			assert.Equal(t, []string{"cursor"}, fieldsOf(p), "%+v", c)
		}
	})
	t.Run("a cursor from another sort is 400", func(t *testing.T) {
		_, body := list(url.Values{"q": {"List Item"}, "sort": {"name"}, "limit": {"2"}})
		r, _ := list(url.Values{"q": {"List Item"}, "sort": {"-name"}, "cursor": {body["nextCursor"].(string)}})
		requireProblem(t, r, http.StatusBadRequest)
	})
}

func testPlumbing(t *testing.T, s *apptest.Server) {
	r := s.Do(http.MethodGet, "/health", nil)
	assert.Equal(t, http.StatusOK, r.Status)
	r = s.Do(http.MethodGet, "/ready", nil)
	assert.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r = s.Do(http.MethodGet, "/openapi.yaml", nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Contains(t, string(r.Body), "openapi: 3.0")
	requireProblem(t, s.Do(http.MethodGet, "/api/v1/nothing-here", nil), http.StatusNotFound)
	assert.NotEmpty(t, s.Do(http.MethodGet, "/health", nil).Header.Get("X-Request-ID"))
	r = s.Do(http.MethodGet, "/health", nil, "X-Correlation-ID", "corr-42")
	assert.Equal(t, "corr-42", r.Header.Get("X-Request-ID"))
}

func TestReadyReportsADownDatabase(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})
	require.NoError(t, s.API.DB.Close())
	r := s.Do(http.MethodGet, "/ready", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	assert.Equal(t, map[string]any{"status": "unavailable", "checks": map[string]any{"database": "unavailable", "nats": "ok"}}, r.Map(t))
	assert.Equal(t, http.StatusOK, s.Do(http.MethodGet, "/health", nil).Status, "liveness has no dependencies")
}

// The API writes without NATS (the outbox keeps the events), so a NATS outage keeps it in
// service: /ready is 200 "degraded", writes are 201, and it is "ready" again once NATS is back.
func TestReadyStaysInServiceWithoutNATS(t *testing.T) {
	t.Parallel()
	broker := natstest.NewServer(t)
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(c *config.Config) {
		c.NATS.Embedded, c.NATS.URL = false, broker.URL()
	}})
	require.Equal(t, http.StatusOK, s.Do(http.MethodGet, "/ready", nil).Status)

	broker.Stop()
	require.Eventually(t, func() bool {
		r := s.Do(http.MethodGet, "/ready", nil)
		return r.Status == http.StatusOK && r.Map(t)["status"] == "degraded"
	}, 10*time.Second, 50*time.Millisecond, "/ready during a NATS outage")
	r := s.Do(http.MethodGet, "/ready", nil)
	assert.Equal(t, map[string]any{"status": "degraded", "checks": map[string]any{"database": "ok", "nats": "unavailable"}}, r.Map(t))
	created := s.Do(http.MethodPost, "/api/v1/campaigns", validBody("Written during an outage"), asUserA...)
	assert.Equal(t, http.StatusCreated, created.Status, "a write during the outage: %s", created.Body)

	broker.Start()
	require.Eventually(t, func() bool {
		return s.Do(http.MethodGet, "/ready", nil).Map(t)["status"] == "ready"
	}, 15*time.Second, 100*time.Millisecond, "/ready once NATS is back")
}
