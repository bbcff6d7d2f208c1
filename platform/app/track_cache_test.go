package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// longTTL keeps /track's cached tracking rules for a minute, so that only the invalidation
// can explain a change being seen at once.
func longTTL(cfg *config.Config) { cfg.Metrics.TrackCacheTTL = time.Minute }

// A change through the API is seen by the very next tracking request, however long the cache
// keeps the campaign otherwise: an edited variant list, then the deletion.
func TestTrackSeesChangesAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
		s := apptest.New(t, target, apptest.ServerConfig{Configure: longTTL})
		c := create(t, s, validBody("Cached "+target.Name))
		id := c["id"].(string)
		path := "/api/v1/campaigns/" + id
		clickB := map[string]any{"type": "CLICK", "variant": "B", "channel": "EMAIL"}
		requireStatus(t, track(s, id, clickB), http.StatusAccepted) // cached now

		// Variant B becomes C.
		edit := validBody("Cached " + target.Name)
		edit["settings"].(map[string]any)["abTestSettings"] = map[string]any{"enabled": true, "variants": []map[string]any{
			{"key": "A", "name": "Control", "weight": 50}, {"key": "C", "name": "Calm", "weight": 50}}}
		requireStatus(t, s.Do(http.MethodPut, path, edit, "If-Match", `"1"`), http.StatusOK)
		p := requireProblem(t, track(s, id, clickB), http.StatusUnprocessableEntity)
		assert.Contains(t, fieldsOf(p), "variant")
		requireStatus(t, track(s, id, map[string]any{"type": "CLICK", "variant": "C", "channel": "EMAIL"}), http.StatusAccepted)

		// A failed write (stale version) changes nothing: still tracked.
		requireProblem(t, s.Do(http.MethodDelete, path, nil, "If-Match", `"1"`), http.StatusPreconditionFailed)
		requireStatus(t, track(s, id, map[string]any{"type": "IMPRESSION"}), http.StatusAccepted)

		require.Equal(t, http.StatusNoContent, s.Do(http.MethodDelete, path, nil, "If-Match", `"2"`).Status)
		requireProblem(t, track(s, id, map[string]any{"type": "IMPRESSION"}), http.StatusNotFound)
	})
}

// A change made by another API instance reaches this one through the domain event its relay
// publishes, well before the cache's TTL.
func TestTrackSeesAnotherInstancesChange(t *testing.T) {
	t.Parallel()
	target := dbtest.PostgresTarget(t)
	ns := natstest.NewServer(t)
	shared := func(cfg *config.Config) {
		longTTL(cfg)
		cfg.NATS = config.NATS{URL: ns.URL()}
	}
	one := apptest.New(t, target, apptest.ServerConfig{Configure: shared})
	two := apptest.New(t, target, apptest.ServerConfig{Configure: shared})
	id := create(t, two, validBody("Seen Elsewhere"))["id"].(string)
	event := map[string]any{"type": "IMPRESSION", "variant": "A", "channel": "PUSH"}
	requireStatus(t, track(one, id, event), http.StatusAccepted) // cached by one

	require.Equal(t, http.StatusNoContent, two.Do(http.MethodDelete, "/api/v1/campaigns/"+id, nil, "If-Match", `"1"`).Status)
	// The worker's relay publishes the deletion (the test plays it).
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := two.API.Relay.Drain(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return track(one, id, event).Status == http.StatusNotFound },
		5*time.Second, 20*time.Millisecond, "instance one still tracks a campaign deleted by instance two")
}

// Without any notice (a row changed behind the service's back), the TTL bounds how long the
// old rules are used.
func TestTrackCacheExpires(t *testing.T) {
	t.Parallel()
	s := apptest.New(t, dbtest.SQLiteTarget(t), apptest.ServerConfig{Configure: func(cfg *config.Config) {
		cfg.Metrics.TrackCacheTTL = 300 * time.Millisecond
	}})
	id := create(t, s, validBody("Expires"))["id"].(string)
	event := map[string]any{"type": "IMPRESSION", "channel": "PUSH"}
	requireStatus(t, track(s, id, event), http.StatusAccepted)
	_, err := s.API.DB.NewUpdate().Table("campaigns").Set("deleted_at = ?", time.Now().UTC()).Where("id = ?", id).Exec(t.Context())
	require.NoError(t, err)
	start := time.Now()
	require.Eventually(t, func() bool { return track(s, id, event).Status == http.StatusNotFound },
		5*time.Second, 10*time.Millisecond)
	assert.Less(t, time.Since(start), 2*time.Second)
}
