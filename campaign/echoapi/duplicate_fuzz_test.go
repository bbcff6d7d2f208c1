package echoapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

func duplicateSeeds() []string {
	return []string{
		``, `{}`, `{"name":"Copy"}`, `{"shift":"P7D"}`, `{"shift":"-P1W"}`, `{"shift":"P1Y"}`,
		`{"startDate":"2099-03-01T00:00:00Z","endDate":null}`, `{"startDate":"2000-01-01T00:00:00Z"}`,
		`{"endDate":"2098-01-01T00:00:00Z"}`, `{"endDate":5}`, `{"shift":"P1D","startDate":"2099-03-01T00:00:00Z"}`,
		`{"name":""}`, `{"name":"\u0000x"}`, `{"status":"ACTIVE"}`, `null`, `{`, `[]`, `{"shift":"P999999999W"}`,
	}
}

// FuzzDuplicateRequest drives the duplicate endpoint with arbitrary bodies: every bad one is
// a 4xx problem, never a 500, and every copy made is a valid new DRAFT of the caller's.
func FuzzDuplicateRequest(f *testing.F) {
	for _, s := range duplicateSeeds() {
		f.Add([]byte(s))
	}
	e := newFuzzServer(f, f.TempDir())
	src := fuzzSource(f, e)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkCreateResponse(t, body, postDuplicate(e, src, body))
	})
}

// The duplicate seeds reach a copy, a malformed body and a broken rule.
func TestDuplicateSeedsReachEachOutcome(t *testing.T) {
	t.Parallel()
	e := newFuzzServer(t, t.TempDir())
	src := fuzzSource(t, e)
	statuses := map[int]int{}
	for _, s := range duplicateSeeds() {
		rec := postDuplicate(e, src, []byte(s))
		checkCreateResponse(t, []byte(s), rec)
		statuses[rec.Code]++
	}
	assert.Positive(t, statuses[http.StatusCreated], "%v", statuses)
	assert.Positive(t, statuses[http.StatusBadRequest], "%v", statuses)
	assert.Positive(t, statuses[http.StatusUnprocessableEntity], "%v", statuses)
}

func fuzzSource(tb testing.TB, e *echo.Echo) string {
	tb.Helper()
	rec := postCreate(e, []byte(fmt.Sprintf(fuzzValidBody, "Fuzz source")))
	require.Equal(tb, http.StatusCreated, rec.Code, rec.Body.String())
	var c echoapi.Response
	require.NoError(tb, json.Unmarshal(rec.Body.Bytes(), &c))
	return c.ID.String()
}

func postDuplicate(e *echo.Echo, id string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/campaigns/"+id+"/duplicate", bytes.NewReader(body))
	if len(body) > 0 {
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	req.Header.Set(httpx.HeaderUserID, fuzzUserID)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}
