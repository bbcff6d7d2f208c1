package bunstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/lease"
)

// Member is worker id's membership in the group of aggregation workers that share the
// database, held for ttl after each beat (metrics.Member).
func (s *Store) Member(id string, ttl time.Duration) metrics.Member {
	return &group{db: s.db, id: id, ttl: ttl}
}

// Lease is this process's claim on the lease name, a row of metrics_leases, held for ttl after
// each renewal (metrics.Lease).
func (s *Store) Lease(name string, ttl time.Duration) metrics.Lease {
	return lease.New(s.db, "metrics_leases", name, lease.Config{TTL: ttl})
}

// group is a worker's membership in the group of aggregation workers that share a database:
// a row per live worker in metrics_workers, renewed while it runs and removed when it stops;
// a row not renewed within its TTL is a dead worker's.
type group struct {
	db  bun.IDB
	id  string
	ttl time.Duration
}

type workerRow struct {
	bun.BaseModel `bun:"table:metrics_workers"`

	ID        string    `bun:"id,pk"`
	ExpiresAt time.Time `bun:"expires_at"`
}

// Beat renews this worker's row and returns the ids of the live workers, sorted.
func (g *group) Beat(ctx context.Context, now time.Time) ([]string, error) {
	row := workerRow{ID: g.id, ExpiresAt: now.Add(g.ttl)}
	if _, err := g.db.NewInsert().Model(&row).On("CONFLICT (id) DO UPDATE").
		Set("expires_at = EXCLUDED.expires_at").Exec(ctx); err != nil {
		return nil, fmt.Errorf("metrics: group: renew: %w", err)
	}
	// Rows of workers dead for a while are swept by whoever sees them.
	if _, err := g.db.NewDelete().Model((*workerRow)(nil)).Where("expires_at < ?", now.Add(-g.ttl)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("metrics: group: sweep: %w", err)
	}
	var ids []string
	if err := g.db.NewSelect().Model((*workerRow)(nil)).Column("id").Where("expires_at > ?", now).
		Order("id").Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("metrics: group: members: %w", err)
	}
	if !slices.Contains(ids, g.id) { // a clock jump: count this worker in all the same
		ids = append(ids, g.id)
		slices.Sort(ids)
	}
	return ids, nil
}

// Leave removes this worker's row, so that the others take its partitions at once.
func (g *group) Leave(ctx context.Context) error {
	if _, err := g.db.NewDelete().Model((*workerRow)(nil)).Where("id = ?", g.id).Exec(ctx); err != nil {
		return fmt.Errorf("metrics: group: leave: %w", err)
	}
	return nil
}
