package campaigns_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/campaigns"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// The service runs the same on every driver it supports: SQLite (modernc), PostgreSQL through
// pgx's database/sql driver and through Bun's pgdriver. Each is driven through the HTTP API:
// create, the 409 of a taken name, the prepared reads of a campaign and of a page of them, a
// lifecycle action, tracking counted by the aggregator, and the events published by the relay.
func TestEverySupportedDriver(t *testing.T) {
	t.Parallel()
	for _, target := range []func(testing.TB) dbtest.Target{dbtest.SQLiteTarget, dbtest.PostgresTarget, dbtest.PgdriverTarget} {
		tg := target(t)
		t.Run(tg.Name, func(t *testing.T) {
			t.Parallel()
			c, _ := newClient(t, tg, campaigns.Config{AllowUntargeted: true})
			ctx := context.Background()
			require.NoError(t, c.Start(ctx))
			t.Cleanup(func() { _ = c.Stop(context.Background()) })
			h := c.Handler("/api/v1")

			var created struct {
				ID string `json:"id"`
			}
			require.Equal(t, http.StatusCreated, post(t, h, "/api/v1/campaigns", "writer", "", newCampaign("Driver test"), &created))
			assert.Equal(t, http.StatusConflict, post(t, h, "/api/v1/campaigns", "writer", "", newCampaign("DRIVER TEST"), nil),
				"a taken name, compared without case")
			var one struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			}
			require.Equal(t, http.StatusOK, get(t, h, "/api/v1/campaigns/"+created.ID, "reader", &one))
			assert.Equal(t, "Driver test", one.Name)
			var page struct {
				Campaigns []struct {
					ID string `json:"id"`
				} `json:"campaigns"`
			}
			require.Equal(t, http.StatusOK, get(t, h, "/api/v1/campaigns?limit=10", "reader", &page))
			require.Len(t, page.Campaigns, 1)
			assert.Equal(t, created.ID, page.Campaigns[0].ID)

			// Started a minute ago (within the clock-skew allowance), so that it serves now.
			body := newCampaign("Serving now")
			body["startDate"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
			var live struct {
				ID string `json:"id"`
			}
			require.Equal(t, http.StatusCreated, post(t, h, "/api/v1/campaigns", "writer", "", body, &live))
			require.Equal(t, http.StatusOK, post(t, h, "/api/v1/campaigns/"+live.ID+"/activate", "manager", "", map[string]any{}, nil))
			// One customer twice: the exposure upsert, on each driver, finds it new exactly once.
			events := []map[string]any{{"type": "IMPRESSION", "customerId": "c-1"}, {"type": "IMPRESSION", "customerId": "c-1"}, {"type": "CLICK"}}
			require.Equal(t, http.StatusAccepted, post(t, h, "/api/v1/campaigns/"+live.ID+"/track", "tracker", "", map[string]any{"events": events}, nil))
			require.Eventually(t, func() bool {
				var m struct {
					Impressions int64 `json:"impressions"`
					Clicks      int64 `json:"clicks"`
					Reach       int64 `json:"reach"`
				}
				return get(t, h, "/api/v1/campaigns/"+live.ID+"/metrics", "reader", &m) == http.StatusOK &&
					m.Impressions == 2 && m.Clicks == 1 && m.Reach == 1
			}, 30*time.Second, 50*time.Millisecond, "the aggregator counts the tracked events")
			require.Eventually(t, func() bool {
				var trail struct {
					Events []event `json:"events"`
				}
				if get(t, h, "/api/v1/campaigns/"+live.ID+"/events", "reader", &trail) != http.StatusOK || len(trail.Events) != 2 {
					return false
				}
				for _, e := range trail.Events {
					if e.PublishedAt == nil {
						return false
					}
				}
				return true
			}, 30*time.Second, 50*time.Millisecond, "the relay publishes the events")
		})
	}
}
