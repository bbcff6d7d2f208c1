// Package apptest runs the fully wired API in tests: a real HTTP server on loopback over a real
// database, with every response checked against the OpenAPI document.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"go.opentelemetry.io/otel/trace"

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// Server is a running API instance.
type Server struct {
	t      testing.TB
	URL    string
	API    *app.API
	Client *http.Client
	router routers.Router
}

// Config returns the embedded-default configuration pointed at target, with a temporary data
// directory.
func Config(t testing.TB, target dbtest.Target) *config.Config {
	t.Helper()
	cfg, err := config.Load("", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	cfg.DataDir = t.TempDir()
	cfg.Database = Database(t, target)
	cfg.Database.AutoMigrate = true
	// Tests and benchmarks send far more requests per caller than the default limit allows;
	// the tests of the limiter turn it back on.
	cfg.RateLimit.Enabled = false
	return cfg
}

// Database is the database section of the configuration that opens target as the binaries
// do (pgx or SQLite: the binaries never open pgdriver).
func Database(t testing.TB, target dbtest.Target) config.Database {
	t.Helper()
	d := config.Database{
		URL: target.URL, SQLitePath: target.Path,
		MaxOpenConns: target.Pool.MaxOpenConns, MaxIdleConns: target.Pool.MaxIdleConns,
		ConnMaxLifetime: target.Pool.ConnMaxLifetime, ConnMaxIdleTime: target.Pool.ConnMaxIdleTime,
	}
	switch target.Driver {
	case dbtest.DriverSQLite:
		d.Driver = config.DriverSQLite
	case dbtest.DriverPostgres:
		d.Driver = config.DriverPostgres
	default:
		t.Fatalf("apptest: the binaries do not open a %s database", target.Driver)
	}
	return d
}

// ServerConfig tunes the API a test starts. Zero fields take the defaults noted.
type ServerConfig struct {
	// Configure adjusts the configuration (default: the embedded default of Config, as is).
	Configure func(*config.Config)
	// Now replaces the API's wall clock (default: time.Now).
	Now func() time.Time
	// TracerProvider traces the API (default: tracing off).
	TracerProvider trace.TracerProvider
}

// New starts the API on target.
func New(t testing.TB, target dbtest.Target, sc ServerConfig) *Server {
	t.Helper()
	return Start(t, newAPI(t, target, sc))
}

// Start serves an API the test built itself (with its own logger, say) on an httptest server;
// both are closed when the test ends.
func Start(t testing.TB, a *app.API) *Server {
	t.Helper()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = a.Close()
	})
	client := srv.Client()
	client.CheckRedirect = noRedirects
	return &Server{t: t, URL: srv.URL, API: a, Client: client, router: Router(t)}
}

// Serve is New with the production HTTP server (API.Serve, with the configured timeouts and
// header limits) on a loopback port, for tests of what Go's server does before any handler.
func Serve(t testing.TB, target dbtest.Target, sc ServerConfig) *Server {
	t.Helper()
	a := newAPI(t, target, sc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		_ = a.Close()
	})
	return &Server{t: t, URL: "http://" + ln.Addr().String(), API: a, Client: &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirects}, router: Router(t)}
}

func newAPI(t testing.TB, target dbtest.Target, sc ServerConfig) *app.API {
	t.Helper()
	cfg := Config(t, target)
	if sc.Configure != nil {
		sc.Configure(cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.NewAPI(ctx, cfg, logger, app.APIConfig{Now: sc.Now, TracerProvider: sc.TracerProvider})
	if err != nil {
		t.Fatalf("start API: %v", err)
	}
	return a
}

// Document loads and validates the OpenAPI document the API serves.
func Document(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(app.OpenAPISpec())
	if err != nil {
		t.Fatalf("load OpenAPI document: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("OpenAPI document is invalid: %v", err)
	}
	doc.Servers = nil // match paths on any host
	return doc
}

// Router loads the OpenAPI document the API serves.
func Router(t testing.TB) routers.Router {
	t.Helper()
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", jsonLinesDecoder)
	r, err := gorillamux.NewRouter(Document(t))
	if err != nil {
		t.Fatalf("OpenAPI router: %v", err)
	}
	return r
}

// Response is a finished exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v, failing the test on error.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %d response %q: %v", r.Status, r.Body, err)
	}
}

// Map is the body as a generic JSON object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.Decode(t, &m)
	return m
}

// Do sends a request (body: nil, a string or []byte sent as is, or a value sent as JSON) and
// checks the response against the OpenAPI document.
func (s *Server) Do(method, path string, body any, header ...string) *Response {
	s.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			s.t.Fatalf("encode request: %v", err)
		}
	}
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(raw))
	if err != nil {
		s.t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return s.Send(req, raw)
}

// Send sends req, whose body is body (nil: none), exactly as built, and checks the response
// against the OpenAPI document.
func (s *Server) Send(req *http.Request, body []byte) *Response {
	s.t.Helper()
	resp, err := s.Client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("read response: %v", err)
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: out}
	s.validate(req, body, r)
	return r
}

// validate checks a response against the operation the OpenAPI document gives for the request.
// Every response must be documented, error responses included.
func (s *Server) validate(req *http.Request, reqBody []byte, r *Response) {
	s.t.Helper()
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		// Paths outside the document (deliberately unknown routes) must still answer problems.
		if r.Status == http.StatusNotFound || r.Status == http.StatusMethodNotAllowed {
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
				s.t.Errorf("%s %s: %d without a problem body", req.Method, req.URL.Path, r.Status)
			}
			return
		}
		s.t.Errorf("%s %s is not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: r.Status, Header: r.Header,
		Body: io.NopCloser(bytes.NewReader(r.Body)), Options: in.Options,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		s.t.Errorf("%s %s -> %d does not match the OpenAPI document: %v\nbody: %s",
			req.Method, req.URL.Path, r.Status, err, r.Body)
	}
}

// jsonLinesDecoder reads a JSON Lines body (the export) as the array of its lines' values, so
// that the document's schema of a line checks every line.
func jsonLinesDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	out := []any{}
	dec := json.NewDecoder(body)
	dec.UseNumber()
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, &openapi3filter.ParseError{Kind: openapi3filter.KindInvalidFormat, Cause: err}
		}
		out = append(out, v)
	}
}

// noRedirects hands a redirect to the test as it was answered: its status and Location are
// what is checked (and what the OpenAPI document describes).
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
