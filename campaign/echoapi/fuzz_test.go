package echoapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/campaign"
	"github.com/engine-rules-sp/campaigns/campaign/bunstore"
	"github.com/engine-rules-sp/campaigns/campaign/echoapi"
	"github.com/engine-rules-sp/campaigns/platform/database/sqlite"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/migrate"
)

const fuzzUserID = "33333333-3333-4333-8333-333333333333"

// fuzzValidBody is a create request that passes every rule; %s is the name.
const fuzzValidBody = `{
  "name": %q,
  "description": "Twenty percent off",
  "type": "PROMOTION",
  "targetingRules": ["0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"],
  "startDate": "2099-01-01T09:00:00Z",
  "endDate": "2099-02-01T09:00:00Z",
  "budget": {"amount": "10000.00", "currency": "EUR"},
  "settings": {
    "targetAudience": ["vip"],
    "channels": ["EMAIL", "PUSH"],
    "frequency": "DAILY",
    "maxImpressions": 1000,
    "budgetLimit": {"amount": "5000", "currency": "EUR"},
    "abTestSettings": {"enabled": true, "variants": [{"key": "A", "name": "Control", "weight": 50}, {"key": "B", "name": "New", "weight": 50}]},
    "schedulingRules": [{"days": ["MON", "FRI"], "startTime": "09:00", "endTime": "17:00", "timezone": "Europe/Paris"}],
    "personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}
  }
}`

// fuzzBody is a small valid body with one JSON member replaced or added: fields is spliced
// into the object after the required members.
func fuzzBody(name, fields string) string {
	b := fmt.Sprintf(`{"name":%q,"type":"LOYALTY","startDate":"2099-03-01T00:00:00Z","budget":{"amount":"100","currency":"EUR"},"settings":{"channels":["SMS"]}`, name)
	if fields != "" {
		b += "," + fields
	}
	return b + "}"
}

// fuzzReplace is the valid body with old replaced by new (once).
func fuzzReplace(name, old, new string) string {
	body := fmt.Sprintf(fuzzValidBody, name)
	if !strings.Contains(body, old) {
		panic("seed does not contain " + old)
	}
	return strings.Replace(body, old, new, 1)
}

func fuzzSeeds() []string {
	seeds := []string{
		fmt.Sprintf(fuzzValidBody, "Fuzz valid campaign"),
		fuzzBody("Fuzz minimal campaign", ""),
		// amounts
		fuzzReplace("Amount number", `"10000.00"`, `10000`),
		fuzzReplace("Amount fraction number", `"10000.00"`, `10000.5`),
		fuzzReplace("Amount exponent number", `"10000.00"`, `1e4`),
		fuzzReplace("Amount exponent string", `"10000.00"`, `"1e4"`),
		fuzzReplace("Amount huge number", `"10000.00"`, `123456789012345678901234567890`),
		fuzzReplace("Amount huge exponent", `"10000.00"`, `1e400`),
		fuzzReplace("Amount tiny exponent", `"10000.00"`, `1e-400`),
		fuzzReplace("Amount many decimals", `"10000.00"`, `"0.`+strings.Repeat("0", 500)+`1"`),
		fuzzReplace("Amount null", `"10000.00"`, `null`),
		fuzzReplace("Amount true", `"10000.00"`, `true`),
		fuzzReplace("Amount object", `"10000.00"`, `{"value":1}`),
		fuzzReplace("Amount array", `"10000.00"`, `[1]`),
		fuzzReplace("Amount NaN", `"10000.00"`, `"NaN"`),
		fuzzReplace("Amount Infinity", `"10000.00"`, `"Infinity"`),
		fuzzReplace("Amount hex", `"10000.00"`, `"0x10"`),
		fuzzReplace("Amount padded", `"10000.00"`, `" 10 "`),
		fuzzReplace("Amount plus", `"10000.00"`, `"+10"`),
		fuzzReplace("Amount leading dot", `"10000.00"`, `".5"`),
		fuzzReplace("Amount trailing dot", `"10000.00"`, `"5."`),
		fuzzReplace("Amount negative zero", `"10000.00"`, `"-0"`),
		fuzzReplace("Amount negative", `"10000.00"`, `-5`),
		fuzzReplace("Amount too many decimals", `"10000.00"`, `"10.001"`),
		fuzzReplace("Amount at the limit", `"10000.00"`, `"1000000000000000"`),
		fuzzReplace("Amount escaped", `"10000.00"`, `"\u0031\u0030"`),
		fuzzReplace("Amount bad escape", `"10000.00"`, `"\x31"`),
		fuzzReplace("Currency JPY decimals", `"currency": "EUR"}`, `"currency": "JPY"}`),
		fuzzReplace("Currency lower", `"currency": "EUR"}`, `"currency": "eur"}`),
		fuzzReplace("Currency number", `"currency": "EUR"}`, `"currency": 978}`),
		fuzzReplace("Currency null", `"currency": "EUR"}`, `"currency": null}`),
		fuzzReplace("Currency unknown", `"currency": "EUR"}`, `"currency": "ZZZ"}`),
		fuzzReplace("Currency long", `"currency": "EUR"}`, `"currency": "`+strings.Repeat("E", 1000)+`"}`),
		fuzzReplace("Budget null", `{"amount": "10000.00", "currency": "EUR"}`, `null`),
		fuzzReplace("Budget string", `{"amount": "10000.00", "currency": "EUR"}`, `"10000 EUR"`),
		fuzzReplace("Budget extra", `{"amount": "10000.00", "currency": "EUR"}`, `{"amount": "1", "currency": "EUR", "cents": 1}`),
		fuzzReplace("Budget limit other currency", `{"amount": "5000", "currency": "EUR"}`, `{"amount": "5000", "currency": "USD"}`),
		fuzzReplace("Budget limit above", `{"amount": "5000", "currency": "EUR"}`, `{"amount": 20000, "currency": "EUR"}`),
		fuzzReplace("Budget limit bad", `{"amount": "5000", "currency": "EUR"}`, `{"amount": "x"}`),
		// pacing
		fuzzReplace("Pacing even daily", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": {"mode": "EVEN", "period": "DAILY", "dailyBudget": {"amount": "300", "currency": "EUR"}, "timezone": "America/New_York"}`),
		fuzzReplace("Pacing front-loaded flight", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": {"mode": "FRONT_LOADED", "period": "FLIGHT"}`),
		fuzzReplace("Pacing defaults", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": {"dailyBudget": {"amount": 300.5, "currency": "EUR"}}`),
		fuzzReplace("Pacing empty", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": {}`),
		fuzzReplace("Pacing null", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": null`),
		fuzzReplace("Pacing unknown mode", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": {"mode": "TURBO", "period": "DAILY", "dailyBudget": {"amount": "1", "currency": "EUR"}}`),
		fuzzReplace("Pacing daily without budget", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": {"mode": "EVEN", "period": "DAILY"}`),
		fuzzReplace("Pacing daily above budget", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": {"period": "DAILY", "dailyBudget": {"amount": "1e9", "currency": "EUR"}}`),
		fuzzReplace("Pacing bad zone", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": {"mode": "EVEN", "period": "FLIGHT", "timezone": "../../etc/passwd"}`),
		fuzzReplace("Pacing unknown member", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": {"mode": "EVEN", "period": "FLIGHT", "speed": 2}`),
		fuzzReplace("Pacing mode number", `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}`, `"personalization": {"enabled": true, "rules": ["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]}, "pacing": {"mode": 1}`),
		// names
		fuzzBody("日本語キャンペーン", ""),
		fuzzBody("🎉🎉🎉", ""),
		fuzzBody("🎉🎉", ""),
		fuzzBody("\u0000abc", ""),
		fuzzBody("ab\tc", ""),
		fuzzBody("   ab   ", ""),
		fuzzBody(strings.Repeat("n", 255), ""),
		fuzzBody(strings.Repeat("n", 256), ""),
		fuzzBody(strings.Repeat("é", 255), ""),
		fuzzBody("FUZZ MINIMAL CAMPAIGN", ""), // same name as above, other case
		fuzzReplace("x", `"name": "x"`, `"name": null`),
		fuzzReplace("x", `"name": "x"`, `"name": 123`),
		fuzzReplace("x", `"name": "x"`, `"name": ["a","b","c"]`),
		"{\"name\":\"bad \xff\xfe utf8\",\"type\":\"LOYALTY\",\"startDate\":\"2099-03-01T00:00:00Z\",\"budget\":{\"amount\":\"1\",\"currency\":\"EUR\"},\"settings\":{\"channels\":[\"SMS\"]}}",
		// fields a client must not set, and unknown ones
		fuzzBody("Client status", `"status":"ACTIVE"`),
		fuzzBody("Client version", `"version":7`),
		fuzzBody("Client id", `"id":"0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"`),
		fuzzBody("Client createdBy", `"createdBy":"not-a-uuid"`),
		fuzzBody("Client createdBy ok", `"createdBy":"44444444-4444-4444-8444-444444444444"`),
		fuzzBody("Unknown field", `"colour":"blue"`),
		fuzzBody("Name in another case", `"NAME":"Other name"`),
		fuzzReplace("Nested name in another case", `"channels": ["EMAIL", "PUSH"]`, `"Channels": ["EMAIL", "PUSH"]`),
		fuzzBody("Field given twice", `"type":"COUPON"`),
		fuzzBody("Description NUL", `"description":"a\u0000b"`),
		fuzzBody("Description long", `"description":"`+strings.Repeat("d", 1001)+`"`),
		fuzzBody("Type lower", `"type":"loyalty"`),
		fuzzBody("Type number", `"type":1`),
		// dates
		fuzzReplace("Start month 13", `"2099-01-01T09:00:00Z"`, `"2099-13-01T09:00:00Z"`),
		fuzzReplace("Start words", `"2099-01-01T09:00:00Z"`, `"tomorrow"`),
		fuzzReplace("Start past", `"2099-01-01T09:00:00Z"`, `"1999-01-01T09:00:00Z"`),
		fuzzReplace("Start number", `"2099-01-01T09:00:00Z"`, `4070908800`),
		fuzzReplace("Start null", `"2099-01-01T09:00:00Z"`, `null`),
		fuzzReplace("Start date only", `"2099-01-01T09:00:00Z"`, `"2099-01-01"`),
		fuzzReplace("Start leap second", `"2099-01-01T09:00:00Z"`, `"2098-12-31T23:59:60Z"`),
		fuzzReplace("Start offset", `"2099-01-01T09:00:00Z"`, `"2099-01-01T09:00:00+14:00"`),
		fuzzReplace("Start year 0", `"2099-01-01T09:00:00Z"`, `"0000-01-01T00:00:00Z"`),
		fuzzBody("Start year 9999", `"startDate":"9999-12-31T23:59:59Z"`),
		fuzzBody("Start year 10000 in UTC", `"startDate":"9999-12-31T23:00:00-05:00"`),
		fuzzBody("End year 10000 in UTC", `"endDate":"9999-12-31T23:59:59-23:59"`),
		fuzzBody("Start nanoseconds", `"startDate":"2099-01-01T09:00:00.123456789Z"`),
		fuzzReplace("End before start", `"2099-02-01T09:00:00Z"`, `"2098-02-01T09:00:00Z"`),
		fuzzReplace("End equal start", `"2099-02-01T09:00:00Z"`, `"2099-01-01T09:00:00Z"`),
		fuzzReplace("End null", `"2099-02-01T09:00:00Z"`, `null`),
		fuzzReplace("End empty", `"2099-02-01T09:00:00Z"`, `""`),
		// rules
		fuzzReplace("Rule not uuid", `"0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"`, `"rule-1"`),
		fuzzReplace("Rule braces", `"0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"`, `"{0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11}"`),
		fuzzReplace("Rule urn", `"0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"`, `"urn:uuid:0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"`),
		fuzzReplace("Rule upper", `"0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"`, `"0B5F8A52-3A1E-4C57-9A8E-2F2F0F6C1A11"`),
		fuzzReplace("Rule dup", `"0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"`, `"0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11","0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"`),
		fuzzReplace("Rule number", `"0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"`, `1`),
		fuzzReplace("Rule null", `"0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"`, `null`),
		fuzzReplace("Rules object", `["0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"]`, `{}`),
		// settings and nested wrong types
		fuzzBody("Settings null", `"settings":null`),
		fuzzBody("Settings array", `"settings":[]`),
		fuzzBody("Settings empty", `"settings":{}`),
		fuzzReplace("Channels string", `["EMAIL", "PUSH"]`, `"EMAIL"`),
		fuzzReplace("Channels unknown", `["EMAIL", "PUSH"]`, `["FAX", "EMAIL", "EMAIL"]`),
		fuzzReplace("Channels null item", `["EMAIL", "PUSH"]`, `[null]`),
		fuzzReplace("Frequency bad", `"DAILY"`, `"HOURLY"`),
		fuzzReplace("Frequency empty", `"DAILY"`, `""`),
		fuzzReplace("Max impressions overflow", `"maxImpressions": 1000`, `"maxImpressions": 1e20`),
		fuzzReplace("Max impressions negative", `"maxImpressions": 1000`, `"maxImpressions": -1`),
		fuzzReplace("Max impressions fraction", `"maxImpressions": 1000`, `"maxImpressions": 1.5`),
		fuzzReplace("Max impressions string", `"maxImpressions": 1000`, `"maxImpressions": "1000"`),
		fuzzReplace("Max impressions max", `"maxImpressions": 1000`, `"maxImpressions": 9223372036854775807`),
		fuzzReplace("Audience blank", `["vip"]`, `[" "]`),
		fuzzReplace("Audience nested", `["vip"]`, `[["vip"]]`),
		fuzzReplace("Variant weight string", `"weight": 50}, {"key": "B"`, `"weight": "50"}, {"key": "B"`),
		fuzzReplace("Variant weight huge", `"weight": 50}, {"key": "B"`, `"weight": 9223372036854775807}, {"key": "B"`),
		fuzzReplace("Variant weight overflow", `"weight": 50}, {"key": "B"`, `"weight": 1e30}, {"key": "B"`),
		fuzzReplace("Variant dup key", `{"key": "B"`, `{"key": "A"`),
		fuzzReplace("Variants null", `"variants": [`, `"variants": null, "x": [`),
		fuzzReplace("Variants object", `"enabled": true, "variants"`, `"enabled": "yes", "variants"`),
		fuzzReplace("AB null", `"abTestSettings": {`, `"abTestSettings": null, "zz": {`),
		fuzzReplace("Days string", `["MON", "FRI"]`, `"MON"`),
		fuzzReplace("Days lower", `["MON", "FRI"]`, `["mon"]`),
		fuzzReplace("Time bad", `"09:00"`, `"9am"`),
		fuzzReplace("Time reversed", `"17:00"`, `"08:00"`),
		fuzzReplace("Timezone Local", `"Europe/Paris"`, `"Local"`),
		fuzzReplace("Timezone traversal", `"Europe/Paris"`, `"../../../../etc/passwd"`),
		fuzzReplace("Timezone NUL", `"Europe/Paris"`, `"Europe/Paris\u0000"`),
		fuzzReplace("Timezone absolute", `"Europe/Paris"`, `"/usr/share/zoneinfo/UTC"`),
		fuzzReplace("Timezone empty", `"Europe/Paris"`, `""`),
		fuzzReplace("Personalization off", `"enabled": true, "rules"`, `"enabled": false, "rules"`),
		fuzzReplace("Personalization bad rule", `"7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"`, `"x"`),
		fuzzReplace("Personalization null rules", `["7d7cf0a4-1f0e-4b8e-8d4e-5b8f3f0e2c22"]`, `null`),
		// not objects, broken JSON
		``, ` `, `null`, `{}`, `[]`, `"campaign"`, `123`, `true`, `{`, `}`, `{"name":}`, `{"name":"x"`,
		`{"name":"x"}{"name":"y"}`, `{"name":"x"} trailing`, `{"":[] }`,
		strings.Repeat("[", 10000), strings.Repeat(`{"settings":`, 2000),
		`{"name":"a","name":"Duplicate key campaign","type":"COUPON","startDate":"2099-01-01T00:00:00Z","budget":{"amount":1,"currency":"USD"},"settings":{"channels":["WEB"]}}`,
	}
	// a body that holds many list entries
	many := make([]string, 150)
	for i := range many {
		many[i] = fmt.Sprintf(`"%08d-0000-4000-8000-000000000000"`, i)
	}
	seeds = append(seeds, fuzzReplace("Many rules", `["0b5f8a52-3a1e-4c57-9a8e-2f2f0f6c1a11"]`, "["+strings.Join(many, ",")+"]"))
	return seeds
}

type fuzzProblem struct {
	Type   *string `json:"type"`
	Title  string  `json:"title"`
	Status *int    `json:"status"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// newFuzzServer wires the campaign handler as a host would: the service's Echo instance, a
// real SQLite database in a temporary folder, migrated.
func newFuzzServer(tb testing.TB, dir string) *echo.Echo {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	e := httpx.NewEcho(httpx.EchoConfig{Logger: logger, BodyLimit: 1 << 20, RequestTimeout: 5 * time.Second})
	db, err := sqlite.Open(ctx, filepath.Join(dir, "fuzz.db"), sqlite.Pool())
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = db.Close() })
	require.NoError(tb, migrate.Up(ctx, db, bunstore.Schema()...))
	echoapi.NewHandler(campaign.NewService(bunstore.New(db), campaign.ServiceConfig{}), echoapi.HandlerConfig{Logger: logger}).Register(e.Group("/api/v1"))
	return e
}

// checkCreateResponse asserts what must hold for any create request, valid or not.
func checkCreateResponse(t *testing.T, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	status := rec.Code
	require.Less(t, status, 500, "a request body must never cause a server error; body %q answered %s", body, rec.Body.String())
	if status < 200 || status > 299 {
		assert.Equal(t, httpx.ProblemContentType, rec.Header().Get(echo.HeaderContentType), "status %d", status)
		var p fuzzProblem
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), "problem body %q", rec.Body.String())
		require.NotNil(t, p.Status, "problem without status: %s", rec.Body.String())
		assert.Equal(t, status, *p.Status)
		assert.NotEmpty(t, p.Title, "problem without title: %s", rec.Body.String())
		require.NotNil(t, p.Type)
		assert.NotEmpty(t, *p.Type)
		if status == http.StatusUnprocessableEntity {
			assert.NotEmpty(t, p.Errors, "a validation problem lists its errors")
		}
		for _, fe := range p.Errors {
			assert.NotEmpty(t, fe.Message, "problem error without message: %s", rec.Body.String())
			if fe.Message != "unknown field" { // an unknown member may be named ""
				assert.NotEmpty(t, fe.Field, "problem error without field: %s", rec.Body.String())
			}
		}
		return
	}
	require.Equal(t, http.StatusCreated, status, "the only success is 201 Created")
	var c echoapi.Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c), "campaign body %q", rec.Body.String())
	n := utf8.RuneCountInString(c.Name)
	assert.True(t, n >= campaign.MinNameLen && n <= campaign.MaxNameLen, "name %q has %d characters", c.Name, n)
	assert.Equal(t, strings.TrimSpace(c.Name), c.Name, "names are stored trimmed")
	assert.Equal(t, "DRAFT", string(c.Status))
	assert.Equal(t, int64(1), c.Version)
	assert.Equal(t, fuzzUserID, c.CreatedBy.String(), "the author is the caller, never the body")
	assert.True(t, c.Budget.Amount.IsPositive(), "budget %s", c.Budget)
	assert.NotEmpty(t, c.Settings.Channels)
	assert.Equal(t, `"1"`, rec.Header().Get("ETag"))
	assert.Equal(t, "/api/v1/campaigns/"+c.ID.String(), rec.Header().Get(echo.HeaderLocation))
}

func postCreate(e *echo.Echo, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/campaigns", bytes.NewReader(body))
	req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	req.Header.Set(httpx.HeaderUserID, fuzzUserID)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// FuzzCreateRequest drives the create endpoint with arbitrary bodies: decoding and validation
// must turn every bad input into a 4xx problem, never a 500, and anything accepted must be a
// valid campaign.
func FuzzCreateRequest(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	e := newFuzzServer(f, f.TempDir())
	f.Fuzz(func(t *testing.T, body []byte) {
		checkCreateResponse(t, body, postCreate(e, body))
	})
}

// The seed corpus covers both outcomes: it is no use if everything is rejected.
func TestFuzzSeedsReachBothOutcomes(t *testing.T) {
	t.Parallel()
	e := newFuzzServer(t, t.TempDir())
	statuses := map[int]int{}
	for _, s := range fuzzSeeds() {
		rec := postCreate(e, []byte(s))
		checkCreateResponse(t, []byte(s), rec)
		statuses[rec.Code]++
	}
	assert.Positive(t, statuses[http.StatusCreated], "no seed was accepted: %v", statuses)
	assert.Positive(t, statuses[http.StatusBadRequest], "no seed was malformed: %v", statuses)
	assert.Positive(t, statuses[http.StatusUnprocessableEntity], "no seed broke a rule: %v", statuses)
	assert.Positive(t, statuses[http.StatusConflict], "no seed reused a name: %v", statuses)

	// The valid body is accepted with the values it sent.
	rec := postCreate(newFuzzServer(t, t.TempDir()), []byte(fmt.Sprintf(fuzzValidBody, "  Exact values  ")))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var c echoapi.Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &c))
	assert.Equal(t, "Exact values", c.Name)
	assert.Equal(t, "10000.00 EUR", c.Budget.String())
	require.NotNil(t, c.Settings.BudgetLimit)
	assert.Equal(t, "5000.00 EUR", c.Settings.BudgetLimit.String())
	assert.Contains(t, rec.Body.String(), `"amount":"10000.00"`)
}
