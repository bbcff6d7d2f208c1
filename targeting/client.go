package targeting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/sony/gobreaker/v2"
)

var (
	// ErrInvalidResponse: the Rules Engine answered something that breaks its contract.
	ErrInvalidResponse = errors.New("invalid Rules Engine response")
	// ErrUnavailable: the Rules Engine could not be reached (timeout, 5xx, breaker open).
	ErrUnavailable = errors.New("the Rules Engine is unavailable")
	// ErrRuleNotFound: rules-management does not know the rule (404).
	ErrRuleNotFound = errors.New("rule not found")
	// errRejected: the engine refused our request (4xx other than 404); not an outage.
	errRejected = errors.New("the Rules Engine rejected the request")
	// errBreakerOpen: the breaker refused the call without trying; retrying now is pointless.
	errBreakerOpen = errors.New("circuit breaker open")
)

// MaxResponseBytes caps what the client reads of one answer.
const MaxResponseBytes = 1 << 20

// Config tunes the client.
type Config struct {
	URL             string        // rules-management base URL
	EvaluationURL   string        // rules-evaluation base URL (default: URL)
	Token           string        // bearer token, optional
	Timeout         time.Duration // per attempt
	MaxRetries      int           // retries of GETs (never of evaluations)
	CacheTTL        time.Duration // rule metadata cache; 0: off
	CacheSize       int           // entries
	BreakerFailures uint32        // consecutive failures that open the breaker
	BreakerOpenFor  time.Duration // how long it stays open before a trial call
}

// Client speaks the Rules Engine's contract: GET {url}/api/v1/rules/{id} and
// POST {evaluation_url}/v1/evaluate. It treats every answer as untrusted input.
type Client struct {
	cfg     Config
	http    *http.Client
	breaker *gobreaker.CircuitBreaker[[]byte]
	cache   *ruleCache
}

// NewClient returns a client; httpClient may be nil (a client with no overall timeout: each
// attempt has cfg.Timeout).
func NewClient(cfg Config, httpClient *http.Client) *Client {
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
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	c := &Client{cfg: cfg, http: httpClient}
	if cfg.CacheTTL > 0 {
		c.cache = newRuleCache(cfg.CacheTTL, cfg.CacheSize, time.Now)
	}
	c.breaker = gobreaker.NewCircuitBreaker[[]byte](gobreaker.Settings{
		Name:        "rules-engine",
		MaxRequests: 1,
		Timeout:     cfg.BreakerOpenFor,
		ReadyToTrip: func(counts gobreaker.Counts) bool { return counts.ConsecutiveFailures >= cfg.BreakerFailures },
		// The caller giving up is not the engine failing; a refusal (4xx) is an answer.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		IsSuccessful: func(err error) bool {
			return err == nil || errors.Is(err, errRejected) || errors.Is(err, ErrRuleNotFound)
		},
	})
	return c
}

// BreakerOpen reports whether the circuit breaker refuses calls now.
func (c *Client) BreakerOpen() bool { return c.breaker.State() == gobreaker.StateOpen }

// Rule returns a rule's metadata (ErrRuleNotFound for a 404), from the cache when fresh.
func (c *Client) Rule(ctx context.Context, id uuid.UUID) (*Rule, error) {
	if r, notFound, ok := c.cache.get(id); ok {
		if notFound {
			return nil, fmt.Errorf("%w: %s", ErrRuleNotFound, id)
		}
		return r, nil
	}
	return c.RuleFresh(ctx, id)
}

// RuleFresh reads a rule from rules-management, bypassing (and refreshing) the cache.
func (c *Client) RuleFresh(ctx context.Context, id uuid.UUID) (*Rule, error) {
	endpoint := strings.TrimRight(c.cfg.URL, "/") + "/api/v1/rules/" + url.PathEscape(id.String())
	var body []byte
	var err error
	for attempt := 0; ; attempt++ {
		body, err = c.call(ctx, http.MethodGet, endpoint, nil)
		if err == nil || attempt >= c.cfg.MaxRetries || !retryable(ctx, err) {
			break
		}
		if werr := sleep(ctx, backoff(attempt)); werr != nil {
			return nil, werr
		}
	}
	if errors.Is(err, ErrRuleNotFound) {
		c.cache.put(id, nil, true)
		return nil, fmt.Errorf("%w: %s", ErrRuleNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	r, err := parseRule(body, id)
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
	body, err := c.call(ctx, http.MethodPost, endpoint, reqBody)
	if err != nil {
		return nil, err
	}
	return parseEvaluation(body)
}

// call makes one request through the breaker with its own timeout, and returns the body of a
// 200. A 404 is ErrRuleNotFound; another 4xx errRejected; a 5xx, a timeout or a network error
// ErrUnavailable; an answer over MaxResponseBytes ErrInvalidResponse.
func (c *Client) call(ctx context.Context, method, endpoint string, body []byte) ([]byte, error) {
	out, err := c.breaker.Execute(func() ([]byte, error) {
		actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(actx, method, endpoint, rd)
		if err != nil {
			return nil, fmt.Errorf("rules engine request: %w", err)
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.cfg.Token != "" {
			req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err() // the caller gave up: not the engine's fault
			}
			return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, method, endpoint, err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%w: read %s: %w", ErrUnavailable, endpoint, err)
		}
		switch {
		case resp.StatusCode == http.StatusOK && len(data) > MaxResponseBytes:
			return nil, fmt.Errorf("%w: the answer is larger than %d bytes", ErrInvalidResponse, MaxResponseBytes)
		case resp.StatusCode == http.StatusOK:
			return data, nil
		case resp.StatusCode == http.StatusNotFound:
			return nil, ErrRuleNotFound
		case resp.StatusCode >= 500:
			return nil, fmt.Errorf("%w: %s %s: status %d", ErrUnavailable, method, endpoint, resp.StatusCode)
		default:
			return nil, fmt.Errorf("%w: %s %s: status %d", errRejected, method, endpoint, resp.StatusCode)
		}
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return nil, fmt.Errorf("%w: %w: %w", ErrUnavailable, errBreakerOpen, err)
	}
	return out, err
}

func retryable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && errors.Is(err, ErrUnavailable) && !errors.Is(err, errBreakerOpen)
}

// backoff is 50ms, 100ms, 200ms... with full jitter, capped at 1s.
func backoff(attempt int) time.Duration {
	d := min(50*time.Millisecond<<attempt, time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
