package natsx

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxReplicas is the most copies JetStream keeps of a stream (a server refuses more).
const MaxReplicas = 5

// ErrReplicasNeedCluster: a stream was asked for more than one replica on a server that is
// not part of a JetStream cluster (a single server, or the embedded one). It does not pass
// with time: run a cluster, or ask for one replica.
var ErrReplicasNeedCluster = errors.New("more than one replica needs a JetStream cluster, and this server runs alone: set the replicas to 1, or run a cluster")

// ErrNotEnoughPeers: the cluster has fewer JetStream servers than the stream has replicas, so
// the stream cannot be placed: add servers to the cluster, or ask for fewer replicas.
var ErrNotEnoughPeers = errors.New("the JetStream cluster has fewer servers than the stream's replicas")

// Error codes of the JetStream API for the cases above (nats-server's errors.json).
const (
	errCodeReplicasNotSupported  jetstream.ErrorCode = 10074
	errCodeClusterNoPeers        jetstream.ErrorCode = 10005
	errCodeInsufficientResources jetstream.ErrorCode = 10023
)

// EnsureStream creates the stream cfg describes, or updates an existing one to cfg: every
// setting, its replicas included. The service owns its streams' settings, so the configured
// replicas win on every start: an R1 stream asked for 3 replicas becomes R3 online (the new
// replicas copy the stream from its leader while it keeps serving), and an R3 one asked for 1
// drops two. cfg.Replicas 0 means 1, as JetStream takes it.
//
// A server that cannot hold the replicas is refused with an error wrapping
// ErrReplicasNeedCluster (a single server) or ErrNotEnoughPeers (a cluster of fewer servers).
// While a cluster has lost the majority of its servers, the call waits for ctx's end: the
// cluster cannot answer.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	if cfg.Replicas < 0 || cfg.Replicas > MaxReplicas {
		return nil, fmt.Errorf("nats: stream %s: %d replicas: must be from 1 to %d", cfg.Name, cfg.Replicas, MaxReplicas)
	}
	s, err := js.CreateOrUpdateStream(ctx, cfg)
	if err == nil {
		return s, nil
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errCodeReplicasNotSupported:
			return nil, fmt.Errorf("nats: stream %s with %d replicas: %w (%w)", cfg.Name, cfg.Replicas, ErrReplicasNeedCluster, err)
		case errCodeClusterNoPeers, errCodeInsufficientResources:
			if cfg.Replicas > 1 {
				return nil, fmt.Errorf("nats: stream %s with %d replicas: %w (%w)", cfg.Name, cfg.Replicas, ErrNotEnoughPeers, err)
			}
		}
	}
	return nil, fmt.Errorf("nats: stream %s: %w", cfg.Name, err)
}
