package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Store is what the Aggregator keeps in the database: each partition's position, committed
// with the counters it produced, and the leases and group membership through which workers
// share the partitions. metrics/bunstore implements it.
type Store interface {
	// Position is where a consumer stands: every stream message at or below it is counted (0
	// before its first commit).
	Position(ctx context.Context, consumer string) (uint64, error)
	// Positions returns the stored positions of the consumers whose name starts with prefix.
	Positions(ctx context.Context, prefix string) (map[string]uint64, error)
	// Commit adds the batch's counters and exposures and moves its consumer's position from
	// b.From to b.To, in one transaction: the counters land exactly when the position says
	// they did. A stored position other than b.From fails with ErrPositionMoved and writes
	// nothing. With b.Fence, the same transaction checks that the partition's lease is still
	// held under it (nobody took it over since), and fails with ErrFenced and writes nothing
	// when it is not (that before ErrPositionMoved). A total the database refuses (beyond the 64-bit range)
	// fails with an error that sqlerr.IsDataRefused recognises, and writes nothing.
	Commit(ctx context.Context, b Batch, now time.Time) error
	// Refused finds the contributions that the database refuses when they are added, in order,
	// to the stored totals, and writes nothing.
	Refused(ctx context.Context, items []Contribution, now time.Time) ([]Refusal, error)
	// Lease is this process's claim on the lease name, held for ttl after each renewal.
	Lease(name string, ttl time.Duration) Lease
	// Member is worker id's membership in the group of workers that share the database, held
	// for ttl after each beat.
	Member(id string, ttl time.Duration) Member
}

// Lease is one process's claim on a named lease (platform/lease).
type Lease interface {
	// Hold takes the lease or renews it, and reports whether this process holds it.
	Hold(ctx context.Context) (bool, error)
	// Fence is this process's current tenure of the lease, false when it does not hold it.
	Fence() (Fence, bool)
	// Confirm reports whether this process still holds the lease under f with at least margin
	// of it left (renewing it under the same token when it cannot tell).
	Confirm(ctx context.Context, f Fence, margin time.Duration) (bool, error)
	// Release gives the lease up, so that another process takes it at once.
	Release(ctx context.Context) error
}

// Fence is one tenure of a partition's lease: the lease, its holder and its fencing token (the
// lease's generation, which grows each time another worker takes it). A flush carries the
// fence of the tenure it was read under, and the store refuses it once that tenure is over.
type Fence struct {
	Name, Holder string
	Token        int64
}

// ErrFenced: the partition's lease expired or went to another worker since the batch was read;
// its counters must not land, and the worker drops the partition.
var ErrFenced = errors.New("metrics: the partition's lease is no longer held")

// Member is a worker's place in the group of aggregation workers that share a database: renewed
// while it runs and removed when it stops; one not renewed within its TTL is a dead worker's.
type Member interface {
	// Beat renews this worker's place at now and returns the ids of the live workers, sorted
	// (this one among them).
	Beat(ctx context.Context, now time.Time) ([]string, error)
	// Leave removes this worker, so that the others take its partitions at once.
	Leave(ctx context.Context) error
}

// Key is one hourly rollup: a campaign, the UTC hour its events occurred in, a variant, a
// channel and the personalization rule the events name ("" when absent). The store derives the
// daily rollups and the all-time totals from it.
type Key struct {
	CampaignID      uuid.UUID
	Hour            time.Time // the start of a UTC hour (HourOf)
	Variant         string
	Channel         string
	Personalization string // a personalization rule id of the campaign, or ""
}

// HourOf is the start of t's UTC hour, the form of Key.Hour. Keys built with it compare equal
// (as map keys too) whenever their hours are the same.
func HourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// ErrPositionMoved: another worker committed past this batch; its counters must not land.
var ErrPositionMoved = errors.New("metrics: the consumer position moved on")

// Batch is what one flush commits.
type Batch struct {
	Consumer string
	From, To uint64 // stream sequences: the stored position must be From; it becomes To
	Rollups  map[Key]Totals
	// Exposures are the batch's impressions that carry a customerId, one per campaign and
	// customer; the customers new to a campaign add to the reach of their Key's rollups.
	Exposures    []Exposure
	Processed    int64
	DeadLettered int64
	// Fence is the tenure of the partition's lease the batch was read under; nil: unfenced
	// (Drain, which takes no lease: the position guard alone keeps it exact).
	Fence *Fence
}

// Contribution is one event's share of the rollups.
type Contribution struct {
	Key    Key
	Totals Totals
}

// Refusal is a contribution the database refuses, by its index, and why.
type Refusal struct {
	Index int
	Err   error
}

// Row is one rollup row read back. Key.Hour is the start of its period: the hour of an hourly
// row, midnight (UTC) of a daily row's day, zero for all-time totals.
type Row struct {
	Key
	Totals
	UpdatedAt time.Time
	// SquaresKnown (all-time totals only) is false when revenue was counted before the
	// revenue squares were kept: Totals.RevenueSquares then misses those conversions.
	SquaresKnown bool
}

// Exposure is what one batch adds to a customer's exposure to a campaign: its impressions
// that carry the customer's id.
type Exposure struct {
	// Key is the rollup of the customer's earliest impression in the batch: when the customer
	// is new to the campaign, its reach counts there (and its variant is the customer's).
	Key         Key
	CustomerID  string
	Impressions int64
	First, Last time.Time // the batch's earliest and latest occurredAt
}

// CustomerExposure is a customer's exposure to a campaign, as counted so far.
type CustomerExposure struct {
	CampaignID  uuid.UUID
	CustomerID  string
	Variant     string // the variant of the customer's first counted impression ("" for none)
	Impressions int64
	First, Last time.Time // the earliest and latest occurredAt of those impressions
}
