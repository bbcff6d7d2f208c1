package app_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/config"
)

// documentedRoute is one row of the route permission table of the operations guide
// (configs/README.md, Security): the permission the
// route requires and, per role, whether the role may call it.
type documentedRoute struct {
	permission auth.Permission
	allows     map[auth.Role]bool
}

// documentedPermissions reads the two permission tables of the Security section of
// configs/README.md:
// roles to permissions, and routes ("GET /api/v1/campaigns/:id", Echo's spelling) to their
// permission and a yes or no per role.
func documentedPermissions(t *testing.T) (map[auth.Role][]auth.Permission, map[string]documentedRoute) {
	t.Helper()
	b, err := os.ReadFile("../../configs/README.md")
	require.NoError(t, err)
	readme := string(b)
	start := strings.Index(readme, "\n## Security\n")
	require.NotEqual(t, -1, start, "configs/README.md has a Security section")
	section := readme[start+1:]
	if end := strings.Index(section[3:], "\n## "); end != -1 {
		section = section[:end+3]
	}
	unquote := func(s string) string { return strings.Trim(strings.TrimSpace(s), "`") }
	cells := func(line string) []string {
		parts := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}

	roles := map[auth.Role][]auth.Permission{}
	routes := map[string]documentedRoute{}
	var table string // the header of the table being read
	var columns []auth.Role
	for line := range strings.SplitSeq(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			table = ""
			continue
		}
		c := cells(line)
		switch {
		case table == "" && len(c) == 2 && c[0] == "role" && c[1] == "permissions":
			table = "roles"
			continue
		case table == "" && len(c) > 2 && c[0] == "route" && c[1] == "permission":
			table, columns = "routes", nil
			for _, name := range c[2:] {
				r, ok := auth.ParseRole(unquote(name))
				require.True(t, ok, "the route table's column %s is not a role", name)
				columns = append(columns, r)
			}
			continue
		case strings.HasPrefix(c[0], "---"):
			continue
		}
		switch table {
		case "roles":
			r, ok := auth.ParseRole(unquote(c[0]))
			require.True(t, ok, "the role table's row %q is not a role", c[0])
			if c[1] == "all" {
				roles[r] = auth.Permissions()
				continue
			}
			list, _, _ := strings.Cut(c[1], " (") // drop a trailing remark
			for p := range strings.SplitSeq(list, ",") {
				roles[r] = append(roles[r], auth.Permission(unquote(p)))
			}
		case "routes":
			require.Len(t, c, 2+len(columns), "route table row %q", line)
			route := strings.ReplaceAll(unquote(c[0]), "{id}", ":id")
			perm, _, _ := strings.Cut(c[1], " ") // "`public` (`metrics:read` with ...)": the default
			d := documentedRoute{permission: auth.Permission(unquote(perm)), allows: map[auth.Role]bool{}}
			for i, r := range columns {
				require.Contains(t, []string{"yes", "no"}, c[2+i], "route %s, role %s", route, r)
				d.allows[r] = c[2+i] == "yes"
			}
			_, dup := routes[route]
			require.False(t, dup, "the route table lists %s twice", route)
			routes[route] = d
		}
	}
	require.NotEmpty(t, roles, "the Security section of configs/README.md has the role table")
	require.NotEmpty(t, routes, "the Security section of configs/README.md has the route table")
	return roles, routes
}

// The permission tables of configs/README.md are the code's: the same roles with the same permissions,
// every route of the table (and no other) with its permission, and each yes or no what the
// role's permissions give. TestRouteAuthorizationMatrix then calls every route as each role
// and expects the documented answer.
func TestDocumentedPermissionsAreTheRouteTable(t *testing.T) {
	t.Parallel()
	roles, routes := documentedPermissions(t)
	for _, r := range auth.Roles() {
		assert.ElementsMatch(t, auth.Grants(r), roles[r], "configs/README.md's permissions of role %s", r)
	}
	assert.Len(t, roles, len(auth.Roles()), "configs/README.md's role table lists exactly the roles")

	cfg := &config.Config{}
	cfg.Auth.PublicMetrics = true // the default the table documents first
	policy := app.RoutePolicy(cfg)
	seen := map[string]bool{}
	for _, r := range policy {
		key := r.Method + " " + r.Path
		seen[key] = true
		d, ok := routes[key]
		if !assert.True(t, ok, "configs/README.md's route table lacks %s", key) {
			continue
		}
		assert.Equal(t, r.Permission, d.permission, "configs/README.md's permission of %s", key)
		for _, role := range auth.Roles() {
			want := r.Permission == auth.Public || slices.Contains(auth.Grants(role), r.Permission)
			assert.Equal(t, want, d.allows[role], "configs/README.md's %s column for %s", role, key)
		}
	}
	for key := range routes {
		assert.True(t, seen[key], "configs/README.md's route table lists %s, which the route table does not", key)
	}
}
