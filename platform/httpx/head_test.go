package httpx

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// HEAD is answered as GET without the body, over a real connection, and logged as a HEAD that
// sent no body.
func TestHeadAsGet(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	e := NewEcho(EchoConfig{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	e.GET("/thing", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"name": strings.Repeat("x", 100)})
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	get, err := http.Get(srv.URL + "/thing")
	require.NoError(t, err)
	body, _ := io.ReadAll(get.Body)
	_ = get.Body.Close()
	head, err := http.Head(srv.URL + "/thing")
	require.NoError(t, err)
	headBody, _ := io.ReadAll(head.Body)
	_ = head.Body.Close()

	assert.Equal(t, http.StatusOK, head.StatusCode)
	assert.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"))
	assert.EqualValues(t, len(body), head.ContentLength, "the length GET's body has")
	assert.Empty(t, headBody)

	missing, err := http.Head(srv.URL + "/nothing")
	require.NoError(t, err)
	_ = missing.Body.Close()
	assert.Equal(t, http.StatusNotFound, missing.StatusCode)
	assert.Equal(t, "application/problem+json", missing.Header.Get("Content-Type"))

	var methods []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry struct {
			Msg      string  `json:"msg"`
			Method   string  `json:"method"`
			Path     string  `json:"path"`
			BytesOut float64 `json:"bytes_out"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &entry))
		if entry.Msg != "http request" {
			continue
		}
		methods = append(methods, entry.Method+" "+entry.Path)
		if entry.Method == http.MethodHead {
			assert.Zero(t, entry.BytesOut, "a HEAD sends no body")
		}
	}
	assert.Equal(t, []string{"GET /thing", "HEAD /thing", "HEAD /nothing"}, methods)
}
