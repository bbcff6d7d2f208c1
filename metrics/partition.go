package metrics

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engine-rules-sp/campaigns/platform/natsx"
)

// Subjects of the tracking streams.
//
// Tracking events are spread over P partitions by campaign id: partition
// fnv32a(campaignId) mod P, the hash NATS's own partition() subject mapping uses. A partition
// is the subject campaigns.tracking.<partition>.<campaignId>; each one is counted by one
// worker at a time, in stream order.
const (
	SubjectPrefix = "campaigns.tracking"
	// DeadLetterSubj holds the events that cannot be counted, in their own stream (the tracking
	// stream's name + "_DLQ"), with the headers below.
	DeadLetterSubj   = "campaigns.dlq.tracking"
	HeaderDLQReason  = "Dlq-Reason"
	HeaderDLQSubject = "Dlq-Subject"
	HeaderDLQSeq     = "Dlq-Stream-Seq"
)

// DefaultPartitions is P unless configured; MaxPartitions bounds it.
const (
	DefaultPartitions = 16
	MaxPartitions     = 1024
)

// Partition is the partition of a campaign's events among partitions: fnv32a of the
// campaign id's canonical text, modulo partitions. It equals NATS's
// {{partition(partitions,1)}} on campaigns.tracking.<campaignId>.
func Partition(campaignID uuid.UUID, partitions int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(campaignID.String()))
	return int(h.Sum32() % uint32(partitions))
}

// PartitionSubject is the subject a campaign's tracking events are stored on.
func PartitionSubject(campaignID uuid.UUID, partitions int) string {
	return SubjectPrefix + "." + strconv.Itoa(Partition(campaignID, partitions)) + "." + campaignID.String()
}

// Subject is the subject producers may publish a campaign's tracking events on without
// knowing P, where the NATS server maps subjects in streams (2.10 and later): the stream
// stores them on their partition's subject. On older servers publish on PartitionSubject.
func Subject(campaignID uuid.UUID) string { return SubjectPrefix + "." + campaignID.String() }

// partitionFilter is the subject filter of partition p.
func partitionFilter(p int) string { return SubjectPrefix + "." + strconv.Itoa(p) + ".*" }

// StreamConfig describes the tracking stream.
type StreamConfig struct {
	Name            string        // the stream (CAMPAIGN_TRACKING); the dead letters go to Name_DLQ
	MaxAge          time.Duration // retention (7 days)
	DuplicateWindow time.Duration // how long a resent eventId is recognised (10m)
	Partitions      int           // P (DefaultPartitions)
	// Replicas is how many servers of a JetStream cluster keep a copy of the stream and of its
	// dead letters: 1 to natsx.MaxReplicas (1). More than one needs a cluster; an existing
	// stream is brought to it (see natsx.EnsureStream).
	Replicas int
}

// withDefaults fills the zero fields of c.
func (c StreamConfig) withDefaults() StreamConfig {
	c.Name = cmp.Or(c.Name, "CAMPAIGN_TRACKING")
	c.MaxAge = cmp.Or(c.MaxAge, 7*24*time.Hour)
	c.DuplicateWindow = cmp.Or(c.DuplicateWindow, 10*time.Minute)
	c.Partitions = cmp.Or(c.Partitions, DefaultPartitions)
	c.Replicas = cmp.Or(c.Replicas, 1)
	return c
}

// deadLetterStream is the stream of the dead letters.
func (c StreamConfig) deadLetterStream() string { return c.Name + "_DLQ" }

// EnsureStream creates or updates the tracking stream and its dead-letter stream, with
// cfg.Replicas replicas each (natsx.EnsureStream says what an update does and which errors a
// server that cannot hold them gives).
//
// The tracking stream holds campaigns.tracking.<partition>.<campaignId>. On NATS 2.10 and
// later it also takes campaigns.tracking.<campaignId> and maps it to the partition's subject
// (a subject transform), so that producers need not know P; on 2.9 that subject has no stream
// and a JetStream publish to it fails at once rather than being lost.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) error {
	cfg = cfg.withDefaults()
	if cfg.Partitions < 1 {
		return errors.New("metrics: the tracking stream needs at least one partition")
	}
	sc := jetstream.StreamConfig{
		Name: cfg.Name, Subjects: []string{SubjectPrefix + ".*.*"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxAge: cfg.MaxAge, Duplicates: cfg.DuplicateWindow,
		Replicas: cfg.Replicas,
	}
	if serverAtLeast(js, 2, 10) {
		sc.Subjects = append(sc.Subjects, SubjectPrefix+".*")
		sc.SubjectTransform = &jetstream.SubjectTransformConfig{
			Source:      SubjectPrefix + ".*",
			Destination: fmt.Sprintf("%s.{{partition(%d,1)}}.{{wildcard(1)}}", SubjectPrefix, cfg.Partitions),
		}
	}
	if _, err := natsx.EnsureStream(ctx, js, sc); err != nil {
		return fmt.Errorf("metrics: tracking stream: %w", err)
	}
	_, err := natsx.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name: cfg.deadLetterStream(), Subjects: []string{DeadLetterSubj}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxAge: cfg.MaxAge, Duplicates: cfg.DuplicateWindow,
		Replicas: cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("metrics: dead-letter stream: %w", err)
	}
	return nil
}

// serverAtLeast reports whether the connected NATS server is major.minor or later.
func serverAtLeast(js jetstream.JetStream, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(js.Conn().ConnectedServerVersion(), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// lastSeq is the stream sequence of the last message on filter, 0 when there is none.
func lastSeq(ctx context.Context, js jetstream.JetStream, stream, filter string) (uint64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("metrics: stream %s: %w", stream, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("metrics: last message on %s: %w", filter, err)
	}
	return m.Sequence, nil
}
