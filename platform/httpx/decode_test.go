package httpx_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

type inner struct {
	Tags  []string `json:"tags"`
	Limit *int64   `json:"limit"`
}

type payload struct {
	Name    string  `json:"name"`
	Count   int     `json:"count"`
	Enabled bool    `json:"enabled"`
	Nested  inner   `json:"nested"`
	Opt     *inner  `json:"opt"`
	Raw     rawText `json:"raw"`
	// Free is held as raw JSON (like a targeting context), never matched against fields.
	Free json.RawMessage `json:"free"`
}

// rawText fails to decode anything but a string, with an error of its own.
type rawText string

func (r *rawText) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '"' {
		return errors.New("raw must be a string")
	}
	*r = rawText(b)
	return nil
}

// problemMarker decodes into a problem of its own, which DecodeJSONBytes passes through.
type problemMarker struct{}

func (*problemMarker) UnmarshalJSON([]byte) error {
	return httpx.NewProblem(http.StatusUnprocessableEntity, "custom", "Custom", "custom problem")
}

func requireProblem(t *testing.T, err error, status int) *httpx.Problem {
	t.Helper()
	require.Error(t, err)
	var p *httpx.Problem
	require.True(t, errors.As(err, &p), "want *httpx.Problem, got %T: %v", err, err)
	assert.Equal(t, status, p.Status, "problem: %+v", p)
	assert.NotEmpty(t, p.Title)
	assert.NotEmpty(t, p.Type)
	return p
}

func TestDecodeJSONBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       string
		wantDetail string            // substring of the problem detail; "" means success
		wantFields map[string]string // field -> message substring
	}{
		{name: "valid", body: `{"name":"x","count":3,"enabled":true,"nested":{"tags":["a"]}}`},
		{name: "valid with surrounding whitespace", body: " \n\t{\"name\":\"x\"}\r\n "},
		{name: "NUL escape is valid JSON (validation judges it)", body: `{"name":"a\u0000b"}`},
		{name: "free-form member keeps any names", body: `{"free":{"Name":1,"NAME":{"x":[1,2]}}}`},
		{name: "null", body: `null`, wantDetail: "not null"},
		{name: "null with whitespace", body: " null\n", wantDetail: "not null"},
		{name: "empty", body: ``, wantDetail: "empty"},
		{name: "only whitespace", body: " \n\t ", wantDetail: "empty"},
		{name: "syntax error", body: `{name: "x"}`, wantDetail: "not valid JSON (at byte 2)"},
		{name: "trailing comma", body: `{"name":"x",}`, wantDetail: "not valid JSON"},
		{name: "single quotes", body: `{'name':'x'}`, wantDetail: "not valid JSON"},
		{name: "truncated object", body: `{"name":"x"`, wantDetail: "truncated"},
		{name: "truncated string", body: `{"name":"x`, wantDetail: "truncated"},
		{name: "truncated nested", body: `{"nested":{"tags":["a",`, wantDetail: "truncated"},
		{name: "string for integer", body: `{"count":"5"}`, wantDetail: "wrong JSON type", wantFields: map[string]string{"count": "must be an integer"}},
		{name: "float for integer", body: `{"count":1.5}`, wantDetail: "wrong JSON type", wantFields: map[string]string{"count": "must be an integer"}},
		{name: "integer overflow", body: `{"count":1e40}`, wantDetail: "wrong JSON type", wantFields: map[string]string{"count": "must be an integer"}},
		{name: "number for string", body: `{"name":5}`, wantDetail: "wrong JSON type", wantFields: map[string]string{"name": "must be a string"}},
		{name: "string for bool", body: `{"enabled":"yes"}`, wantDetail: "wrong JSON type", wantFields: map[string]string{"enabled": "must be a boolean"}},
		{name: "string for object", body: `{"nested":"x"}`, wantDetail: "wrong JSON type", wantFields: map[string]string{"nested": "must be an object"}},
		{name: "array for pointer object", body: `{"opt":[]}`, wantDetail: "wrong JSON type", wantFields: map[string]string{"opt": "must be an object"}},
		{name: "nested string for array", body: `{"nested":{"tags":"a"}}`, wantDetail: "wrong JSON type", wantFields: map[string]string{"nested.tags": "must be an array"}},
		{name: "array item of the wrong type", body: `{"nested":{"tags":["a",7]}}`, wantDetail: "wrong JSON type", wantFields: map[string]string{"nested.tags[1]": "must be a string"}},
		{name: "nested pointer integer", body: `{"opt":{"limit":"9"}}`, wantDetail: "wrong JSON type", wantFields: map[string]string{"opt.limit": "must be an integer"}},
		{name: "array body", body: `[]`, wantDetail: "must be an object"},
		{name: "string body", body: `"hello"`, wantDetail: "must be an object"},
		{name: "number body", body: `42`, wantDetail: "must be an object"},
		{name: "unknown field", body: `{"name":"x","nmae":"y"}`, wantDetail: "does not accept", wantFields: map[string]string{"nmae": "unknown field"}},
		{name: "client-set status", body: `{"status":"ACTIVE"}`, wantDetail: "does not accept", wantFields: map[string]string{"status": "unknown field"}},
		{name: "unknown nested field", body: `{"nested":{"colour":"red"}}`, wantDetail: "does not accept", wantFields: map[string]string{"nested.colour": "unknown field"}},
		// encoding/json v1 matched names without case; here a name must match exactly.
		{name: "name in another case", body: `{"Name":"x"}`, wantDetail: "case included", wantFields: map[string]string{"Name": "unknown field"}},
		{name: "upper-case name", body: `{"NAME":"x"}`, wantDetail: "does not accept", wantFields: map[string]string{"NAME": "unknown field"}},
		{name: "nested name in another case", body: `{"nested":{"Tags":["a"]}}`, wantDetail: "does not accept", wantFields: map[string]string{"nested.Tags": "unknown field"}},
		{name: "duplicate field", body: `{"name":"x","name":"y"}`, wantDetail: "twice", wantFields: map[string]string{"name": "more than once"}},
		{name: "duplicate inside a free-form member", body: `{"free":{"a":1,"a":2}}`, wantDetail: "twice", wantFields: map[string]string{"free.a": "more than once"}},
		{name: "invalid UTF-8 in a string", body: "{\"name\":\"a\xffb\"}", wantDetail: "not valid UTF-8 (at byte 10)"},
		{name: "invalid UTF-8 in a free-form member", body: "{\"free\":{\"k\":\"\xc3\"}}", wantDetail: "not valid UTF-8"},
		{name: "lone surrogate escape", body: `{"name":"\ud800"}`, wantDetail: "not valid JSON"},
		{name: "second value", body: `{"name":"x"} {"name":"y"}`, wantDetail: "data after"},
		{name: "trailing garbage", body: `{"name":"x"}garbage`, wantDetail: "data after"},
		{name: "trailing bracket", body: `{"name":"x"}]`, wantDetail: "data after"},
		{name: "custom unmarshaler error", body: `{"raw":5}`, wantDetail: "could not be decoded", wantFields: map[string]string{"raw": "not a valid value"}},
		{name: "deep nesting", body: `{"free":` + strings.Repeat(`[`, 20000), wantDetail: "not valid JSON"},
		{name: "deep nesting closed", body: `{"free":` + strings.Repeat(`[`, 20000) + strings.Repeat(`]`, 20000) + `}`, wantDetail: "not valid JSON"},
		{name: "deep nesting at the top", body: strings.Repeat(`{"nested":`, 20000), wantDetail: "does not accept", wantFields: map[string]string{"nested.nested": "unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst payload
			err := httpx.DecodeJSONBytes([]byte(tt.body), &dst)
			if tt.wantDetail == "" {
				require.NoError(t, err)
				return
			}
			p := requireProblem(t, err, http.StatusBadRequest)
			assert.Equal(t, httpx.ProblemTypePrefix+"bad-request", p.Type)
			assert.Contains(t, p.Detail, tt.wantDetail)
			assert.NotContains(t, p.Detail, "json:", "no Go error text in the detail")
			got := map[string]string{}
			for _, fe := range p.Errors {
				got[fe.Field] = fe.Message
			}
			require.Len(t, got, len(tt.wantFields), "errors: %+v", p.Errors)
			for field, msg := range tt.wantFields {
				assert.Contains(t, got[field], msg, "field %s", field)
			}
		})
	}
}

func TestDecodeJSONBytesFillsTheDestination(t *testing.T) {
	t.Parallel()
	var dst payload
	require.NoError(t, httpx.DecodeJSONBytes([]byte(`{"name":"n","count":2,"nested":{"tags":["a","b"],"limit":7}}`), &dst))
	assert.Equal(t, "n", dst.Name)
	assert.Equal(t, 2, dst.Count)
	assert.Equal(t, []string{"a", "b"}, dst.Nested.Tags)
	require.NotNil(t, dst.Nested.Limit)
	assert.Equal(t, int64(7), *dst.Nested.Limit)
}

func TestDecodeJSONBytesPassesProblemsThrough(t *testing.T) {
	t.Parallel()
	var dst struct {
		M problemMarker `json:"m"`
	}
	p := requireProblem(t, httpx.DecodeJSONBytes([]byte(`{"m":1}`), &dst), http.StatusUnprocessableEntity)
	assert.Equal(t, "custom problem", p.Detail)
}

func newContext(method, target string, body io.Reader, contentType string) (echo.Context, *httptest.ResponseRecorder) {
	req := httptest.NewRequest(method, target, body)
	if contentType != "" {
		req.Header.Set(echo.HeaderContentType, contentType)
	}
	rec := httptest.NewRecorder()
	return echo.New().NewContext(req, rec), rec
}

func TestDecodeJSONContentType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		contentType string
		wantStatus  int // 0 means accepted
	}{
		{"application/json", 0},
		{"application/json; charset=utf-8", 0},
		{"Application/JSON", 0},
		{"application/merge-patch+json", 0},
		{"application/problem+json", 0},
		{"", http.StatusUnsupportedMediaType}, // a body must say it is JSON
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"application/xml", http.StatusUnsupportedMediaType},
		{"application/jsonp", http.StatusUnsupportedMediaType},
		{";;;", http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.contentType, func(t *testing.T) {
			c, _ := newContext(http.MethodPost, "/", strings.NewReader(`{"name":"x"}`), tt.contentType)
			var dst payload
			err := httpx.DecodeJSON(c, &dst)
			if tt.wantStatus == 0 {
				require.NoError(t, err)
				assert.Equal(t, "x", dst.Name)
				return
			}
			p := requireProblem(t, err, tt.wantStatus)
			assert.Equal(t, httpx.ProblemTypePrefix+"unsupported-media-type", p.Type)
			assert.Empty(t, dst.Name, "the body is not decoded")
		})
	}
}

func TestDecodeJSONBodyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
		wantDetail string
	}{
		{"empty body", strings.NewReader(""), http.StatusBadRequest, "empty"},
		{"syntax error", strings.NewReader("{"), http.StatusBadRequest, "truncated"},
		{"wrong type", strings.NewReader(`{"count":true}`), http.StatusBadRequest, "wrong JSON type"},
		{"unknown field", strings.NewReader(`{"bogus":1}`), http.StatusBadRequest, "does not accept"},
		{"trailing data", strings.NewReader(`{} {}`), http.StatusBadRequest, "data after"},
		{"unreadable body", iotest.ErrReader(errors.New("connection reset")), http.StatusBadRequest, "could not be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newContext(http.MethodPost, "/", tt.body, echo.MIMEApplicationJSON)
			var dst payload
			p := requireProblem(t, httpx.DecodeJSON(c, &dst), tt.wantStatus)
			assert.Contains(t, p.Detail, tt.wantDetail)
			assert.NotContains(t, p.Detail, "connection reset", "no internal error text")
		})
	}
}

// A body read past Echo's BodyLimit (no Content-Length, so the limit applies while reading)
// is a 413 problem from DecodeJSON itself.
func TestDecodeJSONBodyOverLimitWhileReading(t *testing.T) {
	t.Parallel()
	body := `{"name":"` + strings.Repeat("a", 4096) + `"}`
	c, _ := newContext(http.MethodPost, "/", strings.NewReader(body), echo.MIMEApplicationJSON)
	c.Request().ContentLength = -1 // chunked: the limit is only found while reading

	var decodeErr error
	handler := middleware.BodyLimit("1K")(func(c echo.Context) error {
		var dst payload
		decodeErr = httpx.DecodeJSON(c, &dst)
		return decodeErr
	})
	err := handler(c)
	require.ErrorIs(t, err, decodeErr, "the handler fails with the decode error")
	p := requireProblem(t, decodeErr, http.StatusRequestEntityTooLarge)
	assert.Contains(t, p.Detail, "larger than the limit")

	// A body under the limit is read in full.
	c2, _ := newContext(http.MethodPost, "/", strings.NewReader(`{"name":"ok"}`), echo.MIMEApplicationJSON)
	c2.Request().ContentLength = -1
	var dst payload
	require.NoError(t, middleware.BodyLimit("1K")(func(c echo.Context) error { return httpx.DecodeJSON(c, &dst) })(c2))
	assert.Equal(t, "ok", dst.Name)
}

func TestDecodeJSONMaxBytesReader(t *testing.T) {
	t.Parallel()
	c, rec := newContext(http.MethodPost, "/", strings.NewReader(`{"name":"`+strings.Repeat("b", 100)+`"}`), echo.MIMEApplicationJSON)
	c.Request().Body = http.MaxBytesReader(rec, c.Request().Body, 10)
	var dst payload
	requireProblem(t, httpx.DecodeJSON(c, &dst), http.StatusRequestEntityTooLarge)
}

type problemBody struct {
	Type   string             `json:"type"`
	Title  string             `json:"title"`
	Status int                `json:"status"`
	Detail string             `json:"detail"`
	Errors []httpx.FieldError `json:"errors"`
}

// Through the service's Echo instance every decoding failure is a problem+json response,
// including a body over the limit whether Echo sees it from Content-Length or while reading.
func TestDecodeJSONThroughEcho(t *testing.T) {
	t.Parallel()
	e := httpx.NewEcho(httpx.EchoConfig{Logger: slog.New(slog.DiscardHandler), BodyLimit: 1024, RequestTimeout: 5 * time.Second})
	e.POST("/things", func(c echo.Context) error {
		var dst payload
		if err := httpx.DecodeJSON(c, &dst); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, dst)
	})
	big := `{"name":"` + strings.Repeat("x", 2048) + `"}`
	tests := []struct {
		name          string
		body          string
		contentType   string
		chunked       bool
		wantStatus    int
		wantField     string
		wantErrorType string
	}{
		{name: "ok", body: `{"name":"a"}`, contentType: "application/json", wantStatus: http.StatusOK},
		{name: "empty", body: ``, contentType: "application/json", wantStatus: http.StatusBadRequest},
		{name: "syntax", body: `{"name":}`, contentType: "application/json", wantStatus: http.StatusBadRequest},
		{name: "truncated", body: `{"name":"a"`, contentType: "application/json", wantStatus: http.StatusBadRequest},
		{name: "wrong type", body: `{"nested":{"tags":[1]}}`, contentType: "application/json", wantStatus: http.StatusBadRequest, wantField: "nested.tags[0]"},
		{name: "unknown field", body: `{"extra":1}`, contentType: "application/json", wantStatus: http.StatusBadRequest, wantField: "extra"},
		{name: "trailing", body: `{}{}`, contentType: "application/json", wantStatus: http.StatusBadRequest},
		{name: "media type", body: `{}`, contentType: "text/csv", wantStatus: http.StatusUnsupportedMediaType},
		{name: "over the limit with Content-Length", body: big, contentType: "application/json", wantStatus: http.StatusRequestEntityTooLarge},
		{name: "over the limit while reading", body: big, contentType: "application/json", chunked: true, wantStatus: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/things", strings.NewReader(tt.body))
			req.Header.Set(echo.HeaderContentType, tt.contentType)
			if tt.chunked {
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			if tt.wantStatus == http.StatusOK {
				return
			}
			assert.Equal(t, httpx.ProblemContentType, rec.Header().Get(echo.HeaderContentType))
			var pb problemBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &pb), rec.Body.String())
			assert.Equal(t, tt.wantStatus, pb.Status)
			assert.NotEmpty(t, pb.Title)
			assert.NotEmpty(t, pb.Type)
			if tt.wantField != "" {
				require.NotEmpty(t, pb.Errors)
				assert.Equal(t, tt.wantField, pb.Errors[0].Field)
			}
		})
	}
}

// An optional body may be left out (no Content-Type needed then); a body that is there is held
// to every rule, its media type included.
func TestDecodeOptionalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, contentType string
		wantStatus              int // 0: accepted
		wantName                string
	}{
		{name: "absent", body: "", contentType: "", wantStatus: 0},
		{name: "absent with a media type", body: "", contentType: "application/json", wantStatus: 0},
		{name: "blank", body: " \n", contentType: "application/json", wantStatus: 0},
		{name: "present", body: `{"name":"x"}`, contentType: "application/json", wantName: "x"},
		{name: "present without Content-Type", body: `{"name":"x"}`, contentType: "", wantStatus: http.StatusUnsupportedMediaType},
		{name: "present as text", body: `{"name":"x"}`, contentType: "text/plain", wantStatus: http.StatusUnsupportedMediaType},
		{name: "null", body: `null`, contentType: "application/json", wantStatus: http.StatusBadRequest},
		{name: "another case", body: `{"NAME":"x"}`, contentType: "application/json", wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newContext(http.MethodPost, "/", strings.NewReader(tt.body), tt.contentType)
			var dst payload
			err := httpx.DecodeOptionalJSON(c, &dst)
			if tt.wantStatus == 0 {
				require.NoError(t, err)
				assert.Equal(t, tt.wantName, dst.Name)
				return
			}
			requireProblem(t, err, tt.wantStatus)
		})
	}
}

// A required body: absent or empty is a 400 whatever the media type, a body that is not
// declared JSON a 415, checked before the body is read.
func TestReadJSON(t *testing.T) {
	t.Parallel()
	c, _ := newContext(http.MethodPost, "/", strings.NewReader(""), "")
	p := requireProblem(t, func() error { _, err := httpx.ReadJSON(c); return err }(), http.StatusBadRequest)
	assert.Contains(t, p.Detail, "empty")

	body := &countingReader{r: strings.NewReader(`{"name":"x"}`)}
	c, _ = newContext(http.MethodPost, "/", body, "text/plain")
	c.Request().ContentLength = 12
	_, err := httpx.ReadJSON(c)
	requireProblem(t, err, http.StatusUnsupportedMediaType)
	assert.Zero(t, body.n, "a body of the wrong type is not read")

	c, _ = newContext(http.MethodPost, "/", strings.NewReader(`{"name":"x"}`), "application/vnd.campaigns+json")
	got, err := httpx.ReadJSON(c)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"x"}`, string(got))
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
