// Package datadir guards a data directory that belongs to one process at a time: the
// embedded NATS server's JetStream store under it must never be opened by two servers.
//
// The guard is an advisory lock (flock on Unix, LockFileEx on Windows) on a lock file in the
// directory. The operating system drops it when the process exits, however it exits, so a
// killed process leaves no stale lock behind; the file itself stays and means nothing alone.
package datadir

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the name of the lock file inside a data directory.
const LockFile = "campaigns.lock"

// Lock is this process's hold on a data directory.
type Lock struct {
	dir string
	f   *os.File
}

// InUseError says another process holds the data directory.
type InUseError struct {
	Dir string
	PID int // the holder's process id as it wrote it; 0 when unknown
}

func (e *InUseError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder += " (pid " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("data dir %s is in use by %s", e.Dir, holder)
}

// Acquire takes the data directory dir (creating it if needed) without waiting: it returns an
// *InUseError when another process holds it. The same process cannot hold it twice either.
func Acquire(dir string) (*Lock, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", abs, err)
	}
	path := filepath.Join(abs, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: open lock file: %w", abs, err)
	}
	held, err := tryLock(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("data dir %s: lock %s: %w", abs, path, err)
	}
	if !held {
		pid := readPID(path)
		_ = f.Close()
		return nil, &InUseError{Dir: abs, PID: pid}
	}
	// The pid is for the message another process prints; the lock is what counts.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{dir: abs, f: f}, nil
}

// Dir is the locked directory, absolute.
func (l *Lock) Dir() string { return l.dir }

// Release gives the directory up. The lock file stays: removing it would let a process that
// opened it just before lock a file no one else sees.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}
