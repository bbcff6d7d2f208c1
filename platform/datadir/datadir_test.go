package datadir_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/engine-rules-sp/campaigns/platform/datadir"
)

func TestOneHolderAtATime(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	l, err := datadir.Acquire(dir)
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(dir, datadir.LockFile))

	_, err = datadir.Acquire(dir)
	var inUse *datadir.InUseError
	require.ErrorAs(t, err, &inUse, "a second hold of a held data dir")
	assert.Equal(t, dir, inUse.Dir)
	assert.Equal(t, os.Getpid(), inUse.PID)
	assert.Contains(t, err.Error(), dir)

	require.NoError(t, l.Release())
	again, err := datadir.Acquire(dir)
	require.NoError(t, err, "released, the data dir is free")
	require.NoError(t, again.Release())
}

// helperEnv makes the test binary, run again, hold a data dir until it is killed.
const helperEnv = "DATADIR_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		if _, err := datadir.Acquire(dir); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("held")
		select {} // until killed
	}
	os.Exit(m.Run())
}

// A process killed while it holds the data dir does not block the next one: the operating
// system drops its lock, and the pid it left in the file does not count.
func TestKilledHolderLeavesNoStaleLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "held\n", line)

	_, err = datadir.Acquire(dir)
	var inUse *datadir.InUseError
	require.ErrorAs(t, err, &inUse)
	assert.Equal(t, cmd.Process.Pid, inUse.PID, "the message names the holder")

	require.NoError(t, cmd.Process.Kill())
	err = cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "the holder was killed: %v", err)

	l, err := datadir.Acquire(dir)
	require.NoError(t, err, "a killed holder's lock must not block")
	require.NoError(t, l.Release())
}
