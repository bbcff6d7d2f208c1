package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// The shared reader hands each runner every message of its partition after its position, in
// stream order and with no gap, however late the runner subscribes: after the reader has read
// past the partition's messages, from an older position again (a runner that starts over), or
// before anything is published. A runner skips what it has counted (as collect does), so
// repeats are allowed; a later message before an earlier one is not (the earlier one would be
// lost). Run on the embedded server and on the external one (NATS 2.9 where CI runs), each
// with a stream of its own.
func TestSharedReaderHandsEachPartitionItsMessagesInOrder(t *testing.T) {
	natstest.EachTarget(t, func(t *testing.T, target natstest.Target) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		nc := natstest.Connect(t, target)
		id := uuid.NewString()[:8]
		stream, prefix := "READER_"+id, "reader"+id+".tracking"
		_, err := nc.JS.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{prefix + ".*.*"},
			Storage: jetstream.FileStorage})
		require.NoError(t, err)
		t.Cleanup(func() { _ = nc.JS.DeleteStream(context.Background(), stream) })

		var mu sync.Mutex
		seqs := map[int][]uint64{} // each partition's stream sequences, in order
		publish := func(rounds int) {
			for range rounds {
				for p := range 3 { // partition 3 gets nothing
					// Under the lock until acknowledged: a runner that receives the message
					// reads its partition's sequences once it is recorded.
					mu.Lock()
					ack, err := nc.JS.Publish(ctx, prefix+"."+strconv.Itoa(p)+"."+uuid.NewString(), []byte(`{}`))
					if err == nil {
						seqs[p] = append(seqs[p], ack.Sequence)
					}
					mu.Unlock()
					require.NoError(t, err)
				}
			}
		}
		publish(40)

		r := newSharedReader(nc.JS, stream, prefix, slog.New(slog.DiscardHandler))
		done := make(chan struct{})
		go func() { defer close(done); r.run(ctx) }()
		defer func() { cancel(); <-done }()

		// follow reads a subscription as collect does (repeats skipped; any other message
		// must be the partition's next one after from) until stop is closed, and reports its
		// position on reached.
		type runner struct {
			stop    chan struct{}
			reached chan uint64
			failed  chan error
		}
		follow := func(p int, from uint64) *runner {
			rn := &runner{stop: make(chan struct{}), reached: make(chan uint64, 1000), failed: make(chan error, 1)}
			in, unsub := r.subscribe(p, from, rn.stop)
			go func() {
				defer unsub()
				pos := from
				for {
					select {
					case <-rn.stop:
						return
					case d := <-in:
						seq := d.meta.Sequence.Stream
						if d.err != nil || !d.shared || seq <= pos {
							if d.err != nil || !d.shared {
								rn.failed <- fmt.Errorf("partition %d: %v, shared %v", p, d.err, d.shared)
								return
							}
							continue
						}
						mu.Lock()
						var next uint64
						for _, s := range seqs[p] {
							if s > pos {
								next = s
								break
							}
						}
						mu.Unlock()
						if seq != next {
							rn.failed <- fmt.Errorf("partition %d: message %d came after %d, before %d", p, seq, pos, next)
							return
						}
						pos = seq
						rn.reached <- pos
					}
				}
			}()
			return rn
		}
		waitFor := func(rn *runner, p int, want uint64) {
			t.Helper()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case pos := <-rn.reached:
					if pos == want {
						return
					}
				case err := <-rn.failed:
					t.Fatal(err)
				case <-deadline:
					t.Fatalf("partition %d never reached message %d", p, want)
				}
			}
		}
		last := func(p int) uint64 { mu.Lock(); defer mu.Unlock(); return seqs[p][len(seqs[p])-1] }

		r0 := follow(0, 0)
		waitFor(r0, 0, last(0)) // the reader is past partitions 1 and 2 now

		// Partitions 1 and 2 subscribe while the reader hands out their newer messages: those
		// must wait for the older ones.
		published := make(chan struct{})
		go func() { defer close(published); publish(150) }()
		time.Sleep(20 * time.Millisecond)
		r1 := follow(1, 0)
		mu.Lock()
		from2 := seqs[2][19]
		mu.Unlock()
		r2 := follow(2, from2)
		<-published
		waitFor(r1, 1, last(1))
		waitFor(r2, 2, last(2))
		waitFor(r0, 0, last(0))

		// Partition 0 starts over from an older position, as a runner whose flush failed does.
		close(r0.stop)
		mu.Lock()
		from0 := seqs[0][9]
		mu.Unlock()
		r0 = follow(0, from0)
		waitFor(r0, 0, last(0))

		// Messages published after everyone subscribed; a partition with none meanwhile.
		r3 := follow(3, 0)
		publish(10)
		waitFor(r0, 0, last(0))
		waitFor(r1, 1, last(1))
		waitFor(r2, 2, last(2))
		select {
		case pos := <-r3.reached:
			t.Fatalf("partition 3 received message %d of another partition", pos)
		case err := <-r3.failed:
			t.Fatal(err)
		case <-time.After(100 * time.Millisecond):
		}
		for _, rn := range []*runner{r0, r1, r2, r3} {
			close(rn.stop)
		}
	})
}

// partitionOfSubject reads the partition of a stream subject and nothing else.
func TestPartitionOfSubject(t *testing.T) {
	for subject, want := range map[string]int{
		SubjectPrefix + ".0." + uuid.NewString(): 0, SubjectPrefix + ".15.x": 15,
		SubjectPrefix + ".1023.x": MaxPartitions - 1,
	} {
		p, ok := partitionOfSubject(SubjectPrefix, subject)
		require.True(t, ok, subject)
		require.Equal(t, want, p, subject)
	}
	for _, subject := range []string{"", SubjectPrefix, SubjectPrefix + ".x.y", SubjectPrefix + ".-1.y",
		SubjectPrefix + "." + strconv.Itoa(MaxPartitions) + ".y", SubjectPrefix + ".3", "other.1.y"} {
		_, ok := partitionOfSubject(SubjectPrefix, subject)
		require.False(t, ok, subject)
	}
}
