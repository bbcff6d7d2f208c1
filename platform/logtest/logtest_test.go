package logtest_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/engine-rules-sp/campaigns/platform/logtest"
)

// Lines written from many goroutines at once all arrive whole (go test -race checks the rest).
func TestBufferTakesConcurrentWrites(t *testing.T) {
	var buf logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				logger.Info("line", "g", g, "i", i)
				_ = buf.String()
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines, want 400", len(lines))
	}
	for _, l := range lines {
		if !strings.Contains(l, "msg=line") || strings.Count(l, "level=") != 1 {
			t.Fatalf("line cut or mixed: %q", l)
		}
	}
	if !strings.Contains(buf.String(), fmt.Sprintf("g=%d i=%d", 7, 49)) {
		t.Fatal("the last line of the last goroutine is missing")
	}
}
