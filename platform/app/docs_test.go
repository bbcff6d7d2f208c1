package app_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/apidocs"
	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// GET /docs renders the spec with the embedded Redoc, on the embedded default (SQLite).
func TestAPIReferencePage(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{})

	page := s.Do(http.MethodGet, "/docs", nil)
	require.Equal(t, http.StatusOK, page.Status)
	assert.Equal(t, "text/html; charset=UTF-8", page.Header.Get("Content-Type"))
	body := string(page.Body)
	assert.Contains(t, body, `<redoc spec-url="openapi.yaml"`)
	assert.Contains(t, body, `<script src="docs/redoc.standalone.js"></script>`)
	assert.NotRegexp(t, regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`), body, "the page loads nothing from another origin")
	csp := page.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'")
	assert.Contains(t, csp, "script-src 'self'")
	assert.NotContains(t, csp, "http", "the policy allows no other origin")

	// What the page loads, relative to /docs: the script and the spec, both served here.
	script := s.Do(http.MethodGet, "/docs/redoc.standalone.js", nil)
	require.Equal(t, http.StatusOK, script.Status)
	assert.Equal(t, "text/javascript; charset=utf-8", script.Header.Get("Content-Type"))
	assert.Contains(t, string(script.Body), `ReDoc Version: ","`+apidocs.RedocVersion+`"`)
	assert.Greater(t, len(script.Body), 500_000, "the whole standalone bundle")
	spec := s.Do(http.MethodGet, "/openapi.yaml", nil)
	require.Equal(t, http.StatusOK, spec.Status)
	assert.Equal(t, app.OpenAPISpec(), spec.Body)
}

// Money amounts are decimal strings in the document, so that generated clients keep them
// exact (a number branch became float32 in oapi-codegen, and 12345678.91 became 12345679.00),
// and every other number is a double, never a generator's float32 default.
func TestOpenAPIMoneyIsExact(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(app.OpenAPISpec())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(loader.Context))

	for _, name := range []string{"Money", "MoneyInput"} {
		ref := doc.Components.Schemas[name]
		require.NotNil(t, ref, name)
		amount := ref.Value.Properties["amount"]
		require.NotNil(t, amount, name)
		assert.True(t, amount.Value.Type.Is(openapi3.TypeString), "%s.amount must be a string", name)
		assert.Equal(t, "decimal", amount.Value.Format, "%s.amount", name)
		assert.Empty(t, amount.Value.OneOf, "%s.amount: no alternatives", name)
		assert.Empty(t, amount.Value.AnyOf, "%s.amount: no alternatives", name)
	}

	seen := map[*openapi3.Schema]bool{}
	var walk func(path string, s *openapi3.SchemaRef)
	walk = func(path string, s *openapi3.SchemaRef) {
		if s == nil || s.Value == nil || seen[s.Value] {
			return
		}
		seen[s.Value] = true
		v := s.Value
		if v.Type.Is(openapi3.TypeNumber) && v.Format != "double" {
			t.Errorf("%s: a number without format: double (generators make it a float32)", path)
		}
		if strings.HasSuffix(path, ".amount") && !v.Type.Is(openapi3.TypeString) {
			t.Errorf("%s: an amount that is not a string", path)
		}
		for name, p := range v.Properties {
			walk(path+"."+name, p)
		}
		for i, group := range [][]*openapi3.SchemaRef{v.OneOf, v.AnyOf, v.AllOf} {
			for j, sub := range group {
				walk(path+"/"+[]string{"oneOf", "anyOf", "allOf"}[i]+"["+strconv.Itoa(j)+"]", sub)
			}
		}
		walk(path+"[]", v.Items)
		if v.AdditionalProperties.Schema != nil {
			walk(path+"{}", v.AdditionalProperties.Schema)
		}
	}
	for name, s := range doc.Components.Schemas {
		walk(name, s)
	}
	assert.Greater(t, len(seen), 50, "the walk reached the document's schemas")
}

// The document names its servers: the one serving it first, so that a page or client loaded
// from any deployment calls that deployment.
func TestOpenAPIServers(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(app.OpenAPISpec())
	require.NoError(t, err)
	require.NotEmpty(t, doc.Servers)
	assert.Equal(t, "/", doc.Servers[0].URL)
	for _, srv := range doc.Servers {
		assert.NotEmpty(t, srv.Description, srv.URL)
	}
}

// The reference page's sidebar names each group once: Redoc lists the description's # and ##
// headings beside the tags (by their x-displayName), so a section heading that is also a
// tag's name shows twice ("Lifecycle" and "lifecycle"). Every tag is named for people, every
// operation has exactly one tag, and the tags' descriptions hold their sections' text.
func TestOpenAPISidebarNamesEachGroupOnce(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(app.OpenAPISpec())
	require.NoError(t, err)
	entries := map[string]string{}
	add := func(name, from string) {
		key := strings.ToLower(strings.TrimSpace(name))
		if prev, ok := entries[key]; ok {
			t.Errorf("the sidebar would show %q twice: %s and %s", name, prev, from)
		}
		entries[key] = from
	}
	heading := regexp.MustCompile(`^#{1,2} (.+)$`)
	for _, line := range markdownOutsideCode(doc.Info.Description) {
		if m := heading.FindStringSubmatch(line); m != nil {
			add(m[1], "a heading of info.description")
		}
	}
	tags := map[string]bool{}
	for _, tag := range doc.Tags {
		display, _ := tag.Extensions["x-displayName"].(string)
		assert.NotEmpty(t, display, "tag %s has no x-displayName", tag.Name)
		add(display, "tag "+tag.Name)
		tags[tag.Name] = true
		for _, line := range markdownOutsideCode(tag.Description) {
			assert.False(t, heading.MatchString(line), "tag %s: a # or ## heading in its description would be a sidebar entry: %q", tag.Name, line)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if assert.Len(t, op.Tags, 1, "%s %s", method, path) {
				assert.True(t, tags[op.Tags[0]], "%s %s: tag %s is not declared", method, path, op.Tags[0])
			}
		}
	}
}

// markdownOutsideCode is md's lines outside fenced code blocks (a shell comment is no heading).
func markdownOutsideCode(md string) []string {
	var out []string
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, line)
		}
	}
	return out
}
