package natstest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReadAll reads n messages of stream with one ordered consumer per filter set (a nil set reads
// the whole stream), doing nothing with them, and returns how long it took: the raw read that benchmarks
// compare a real consumer with.
func ReadAll(tb testing.TB, js jetstream.JetStream, stream string, filters [][]string, n int) time.Duration {
	tb.Helper()
	ctx := context.Background()
	var seen atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	for _, f := range filters {
		cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: f})
		if err != nil {
			tb.Fatal(err)
		}
		cc, err := cons.Consume(func(jetstream.Msg) {
			if seen.Add(1) == int64(n) {
				close(done)
			}
		}, jetstream.PullMaxMessages(1000))
		if err != nil {
			tb.Fatal(err)
		}
		defer cc.Stop()
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		tb.Fatalf("read %d of %d messages of %s in 5 minutes", seen.Load(), n, stream)
	}
	return time.Since(start)
}
