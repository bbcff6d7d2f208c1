package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/logtest"
)

// CAMPAIGNS_TEST_CLOCK moves the binary's clock: at a Monday 05:04 UTC, a campaign that
// serves on Mondays and Fridays from 09:00 to 18:00 in Madrid is OUT_OF_SCHEDULE whatever the
// real hour, the records carry the forced time, and the log says the clock is shifted. This
// is what .ci/tour relies on to run the README's tour at that hour.
func TestForcedClock(t *testing.T) {
	cleanEnv(t)
	const forced = "2026-12-07T05:04:00Z" // a Monday
	t.Setenv("CAMPAIGNS_TEST_CLOCK", forced)
	t.Setenv("CAMPAIGNS_ACTIVATION_ALLOW_UNTARGETED", "true")
	base := "http://127.0.0.1:" + os.Getenv("CAMPAIGNS_HTTP_PORT")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr logtest.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, &stdout, &stderr) }()
	client := &http.Client{Timeout: 5 * time.Second}
	waitHealthy(t, client, base, done, &stderr)

	send := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-User-ID", "7b0e8f5e-8d6a-4c4b-9c53-2f2d5b0b9a11")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	status, body := send(http.MethodPost, "/api/v1/campaigns", `{"name": "Office hours", "type": "PROMOTION",
	  "startDate": "`+forced+`", "budget": {"amount": "100", "currency": "EUR"},
	  "settings": {"channels": ["EMAIL"], "schedulingRules": [{"days": ["MON", "FRI"],
	    "startTime": "09:00", "endTime": "18:00", "timezone": "Europe/Madrid"}]}}`)
	require.Equal(t, http.StatusCreated, status, body)
	assert.Contains(t, body, `"createdAt":"2026-12-07T05:0`, "the record carries the forced time")
	id := body[strings.Index(body, `"id":"`)+6:]
	id = id[:strings.Index(id, `"`)]

	status, body = send(http.MethodPost, "/api/v1/campaigns/"+id+"/activate", "")
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"status":"ACTIVE"`)
	assert.Contains(t, body, `"servingStatus":"OUT_OF_SCHEDULE"`, "06:04 in Madrid is before 09:00")

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "stderr: %s", stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}
	assert.Contains(t, stderr.String(), "the API's clock is shifted", "the log says so")
}

// A value that is not an RFC 3339 time stops start-up, naming the variable.
func TestForcedClockRefusesABadValue(t *testing.T) {
	cleanEnv(t)
	t.Setenv("CAMPAIGNS_TEST_CLOCK", "monday 05:04")
	code, _, stderr := runCmd(t)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "CAMPAIGNS_TEST_CLOCK")
	requireOneLine(t, stderr)
}
