package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/httpx"
)

func TestIfMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		header      *string // nil: no header at all
		wantVersion int64
		wantOK      bool
		wantErr     bool
	}{
		{name: "absent"},
		{name: "empty", header: ptr("")},
		{name: "blank", header: ptr("   ")},
		{name: "any version", header: ptr("*")},
		{name: "any version padded", header: ptr(" * ")},
		{name: "strong tag", header: ptr(`"3"`), wantVersion: 3, wantOK: true},
		{name: "strong tag padded", header: ptr(` "3" `), wantVersion: 3, wantOK: true},
		{name: "weak tag never matches", header: ptr(`W/"3"`), wantErr: true},
		{name: "large version", header: ptr(`"9223372036854775807"`), wantVersion: 9223372036854775807, wantOK: true},
		{name: "unquoted number", header: ptr(`3`), wantErr: true},
		{name: "garbage", header: ptr(`garbage`), wantErr: true},
		{name: "quoted garbage", header: ptr(`"abc"`), wantErr: true},
		{name: "zero", header: ptr(`"0"`), wantErr: true},
		{name: "negative", header: ptr(`"-1"`), wantErr: true},
		{name: "overflow", header: ptr(`"9223372036854775808"`), wantErr: true},
		{name: "fraction", header: ptr(`"1.5"`), wantErr: true},
		{name: "one quote", header: ptr(`"`), wantErr: true},
		{name: "empty tag", header: ptr(`""`), wantErr: true},
		{name: "missing closing quote", header: ptr(`"3`), wantErr: true},
		{name: "lower-case weak prefix", header: ptr(`w/"3"`), wantErr: true},
		{name: "list of tags", header: ptr(`"3", "4"`), wantErr: true},
		{name: "space inside", header: ptr(`" 3"`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPut, "/things/1", nil)
			if tt.header != nil {
				req.Header.Set("If-Match", *tt.header)
			}
			c := echo.New().NewContext(req, httptest.NewRecorder())
			version, ok, err := httpx.IfMatch(c)
			if tt.wantErr {
				p := requireProblem(t, err, http.StatusPreconditionFailed)
				assert.Equal(t, httpx.ProblemTypePrefix+"precondition-failed", p.Type)
				assert.False(t, ok)
				assert.Zero(t, version)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantVersion, version)
		})
	}
}

func TestSetETagRoundTripsThroughIfMatch(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{1, 2, 42, 1 << 40} {
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
		httpx.SetETag(c, v)
		etag := rec.Header().Get("ETag")
		require.NotEmpty(t, etag)
		assert.Equal(t, byte('"'), etag[0], "a strong ETag is quoted")

		req := httptest.NewRequest(http.MethodPut, "/", nil)
		req.Header.Set("If-Match", etag)
		got, ok, err := httpx.IfMatch(echo.New().NewContext(req, httptest.NewRecorder()))
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, v, got)
	}
}

func TestPreconditionProblems(t *testing.T) {
	t.Parallel()
	p := httpx.PreconditionFailed("stale")
	assert.Equal(t, http.StatusPreconditionFailed, p.Status)
	assert.Equal(t, "stale", p.Detail)
	r := httpx.PreconditionRequired("say which")
	assert.Equal(t, http.StatusPreconditionRequired, r.Status)
	assert.Equal(t, httpx.ProblemTypePrefix+"precondition-required", r.Type)
}

func ptr[T any](v T) *T { return &v }
