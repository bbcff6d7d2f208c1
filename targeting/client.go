package targeting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/engine-rules-sp/campaigns/platform/audit"
	"github.com/engine-rules-sp/campaigns/platform/tracing"
)

var (
	// ErrInvalidResponse: the Rules Engine answered something that breaks its contract
	// (malformed JSON, an answer over MaxResponseBytes, an unknown status, a missing or
	// different id, a redirect...).
	ErrInvalidResponse = errors.New("invalid Rules Engine response")
	// ErrUnavailable: the Rules Engine could not answer (network error, timeout, 5xx, 408,
	// 429) or its circuit breaker is open. Worth retrying later.
	ErrUnavailable = errors.New("the Rules Engine is unavailable")
	// ErrRuleNotFound: rules-management does not know the rule (its JSON 404).
	ErrRuleNotFound = errors.New("rule not found")
	// ErrMisconfigured: a configured Rules Engine URL answers as no Rules Engine would: a 404
	// that is not rules-management's JSON "not found" (a wrong base URL answers a plain-text
	// one), or any 404 from the evaluation endpoint. It is logged with the URL at error level.
	ErrMisconfigured = errors.New("the Rules Engine URL is misconfigured")
	// ErrRuleFailed: rules-evaluation is up but cannot evaluate one rule: it answered a 4xx
	// refusal, or a 500 with its own JSON error while other evaluations succeed. The error is a
	// *RuleError carrying the engine's words. It is that rule's fault, not an outage.
	ErrRuleFailed = errors.New("the Rules Engine cannot evaluate the rule")
	// errRejected: the engine refused our request (a 4xx other than 404, 408 and 429): it is
	// up, so this is not an outage, but retrying will not help either.
	errRejected = errors.New("the Rules Engine rejected the request")
	// errBreakerOpen: the breaker refused the call without trying; retrying now is pointless.
	errBreakerOpen = errors.New("circuit breaker open")
	// errCallerGone: the caller's context ended (cancelled or out of time). It says nothing
	// about the engine's health, so the breaker neither counts it nor retries it.
	errCallerGone = errors.New("the caller gave up")
	// errAttemptTimeout is the cause of an attempt cut by Config.Timeout: that one is the
	// engine being slow, a failure.
	errAttemptTimeout = errors.New("per-call timeout")
)

// MaxResponseBytes caps what the client reads of one answer.
const MaxResponseBytes = 1 << 20

// Config tunes the client. Zero values take the defaults noted.
type Config struct {
	URL             string        // rules-management base URL
	EvaluationURL   string        // rules-evaluation base URL (default: URL)
	Token           string        // bearer token, optional
	Timeout         time.Duration // per attempt: connection, request and whole body (2s)
	MaxRetries      int           // retries of GETs (never of evaluations); 0: none
	CacheTTL        time.Duration // rule metadata cache; 0: off
	CacheSize       int           // entries (10,000)
	BreakerFailures uint32        // consecutive failures that open a breaker (5)
	BreakerOpenFor  time.Duration // how long it stays open before a trial call (30s)
	// EngineUpFor is how long an evaluation answered 200 vouches that rules-evaluation is up
	// (10s): within it, a 500 carrying the engine's JSON error is that rule's failure
	// (ErrRuleFailed), which the breaker does not count; past it (a 500 on every rule), it is
	// an outage as well.
	EngineUpFor time.Duration
	// Logger hears about breaker state changes, retries and misconfigured URLs (default:
	// discard).
	Logger *slog.Logger
	// Metrics hears about every call, breaker state change and cache lookup (default: none).
	Metrics Metrics
	// HTTPClient makes the calls (default: the client's own, which keeps enough idle
	// connections for concurrent evaluations and follows no redirect).
	HTTPClient *http.Client
	// TracerProvider traces every call: a client span (its URL left out: it may carry
	// credentials) whose context the request carries as traceparent (default: none).
	TracerProvider trace.TracerProvider
}

// Metrics receives the client's measurements; platform/observability implements it.
// service is "rules-management" or "rules-evaluation".
type Metrics interface {
	// RulesEngineCall reports one call that reached the network (or was refused by an open
	// breaker, with d zero) and its outcome: ok, not_found, rejected, rule_error, unavailable,
	// timeout, invalid, misconfigured, breaker_open or cancelled.
	RulesEngineCall(service, outcome string, d time.Duration)
	// RulesEngineBreaker reports a breaker's state: closed, half-open or open.
	RulesEngineBreaker(service, state string)
	// RulesEngineCache reports a lookup of the rule cache.
	RulesEngineCache(hit bool)
}

// The outcomes of a call, as Metrics.RulesEngineCall reports them.
const (
	OutcomeOK            = "ok"
	OutcomeNotFound      = "not_found"
	OutcomeRejected      = "rejected"
	OutcomeRuleError     = "rule_error"
	OutcomeUnavailable   = "unavailable"
	OutcomeTimeout       = "timeout"
	OutcomeInvalid       = "invalid"
	OutcomeMisconfigured = "misconfigured"
	OutcomeBreakerOpen   = "breaker_open"
	OutcomeCancelled     = "cancelled"
)

// The services, as Metrics and the logs name them.
const (
	ServiceManagement = "rules-management"
	ServiceEvaluation = "rules-evaluation"
)

// noMetrics is the Metrics of a client given none.
type noMetrics struct{}

func (noMetrics) RulesEngineCall(string, string, time.Duration) {}
func (noMetrics) RulesEngineBreaker(string, string)             {}
func (noMetrics) RulesEngineCache(bool)                         {}

// Client speaks the Rules Engine's contract: GET {url}/api/v1/rules/{id} and
// POST {evaluation_url}/v1/evaluate. It treats every answer as untrusted input. It is safe for
// concurrent use, and each instance has its own connection pool, breakers and cache.
type Client struct {
	cfg     Config
	http    *http.Client
	logger  *slog.Logger
	metrics Metrics
	tracer  trace.Tracer
	// misconfigLogged is when a misconfigured URL was last logged (Unix nanoseconds): at most
	// once per misconfigLogEvery, so that eligibility traffic does not flood the log.
	misconfigLogged atomic.Int64
	// One breaker per service: rules-management and rules-evaluation fail independently.
	rulesBreaker *gobreaker.CircuitBreaker[struct{}]
	evalBreaker  *gobreaker.CircuitBreaker[struct{}]
	cache        *ruleCache
	// evalOK is when an evaluation last answered 200 (Unix nanoseconds; 0: never).
	evalOK atomic.Int64
	// reads collapses concurrent cache misses of one rule into one request, so that a cache
	// expiry under load does not become a burst of identical reads.
	reads singleflight.Group
}

// NewClient returns a client.
func NewClient(cfg Config) *Client {
	if cfg.EvaluationURL == "" {
		cfg.EvaluationURL = cfg.URL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.BreakerFailures == 0 {
		cfg.BreakerFailures = 5
	}
	if cfg.BreakerOpenFor <= 0 {
		cfg.BreakerOpenFor = 30 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10_000
	}
	if cfg.EngineUpFor <= 0 {
		cfg.EngineUpFor = 10 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = newHTTPClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	c := &Client{cfg: cfg, http: cfg.HTTPClient, logger: cfg.Logger, metrics: cfg.Metrics,
		tracer: tracing.Tracer(cfg.TracerProvider, "github.com/engine-rules-sp/campaigns/targeting")}
	if cfg.CacheTTL > 0 {
		c.cache = newRuleCache(cfg.CacheTTL, cfg.CacheSize, time.Now)
	}
	c.rulesBreaker = c.newBreaker(ServiceManagement)
	c.evalBreaker = c.newBreaker(ServiceEvaluation)
	c.metrics.RulesEngineBreaker(ServiceManagement, gobreaker.StateClosed.String())
	c.metrics.RulesEngineBreaker(ServiceEvaluation, gobreaker.StateClosed.String())
	return c
}

// newHTTPClient keeps up to 128 idle keep-alive connections per host (the default 2 would
// open and close a connection for most calls once evaluations run concurrently) and follows
// no redirect: the contract has none, and following one could carry the token elsewhere.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (c *Client) newBreaker(name string) *gobreaker.CircuitBreaker[struct{}] {
	failures := c.cfg.BreakerFailures
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1, // half-open: one trial call decides
		Timeout:     c.cfg.BreakerOpenFor,
		ReadyToTrip: func(counts gobreaker.Counts) bool { return counts.ConsecutiveFailures >= failures },
		// The caller giving up is not the engine failing. Only an outage counts: a network
		// error, a timeout, a 5xx (408 and 429 too). A 404, a 4xx refusal, an answer that
		// breaks the contract or one without an eligible verdict are answers about one rule
		// or one URL: counting them would let a few such rules suspend every evaluation.
		IsExcluded:   func(err error) bool { return errors.Is(err, errCallerGone) },
		IsSuccessful: func(err error) bool { return err == nil || !errors.Is(err, ErrUnavailable) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			c.metrics.RulesEngineBreaker(name, to.String())
			level := slog.LevelInfo
			if to == gobreaker.StateOpen {
				level = slog.LevelWarn
			}
			c.logger.Log(context.Background(), level, "Rules Engine circuit breaker changed state",
				slog.String("service", name), slog.String("from", from.String()), slog.String("to", to.String()))
		},
	})
}

// BreakerOpen reports whether a circuit breaker (of rules-management or of rules-evaluation)
// refuses calls now.
func (c *Client) BreakerOpen() bool {
	return c.rulesBreaker.State() == gobreaker.StateOpen || c.evalBreaker.State() == gobreaker.StateOpen
}

// Close releases the idle connections of the HTTP client.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Rule returns a rule's metadata (ErrRuleNotFound for a 404), from the cache when fresh.
// Concurrent misses of one rule share one read. The Rule is shared: do not modify it.
func (c *Client) Rule(ctx context.Context, id uuid.UUID) (*Rule, error) {
	r, notFound, ok := c.cache.get(id)
	if c.cache != nil {
		c.metrics.RulesEngineCache(ok)
	}
	if ok {
		if notFound {
			return nil, fmt.Errorf("%w: %s", ErrRuleNotFound, id)
		}
		return r, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: read rule %s: %w", errCallerGone, id, context.Cause(ctx))
	}
	// The shared read must not die with the first caller's context, or one impatient caller
	// would fail the others: it runs detached, bounded by the per-attempt timeout and the
	// retry budget, and each caller waits on its own context.
	ch := c.reads.DoChan(id.String(), func() (any, error) {
		return c.RuleFresh(context.WithoutCancel(ctx), id)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Rule), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: read rule %s: %w", errCallerGone, id, context.Cause(ctx))
	}
}

// RuleFresh reads a rule from rules-management, bypassing (and refreshing) the cache:
// activation checks must judge a rule as it is now. Failures that may be transient are
// retried with backoff, at most MaxRetries times.
func (c *Client) RuleFresh(ctx context.Context, id uuid.UUID) (*Rule, error) {
	endpoint := strings.TrimRight(c.cfg.URL, "/") + "/api/v1/rules/" + url.PathEscape(id.String())
	var r *Rule
	parse := func(body []byte) (err error) {
		r, err = parseRule(body, id)
		return err
	}
	var err error
	for attempt := 0; ; attempt++ {
		err = c.call(ctx, c.rulesBreaker, http.MethodGet, endpoint, nil, c.cfg.URL, parse)
		if err == nil || attempt >= c.cfg.MaxRetries || !retryable(err) {
			break
		}
		wait := backoff(attempt)
		c.logger.DebugContext(ctx, "retrying a Rules Engine rule read", slog.String("rule", id.String()),
			slog.Int("retry", attempt+1), slog.Duration("after", wait), slog.Any("error", err))
		if werr := sleep(ctx, wait); werr != nil {
			return nil, fmt.Errorf("%w: read rule %s: %w", errCallerGone, id, werr)
		}
	}
	if errors.Is(err, ErrRuleNotFound) {
		c.cache.put(id, nil, true)
		return nil, fmt.Errorf("%w: %s", ErrRuleNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	c.cache.put(id, r, false)
	return r, nil
}

// Evaluate asks rules-evaluation whether rule holds for evalContext. It is never retried: an
// evaluation is a POST.
func (c *Client) Evaluate(ctx context.Context, r *Rule, evalContext json.RawMessage) (*Evaluation, error) {
	if len(evalContext) == 0 {
		evalContext = json.RawMessage(`{}`)
	}
	reqBody, err := json.Marshal(evaluateRequest{RuleCategory: r.Category, DSLContent: r.DSLContent, Context: evalContext})
	if err != nil {
		return nil, fmt.Errorf("encode evaluation: %w", err)
	}
	endpoint := strings.TrimRight(c.cfg.EvaluationURL, "/") + "/v1/evaluate"
	var out *Evaluation
	err = c.call(ctx, c.evalBreaker, http.MethodPost, endpoint, reqBody, c.cfg.EvaluationURL, func(body []byte) (err error) {
		out, err = parseEvaluation(body)
		if err == nil {
			c.evalOK.Store(time.Now().UnixNano())
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// call makes one request through breaker with its own timeout and hands the body of a 200 to
// parse. A rule read's JSON 404 is ErrRuleNotFound, any other 404 ErrMisconfigured (logged
// with base, the configured URL); an evaluation's 4xx (but 404, 408, 429) a *RuleError, and
// so is its JSON 500 while the engine is up (see EngineUpFor); another 5xx, 408, 429, a
// timeout or a network error ErrUnavailable; a rule read's other 4xx errRejected; a 200 over
// MaxResponseBytes or any other status ErrInvalidResponse. Only ErrUnavailable counts toward
// the breaker. Endpoint URLs stay out of
// the errors: they may carry credentials.
func (c *Client) call(ctx context.Context, breaker *gobreaker.CircuitBreaker[struct{}], method, endpoint string, body []byte,
	base string, parse func([]byte) error) (err error) {
	what := method + " " + breaker.Name()
	ctx, span := c.tracer.Start(ctx, what, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("rules_engine.service", breaker.Name())))
	defer func() {
		o := outcome(err)
		if errors.Is(err, errBreakerOpen) {
			o = OutcomeBreakerOpen
		}
		span.SetAttributes(attribute.String("rules_engine.outcome", o))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	start := time.Now()
	_, err = breaker.Execute(func() (struct{}, error) {
		actx, cancel := context.WithTimeoutCause(ctx, c.cfg.Timeout, errAttemptTimeout)
		defer cancel()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(actx, method, endpoint, rd)
		if err != nil {
			return struct{}{}, fmt.Errorf("rules engine request: %w", err)
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.cfg.Token != "" {
			req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
		}
		if rid := audit.CorrelationID(ctx); rid != "" {
			req.Header.Set("X-Request-ID", rid) // so that the engine's logs join ours
		}
		if tp := tracing.TraceParent(ctx); tp != "" {
			req.Header.Set(tracing.Header, tp) // so that the engine's spans join ours
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return struct{}{}, c.transportError(ctx, actx, what, err)
		}
		defer resp.Body.Close()
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
		if err != nil {
			return struct{}{}, c.transportError(ctx, actx, what, err)
		}
		switch code := resp.StatusCode; {
		case code == http.StatusOK && len(data) > MaxResponseBytes:
			return struct{}{}, fmt.Errorf("%w: %s: the answer is larger than %d bytes", ErrInvalidResponse, what, MaxResponseBytes)
		case code == http.StatusOK:
			return struct{}{}, parse(data)
		case code == http.StatusNotFound && method == http.MethodGet && engineNotFound(resp.Header, data):
			return struct{}{}, ErrRuleNotFound
		case code == http.StatusNotFound:
			c.logMisconfigured(ctx, breaker.Name(), base, endpoint, resp.Header.Get("Content-Type"))
			return struct{}{}, fmt.Errorf("%w: %s: status 404 is not the Rules Engine's answer; check its URL", ErrMisconfigured, what)
		case method == http.MethodPost && code == http.StatusInternalServerError:
			// rules-evaluation answers its own JSON 500 when a strategy cannot run a rule (a
			// DSL it cannot parse, a category it has no strategy for). While other rules
			// evaluate, that is this rule's failure; with no recent success it may be every
			// rule failing, an outage.
			msg, ok := engineError(resp.Header, data)
			if !ok {
				return struct{}{}, fmt.Errorf("%w: %s: status %d", ErrUnavailable, what, code)
			}
			rerr := &RuleError{Status: code, Message: msg}
			if !c.engineUp() {
				return struct{}{}, fmt.Errorf("%w: %s: no evaluation succeeded lately: %w", ErrUnavailable, what, rerr)
			}
			return struct{}{}, rerr
		case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
			return struct{}{}, fmt.Errorf("%w: %s: status %d", ErrUnavailable, what, code)
		case code >= 400 && method == http.MethodPost:
			// The engine is up and refuses this rule's request (its 400 says why): the rule's
			// failure, never an outage.
			msg, _ := engineError(resp.Header, data)
			return struct{}{}, &RuleError{Status: code, Message: msg}
		case code >= 400:
			return struct{}{}, fmt.Errorf("%w: %s: status %d", errRejected, what, code)
		default: // 1xx left over, 204, 3xx (redirects are not followed)...
			return struct{}{}, fmt.Errorf("%w: %s: unexpected status %d", ErrInvalidResponse, what, code)
		}
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		c.metrics.RulesEngineCall(breaker.Name(), OutcomeBreakerOpen, 0)
		return fmt.Errorf("%w: %w: %s", ErrUnavailable, errBreakerOpen, breaker.Name())
	}
	c.metrics.RulesEngineCall(breaker.Name(), outcome(err), time.Since(start))
	return err
}

// outcome names the result of a call for Metrics.
func outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, errCallerGone):
		return OutcomeCancelled
	case errors.Is(err, errAttemptTimeout):
		return OutcomeTimeout
	case errors.Is(err, ErrUnavailable):
		return OutcomeUnavailable
	case errors.Is(err, ErrRuleNotFound):
		return OutcomeNotFound
	case errors.Is(err, ErrMisconfigured):
		return OutcomeMisconfigured
	case errors.Is(err, errRejected): // a 4xx RuleError too
		return OutcomeRejected
	case errors.Is(err, ErrRuleFailed):
		return OutcomeRuleError
	default:
		return OutcomeInvalid
	}
}

// engineNotFound tells rules-management's "not found" (a JSON object, such as
// {"error": "Resource not found", "message": "..."}) from the plain-text 404 of a server that
// has no such route: the base URL is wrong.
func engineNotFound(h http.Header, body []byte) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "application/json" && isObject(body) && json.Valid(body)
}

// engineUp: an evaluation answered 200 within EngineUpFor.
func (c *Client) engineUp() bool {
	last := c.evalOK.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < c.cfg.EngineUpFor
}

// RuleError is ErrRuleFailed with what rules-evaluation said: its status and its words.
type RuleError struct {
	Status int
	// Message is the engine's "error" (and "message", after a colon), as it sent them, cut
	// to maxEngineMessage bytes; empty when its body had none.
	Message string
}

func (e *RuleError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s: status %d", ErrRuleFailed, e.Status)
	}
	return fmt.Sprintf("%s: status %d: %s", ErrRuleFailed, e.Status, e.Message)
}

// Is makes errors.Is(err, ErrRuleFailed) hold, and errors.Is(err, errRejected) for a 4xx.
func (e *RuleError) Is(target error) bool {
	return target == ErrRuleFailed || target == errRejected && e.Status < 500
}

// maxEngineMessage caps the engine's words we keep: they reach logs and API answers.
const maxEngineMessage = 300

// engineError reads the engine's JSON error body: {"error": "..."} (its 500s) or
// {"error": "...", "message": "..."} (its 400s). ok is false for any other body (a proxy's
// HTML page, plain text): that answer is not the engine's.
func engineError(h http.Header, body []byte) (msg string, ok bool) {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return "", false
	}
	var w struct {
		Error   *string `json:"error"`
		Message string  `json:"message"`
	}
	if decodeOne(body, &w) != nil || w.Error == nil {
		return "", false
	}
	msg = strings.TrimSpace(*w.Error)
	if m := strings.TrimSpace(w.Message); m != "" {
		msg += ": " + m
	}
	return printable(msg, maxEngineMessage), true
}

// printable keeps the printable runes of s, at most n bytes of them.
func printable(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// misconfigLogEvery bounds how often a misconfigured URL is logged.
const misconfigLogEvery = 10 * time.Second

// logMisconfigured says, at error level, which configured URL answers as no Rules Engine does.
func (c *Client) logMisconfigured(ctx context.Context, service, base, endpoint, contentType string) {
	now := time.Now().UnixNano()
	last := c.misconfigLogged.Load()
	if last != 0 && now-last < int64(misconfigLogEvery) || !c.misconfigLogged.CompareAndSwap(last, now) {
		return
	}
	key := "rules_engine.url"
	if service == ServiceEvaluation {
		key = "rules_engine.evaluation_url"
	}
	c.logger.ErrorContext(ctx, "the Rules Engine URL answers 404 as no Rules Engine does: check the configuration",
		slog.String("service", service), slog.String("setting", key), slog.String("url", redactURL(base)),
		slog.String("endpoint", redactURL(endpoint)), slog.String("content_type", contentType))
}

// redactURL hides the password of a URL's user info.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// transportError tells the caller's own cancellation or deadline (not the engine's fault) from
// the engine being slow or unreachable.
func (c *Client) transportError(parent, attempt context.Context, what string, err error) error {
	if parent.Err() != nil {
		return fmt.Errorf("%w: %s: %w", errCallerGone, what, context.Cause(parent))
	}
	if errors.Is(context.Cause(attempt), errAttemptTimeout) {
		return fmt.Errorf("%w: %s: no answer within %s (%w)", ErrUnavailable, what, c.cfg.Timeout, errAttemptTimeout)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

// retryable: worth another attempt now. Not a breaker that is open (it would refuse again),
// not a caller that left, not an answer (404, a refusal, an invalid response).
func retryable(err error) bool {
	return errors.Is(err, ErrUnavailable) && !errors.Is(err, errBreakerOpen) && !errors.Is(err, errCallerGone)
}

// backoff is the wait before retry n: "equal jitter" over 50ms, 100ms, 200ms... capped at 1s,
// i.e. a random duration in [d/2, d], so that clients that failed together do not retry
// together, yet always wait a little.
func backoff(attempt int) time.Duration {
	d := min(50*time.Millisecond<<attempt, time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
