package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// client makes the setup, refresh and cleanup calls, which are not measured. It retries a
// 429 or 503 a few times (honouring Retry-After, capped), since a rate-limited setup would
// otherwise end the run before it starts.
type client struct {
	http   *http.Client
	base   string // scheme://host/prefix, no trailing slash
	header http.Header
}

// apiError is a non-2xx answer: its status and the problem's title and detail.
type apiError struct {
	Method, Path string
	Status       int
	Title        string
	Detail       string
	Fields       []string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%s %s: %d", e.Method, e.Path, e.Status)
	if e.Title != "" {
		msg += " " + e.Title
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if len(e.Fields) > 0 {
		msg += " (" + strings.Join(e.Fields, "; ") + ")"
	}
	return msg
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one request (body: nil or a value sent as JSON) and returns a 2xx response, or an
// *apiError for any other status.
func (c *client) do(ctx context.Context, method, path string, body any, header ...string) (*response, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	const attempts = 5
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, method, path, raw, header)
		if err != nil {
			return nil, err
		}
		if (resp.Status == http.StatusTooManyRequests || resp.Status == http.StatusServiceUnavailable) && attempt < attempts {
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = min(time.Duration(s)*time.Second, 5*time.Second)
			}
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if resp.Status < 200 || resp.Status > 299 {
			return resp, problemOf(method, path, resp)
		}
		return resp, nil
	}
}

func (c *client) once(ctx context.Context, method, path string, raw []byte, header []string) (*response, error) {
	var rd io.Reader
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: out}, nil
}

func problemOf(method, path string, r *response) *apiError {
	e := &apiError{Method: method, Path: path, Status: r.Status}
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(r.Body, &p) == nil {
		e.Title, e.Detail = p.Title, p.Detail
		for _, fe := range p.Errors {
			e.Fields = append(e.Fields, fe.Field+" "+fe.Message)
		}
	}
	return e
}

// etagVersion reads our strong ETag `"7"`; 0 when absent or not ours.
func etagVersion(h http.Header) int64 {
	v, err := strconv.ParseInt(strings.Trim(h.Get("ETag"), `"`), 10, 64)
	if err != nil {
		return 0
	}
	return v
}
