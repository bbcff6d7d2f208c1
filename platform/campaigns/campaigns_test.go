package campaigns_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/auth"
	"github.com/engine-rules-sp/campaigns/platform/campaigns"
	"github.com/engine-rules-sp/campaigns/platform/database"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/httpx"
	"github.com/engine-rules-sp/campaigns/platform/natsx"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
	"github.com/engine-rules-sp/campaigns/targeting"
)

// Headers the tests' Identify reads: who calls, with which roles (comma-separated).
const (
	headerCaller = "X-Test-Caller"
	headerRoles  = "X-Test-Roles"
)

// identify stands in for a host's authentication.
func identify(r *http.Request) (campaigns.Caller, error) {
	c := campaigns.Caller{ID: r.Header.Get(headerCaller)}
	for _, s := range strings.Split(r.Header.Get(headerRoles), ",") {
		if role, ok := auth.ParseRole(s); ok {
			c.Roles = append(c.Roles, role)
		}
	}
	return c, nil
}

// newClient builds a client over target and an embedded NATS, with cfg (Identify defaults to
// identify); the database is migrated and everything is closed when the test ends.
func newClient(t *testing.T, target dbtest.Target, cfg campaigns.Config) (*campaigns.Client, *bun.DB) {
	t.Helper()
	db := dbtest.Connect(t, target)
	nc := natstest.Connect(t, natstest.Embedded(t))
	if cfg.Identify == nil {
		cfg.Identify = identify
	}
	c, err := campaigns.New(db, nc.JS, cfg)
	require.NoError(t, err)
	require.NoError(t, c.Migrate(context.Background()))
	return c, db
}

// A Config that cannot work is refused at New, naming the field.
func TestNewRefusesABadConfigNamingTheField(t *testing.T) {
	t.Parallel()
	db := dbtest.Connect(t, dbtest.SQLiteTarget(t))
	nc := natstest.Connect(t, natstest.Embedded(t))
	for _, tc := range []struct {
		field string
		cfg   campaigns.Config
	}{
		{"HTTP.BodyLimit", campaigns.Config{HTTP: campaigns.HTTPConfig{BodyLimit: -1}}},
		{"HTTP.TrustedOrigins", campaigns.Config{HTTP: campaigns.HTTPConfig{TrustedOrigins: []string{"https://console.example.com/app"}}}},
		{"ApprovalThresholds[EUR]", campaigns.Config{ApprovalThresholds: map[string]string{"EUR": "ten"}}},
		{"ApprovalThresholds[XYZ]", campaigns.Config{ApprovalThresholds: map[string]string{"XYZ": "10"}}},
		{"RulesEngine.Client.URL", campaigns.Config{RulesEngine: &campaigns.RulesEngineConfig{}}},
		{"RulesEngine.Client.URL", campaigns.Config{RulesEngine: &campaigns.RulesEngineConfig{Client: targeting.Config{URL: "rules:8080"}}}},
		{"RulesEngine.Client.EvaluationURL", campaigns.Config{RulesEngine: &campaigns.RulesEngineConfig{
			Client: targeting.Config{URL: "http://rules:8080", EvaluationURL: "ftp://eval"}}}},
		{"RulesEngine.Client.Timeout", campaigns.Config{RulesEngine: &campaigns.RulesEngineConfig{
			Client: targeting.Config{URL: "http://rules:8080", Timeout: -time.Second}}}},
		{"StreamReplicas", campaigns.Config{StreamReplicas: 6}},
		{"StreamReplicas", campaigns.Config{StreamReplicas: -1}},
		{"Tracking.Stream.Replicas", campaigns.Config{StreamReplicas: 3, Tracking: campaigns.TrackingConfig{Stream: metrics.StreamConfig{Replicas: 1}}}},
		{"Tracking.Stream.Replicas", campaigns.Config{Tracking: campaigns.TrackingConfig{Stream: metrics.StreamConfig{Replicas: 3}}}},
		{"Tracking.Stream.Partitions", campaigns.Config{Tracking: campaigns.TrackingConfig{Stream: metrics.StreamConfig{Partitions: metrics.MaxPartitions + 1}}}},
		{"Tracking.MaxEventAmount", campaigns.Config{Tracking: campaigns.TrackingConfig{MaxEventAmount: decimal.NewFromInt(-1)}}},
		{"Tracking.LeaseTTL", campaigns.Config{Tracking: campaigns.TrackingConfig{LeaseTTL: -time.Second}}},
		{"Tracking.AckTimeout", campaigns.Config{Tracking: campaigns.TrackingConfig{AckTimeout: -time.Second}}},
		{"Events.PollInterval", campaigns.Config{Events: campaigns.EventsConfig{PollInterval: -time.Second}}},
		{"Automation.PauseAt", campaigns.Config{Automation: campaigns.AutomationConfig{
			PauseAt: decimal.RequireFromString("0.95"), CompleteAt: decimal.RequireFromString("0.9")}}},
		{"Automation.CompleteAt", campaigns.Config{Automation: campaigns.AutomationConfig{CompleteAt: decimal.NewFromInt(11)}}},
		{"Idempotency.TTL", campaigns.Config{Idempotency: campaigns.IdempotencyConfig{TTL: -time.Hour}}},
	} {
		t.Run(tc.field, func(t *testing.T) {
			_, err := campaigns.New(db, nc.JS, tc.cfg)
			var cerr *campaigns.ConfigError
			require.ErrorAs(t, err, &cerr)
			assert.Equal(t, tc.field, cerr.Field)
			assert.Contains(t, err.Error(), "Config."+tc.field)
		})
	}
	_, err := campaigns.New(db, nil, campaigns.Config{})
	assert.ErrorIs(t, err, campaigns.ErrNoJetStream)
	_, err = campaigns.New(nil, nc.JS, campaigns.Config{})
	assert.Error(t, err)
}

// More than one replica on a server that runs alone can never work: Start says so at once
// rather than retrying for ever.
func TestStartRefusesReplicasWithoutACluster(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, dbtest.SQLiteTarget(t), campaigns.Config{StreamReplicas: 3})
	err := c.Start(context.Background())
	require.ErrorIs(t, err, natsx.ErrReplicasNeedCluster)
	assert.ErrorContains(t, err, "Config.StreamReplicas 3")
}

// unsupported is a database/sql driver the library does not serve.
type unsupported struct{}

func (unsupported) Open(string) (driver.Conn, error) { return nil, errors.New("not a real driver") }

func TestNewRefusesAnUnsupportedDriver(t *testing.T) {
	t.Parallel()
	sql.Register("campaigns-test-unsupported", unsupported{})
	sqldb, err := sql.Open("campaigns-test-unsupported", "")
	require.NoError(t, err)
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() { _ = db.Close() })
	nc := natstest.Connect(t, natstest.Embedded(t))
	_, err = campaigns.New(db, nc.JS, campaigns.Config{Identify: identify})
	require.ErrorIs(t, err, database.ErrUnsupportedDriver)
	for _, name := range []string{"github.com/jackc/pgx/v5/stdlib", "github.com/uptrace/bun/driver/pgdriver", "modernc.org/sqlite"} {
		assert.Contains(t, err.Error(), name, "the error says which drivers are supported")
	}
}

// Every route Mount registers is in the route table, and every entry is registered.
func TestRouteTableCoversEveryRoute(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, dbtest.SQLiteTarget(t), campaigns.Config{})
	e := echo.New()
	c.Mount(e.Group("/api/v1"))
	table := map[string]bool{}
	for _, r := range campaigns.Routes("/api/v1") {
		table[r.Method+" "+r.Path] = false
	}
	for _, r := range e.Routes() {
		key := r.Method + " " + r.Path
		assert.Contains(t, r.Name, "echoapi", "%s is named after its handler, not its middleware", key)
		_, ok := table[key]
		assert.True(t, ok, "%s is mounted but not in the route table", key)
		table[key] = true
	}
	for key, mounted := range table {
		assert.True(t, mounted, "%s is in the route table but not mounted", key)
	}
}

// roleWithout is a role that lacks perm.
func roleWithout(perm auth.Permission) auth.Role {
	for _, r := range auth.Roles() {
		if !(&auth.Principal{Roles: []auth.Role{r}}).Can(perm) {
			return r
		}
	}
	panic("every role grants " + perm)
}

// Mounted on a host's bare Echo (its default error handler, no middleware of its own), every
// route refuses an anonymous caller (401) and a caller whose roles lack its permission (403),
// refuses a body over the limit (413), always as problem+json, and echoes the request id.
func TestEveryMountedRouteIsGuarded(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, dbtest.SQLiteTarget(t), campaigns.Config{
		HTTP: campaigns.HTTPConfig{BodyLimit: 1 << 10, ImportBodyLimit: 2 << 10},
	})
	e := echo.New()
	c.Mount(e.Group("/api/v1"))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	id := uuid.NewString()
	send := func(method, path string, body []byte, header http.Header) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+strings.ReplaceAll(path, ":id", id), bytes.NewReader(body))
		require.NoError(t, err)
		req.Header = header
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}
	for _, r := range campaigns.Routes("/api/v1") {
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			anonymous := http.Header{httpx.HeaderRequestID: {"req-" + id}}
			resp := send(r.Method, r.Path, []byte("{}"), anonymous)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "anonymous")
			assert.Equal(t, httpx.ProblemContentType, resp.Header.Get("Content-Type"))
			assert.Equal(t, "req-"+id, resp.Header.Get(httpx.HeaderRequestID))

			lacking := http.Header{headerCaller: {"someone"}, headerRoles: {string(roleWithout(r.Permission))}}
			resp = send(r.Method, r.Path, []byte("{}"), lacking)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a role without %s", r.Permission)
			assert.Equal(t, httpx.ProblemContentType, resp.Header.Get("Content-Type"))
			assert.NotEmpty(t, resp.Header.Get(httpx.HeaderRequestID), "a request id is made when none is sent")

			if r.Method == http.MethodGet {
				return
			}
			// A write a browser sent from a page on another origin, even an admin's.
			crossSite := http.Header{headerCaller: {"someone"}, headerRoles: {string(auth.RoleAdmin)},
				"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
			resp = send(r.Method, r.Path, []byte("{}"), crossSite)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a cross-site write")
			assert.Equal(t, httpx.ProblemContentType, resp.Header.Get("Content-Type"))
			if r.Method == http.MethodDelete {
				return
			}

			admin := http.Header{headerCaller: {"someone"}, headerRoles: {string(auth.RoleAdmin)}}
			resp = send(r.Method, r.Path, bytes.Repeat([]byte(" "), 3<<10), admin)
			assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "a body over the limit")
			assert.Equal(t, httpx.ProblemContentType, resp.Header.Get("Content-Type"))
		})
	}
}

// post sends body as the caller with the admin role and decodes the answer into out.
func post(t *testing.T, h http.Handler, path, caller, requestID string, body any, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerCaller, caller)
	req.Header.Set(headerRoles, string(auth.RoleAdmin))
	if requestID != "" {
		req.Header.Set(httpx.HeaderRequestID, requestID)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if out != nil && rec.Code < 300 {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), out), rec.Body.String())
	}
	return rec.Code
}

// get reads path as the caller into out.
func get(t *testing.T, h http.Handler, path, caller string, out any) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set(headerCaller, caller)
	req.Header.Set(headerRoles, string(auth.RoleAdmin))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if out != nil && rec.Code == http.StatusOK {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), out), rec.Body.String())
	}
	return rec.Code
}

// newCampaign is a valid create request named name.
func newCampaign(name string) map[string]any {
	return map[string]any{
		"name": name, "type": "PROMOTION", "startDate": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"budget": map[string]any{"amount": "500", "currency": "EUR"}, "settings": map[string]any{"channels": []string{"EMAIL"}},
	}
}

type event struct {
	Type          string     `json:"type"`
	Actor         *string    `json:"actor"`
	CorrelationID string     `json:"correlationId"`
	PublishedAt   *time.Time `json:"publishedAt"`
}

// A caller id that is not a UUID is the author and the actor as campaigns.ActorID maps it,
// and the request id is the correlation id of the events the request wrote.
func TestActorsAndCorrelationIDsReachTheRecords(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, dbtest.SQLiteTarget(t), campaigns.Config{})
	h := c.Handler("/api/v1")
	var created struct {
		ID        string `json:"id"`
		CreatedBy string `json:"createdBy"`
	}
	require.Equal(t, http.StatusCreated, post(t, h, "/api/v1/campaigns", "alice@example.com", "req-42", newCampaign("Actors"), &created))
	actor := campaigns.ActorID("alice@example.com").String()
	assert.Equal(t, actor, created.CreatedBy)
	assert.Equal(t, actor, campaigns.ActorID("alice@example.com").String(), "the same in every call")
	u := uuid.NewString()
	assert.Equal(t, u, campaigns.ActorID(u).String(), "a UUID is kept")

	var trail struct {
		Events []event `json:"events"`
	}
	require.Equal(t, http.StatusOK, get(t, h, "/api/v1/campaigns/"+created.ID+"/events", "bob", &trail))
	require.Len(t, trail.Events, 1)
	require.NotNil(t, trail.Events[0].Actor)
	assert.Equal(t, actor, *trail.Events[0].Actor)
	assert.Equal(t, "req-42", trail.Events[0].CorrelationID)
}

// Stop publishes what is committed, even written at the last moment, and gives the relay's
// lease up.
func TestStopPublishesTheOutbox(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, dbtest.SQLiteTarget(t), campaigns.Config{})
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))
	require.ErrorIs(t, c.Start(ctx), campaigns.ErrStarted)
	h := c.Handler("/api/v1")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			assert.Equal(t, http.StatusCreated, post(t, h, "/api/v1/campaigns", "writer", "", newCampaign(fmt.Sprintf("Last %d", i)), nil))
		})
	}
	wg.Wait()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, c.Stop(sctx))
	n, err := c.OutboxBacklog(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "no event is left behind")
	require.NoError(t, c.Stop(sctx), "a second Stop does nothing")
}

// Mounted on a host with the default Authorize (the role table), a viewer neither reads the
// customers a campaign reached nor exports the campaigns: each is a 403 naming the permission
// it lacks. An analyst reads both.
func TestViewerReadsNoAudienceAndExportsNothing(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, dbtest.SQLiteTarget(t), campaigns.Config{})
	h := c.Handler("/api/v1")
	var created struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusCreated, post(t, h, "/api/v1/campaigns", "alice", "", newCampaign("Audience guard"), &created))
	as := func(role auth.Role, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set(headerCaller, "someone")
		req.Header.Set(headerRoles, string(role))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for path, perm := range map[string]string{
		"/api/v1/campaigns/" + created.ID + "/audience":             "customers:read",
		"/api/v1/campaigns/export?format=csv&includeMetrics=true":   "campaigns:export",
		"/api/v1/campaigns/export?format=jsonl&includeMetrics=true": "campaigns:export",
	} {
		rec := as(auth.RoleViewer, path)
		assert.Equal(t, http.StatusForbidden, rec.Code, path)
		assert.Equal(t, httpx.ProblemContentType, rec.Header().Get("Content-Type"), path)
		assert.Contains(t, rec.Body.String(), perm, path)
		assert.NotContains(t, rec.Body.String(), "Audience guard", path)
		rec = as(auth.RoleAnalyst, path)
		assert.Equal(t, http.StatusOK, rec.Code, "analyst: %s: %s", path, rec.Body.String())
	}
}
