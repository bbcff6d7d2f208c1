package bunstore

import (
	"context"
	"errors"
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

// leaseTable holds the partitions' leases.
const leaseTable = "metrics_leases"

// Lease is this process's claim on the lease name, a row of metrics_leases, held for ttl after
// each renewal (metrics.Lease). Its fences are what Commit checks.
func (s *Store) Lease(name string, ttl time.Duration) metrics.Lease {
	return partitionLease{lease.New(s.db, leaseTable, name, lease.Config{TTL: ttl})}
}

// partitionLease is a platform/lease lease with the metrics package's fences.
type partitionLease struct{ *lease.Lease }

func (l partitionLease) Fence() (metrics.Fence, bool) {
	f, ok := l.Lease.Fence()
	return metrics.Fence{Name: f.Name, Holder: f.Holder, Token: f.Token}, ok
}

func (l partitionLease) Confirm(ctx context.Context, f metrics.Fence, margin time.Duration) (bool, error) {
	return l.Lease.Confirm(ctx, leaseFence(f), margin)
}

// leaseFence is f as platform/lease checks it.
func leaseFence(f metrics.Fence) lease.Fence {
	return lease.Fence{Table: leaseTable, Name: f.Name, Holder: f.Holder, Token: f.Token}
}

// checkFence fails with metrics.ErrFenced unless the partition's lease still names f's holder
// and token, as tx sees it (see lease.Fence.Check: on PostgreSQL the lease row stays
// share-locked until tx ends, so it runs last).
func checkFence(ctx context.Context, tx bun.IDB, f metrics.Fence) error {
	err := leaseFence(f).Check(ctx, tx)
	if errors.Is(err, lease.ErrFenced) {
		return fmt.Errorf("%w: %w", metrics.ErrFenced, err)
	}
	return err
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
