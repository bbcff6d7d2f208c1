// Package logtest gives tests a place for the logs a component writes from its own goroutines
// while the test reads them.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer that goroutines may write to while a test reads what was written.
// Its zero value is empty and ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
