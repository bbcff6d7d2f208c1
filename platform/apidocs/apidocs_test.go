package apidocs

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The version vendor.sh pins, the constant and the embedded bundle agree.
func TestVendoredVersion(t *testing.T) {
	t.Parallel()
	script, err := os.ReadFile("vendor.sh")
	require.NoError(t, err)
	assert.Contains(t, string(script), "\nversion="+RedocVersion+"\n")
	assert.Contains(t, string(redocScript), `ReDoc Version: ","`+RedocVersion+`"`)
	notice, err := os.ReadFile("assets/redoc.standalone.js.LICENSE.txt")
	require.NoError(t, err)
	assert.Contains(t, string(notice), `Version: "`+RedocVersion+`"`)
	for _, f := range []string{"assets/LICENSE", "assets/redoc.standalone.js.LICENSE.txt"} {
		_, err := os.Stat(f)
		assert.NoError(t, err, "the bundle's licences are vendored beside it")
	}
}

func TestRegisterServesPageAndScript(t *testing.T) {
	t.Parallel()
	e := echo.New()
	Register(e)

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PagePath, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html"))
	assert.Equal(t, ContentSecurityPolicy, rec.Header().Get("Content-Security-Policy"))
	assert.Contains(t, ContentSecurityPolicy, "script-src 'self';", "scripts from this origin only, no eval")
	// Every src/href/spec-url is relative to /docs and names something served here.
	refs := regexp.MustCompile(`(?:src|href|spec-url)="([^"]*)"`).FindAllStringSubmatch(rec.Body.String(), -1)
	var got []string
	for _, m := range refs {
		got = append(got, m[1])
	}
	assert.Equal(t, []string{"data:,", "openapi.yaml", "docs/redoc.standalone.js"}, got)
	assert.Equal(t, ScriptPath, "/"+got[2])

	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, ScriptPath, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/javascript; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, redocScript, rec.Body.Bytes())
}

// The bundle loads nothing from another origin: its one external image (the Redocly logo) was
// replaced when it was vendored, so the page's policy blocks nothing and shows no broken image.
func TestBundleNamesNoExternalResource(t *testing.T) {
	t.Parallel()
	external := regexp.MustCompile(`src:"https?://[^"]*"`).FindAllString(string(redocScript), -1)
	assert.Empty(t, external, "image or script sources on another origin")
	assert.NotContains(t, string(redocScript), "cdn.redoc.ly")
}

// /docs/ and HEAD reach the page too: /docs/ redirects (relatively, so a path prefix in front
// of the API keeps working) to /docs, whose relative links are resolved against it.
func TestDocsSlashRedirects(t *testing.T) {
	t.Parallel()
	e := echo.New()
	Register(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, SlashPath, nil))
	assert.Equal(t, http.StatusMovedPermanently, rec.Code)
	assert.Equal(t, "../docs", rec.Header().Get("Location"))
}
