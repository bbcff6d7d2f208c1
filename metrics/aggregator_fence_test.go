package metrics_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
)

// A worker that stalls with a batch in hand (a long GC, a stopped host: neither its runner nor
// its renewals move) until its partition's lease has expired and another worker has taken the
// partition over and counted the batch has its flush refused when it resumes, whether it
// stalled before its check of the lease or after it (then the flush's transaction refuses it):
// it drops the batch and the partition. Every event is counted exactly once.
func TestFaultAStalledWorkersFlushIsFenced(t *testing.T) {
	for _, stage := range []string{"before the lease check", "after the lease check"} {
		t.Run(stage, func(t *testing.T) {
			dbtest.EachTarget(t, func(t *testing.T, target dbtest.Target) {
				env := newAggEnv(t, target)
				cfg := env.config()
				cfg.LeaseTTL = time.Second
				cfg.MaxWait = 50 * time.Millisecond
				p := metrics.Partition(env.campaign, cfg.Stream.Partitions)

				var armed, stalled atomic.Bool
				paused, resume := make(chan struct{}), make(chan struct{})
				var resumeOnce sync.Once
				release := func() { resumeOnce.Do(func() { close(resume) }) }
				name := fmt.Sprintf("%s.p%d", cfg.Consumer, p)
				stall := func(consumer string) {
					if consumer == name && armed.CompareAndSwap(true, false) {
						stalled.Store(true)
						close(paused)
						<-resume
					}
				}
				refused := make(chan error, 1)
				hooks := metrics.PauseHooks{
					BeforeRebalance: func() {
						if stalled.Load() {
							<-resume
						}
					},
					Flushed: func(consumer string, err error) {
						if consumer == name && stalled.CompareAndSwap(true, false) {
							refused <- err
						}
					},
				}
				if stage == "before the lease check" {
					hooks.BeforeCheck = stall
				} else {
					hooks.AfterCheck = stall
				}
				a := env.startWorkerWith(cfg, hooks)
				t.Cleanup(release) // before a's shutdown (cleanups run last first)
				require.Equal(t, name, a.a.PositionName(p))
				require.Eventually(t, func() bool { return slices.Contains(a.a.Owned(), p) }, 20*time.Second, 10*time.Millisecond)

				countedIs := func(want int64, msg string) {
					t.Helper()
					require.Eventually(t, func() bool {
						n, _ := env.counted(cfg.Consumer)
						return n == want
					}, 60*time.Second, 10*time.Millisecond, msg)
				}
				env.publish(10)
				countedIs(10, "the first worker counts")

				armed.Store(true)
				env.publish(20)
				select {
				case <-paused:
				case <-time.After(20 * time.Second):
					t.Fatal("the first worker never flushed the partition")
				}
				b := env.startWorker(cfg)
				countedIs(30, "the second worker takes the partition over once the stalled one's lease expired")
				assert.Contains(t, b.a.Owned(), p)

				release()
				select {
				case err := <-refused:
					require.ErrorIs(t, err, metrics.ErrFenced, "the stalled worker's flush is refused")
				case <-time.After(20 * time.Second):
					t.Fatal("the stalled worker never finished its flush")
				}
				env.publish(15)
				countedIs(45, "the workers share the partitions again and count on")
				time.Sleep(300 * time.Millisecond) // a flush that should not happen has time to land
				a.shutdown()
				b.shutdown()

				processed, dead := env.counted(cfg.Consumer)
				assert.EqualValues(t, 45, processed, "no event lost or counted twice")
				assert.Zero(t, dead)
				assert.EqualValues(t, 45, env.impressions(), "the rollups count each impression once")
				pos, err := env.store.Position(env.ctx, name)
				require.NoError(t, err)
				assert.EqualValues(t, 45, pos, "the partition's position is the stream's last message")
			})
		})
	}
}
