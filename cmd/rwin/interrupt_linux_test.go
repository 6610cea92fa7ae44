package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadReportsWhatItReadWhenStopped: tcpdump -w - | rwin read - ends
// with Ctrl-C or a kill; the flows read so far are still printed with the
// summary, and the exit code is the shell's for that signal.
func TestReadReportsWhatItReadWhenStopped(t *testing.T) {
	capture, err := os.ReadFile(fixtureCapture(t, "port-reuse.pcap"))
	require.NoError(t, err)
	bin := rwinBinary(t)
	for _, c := range []struct {
		name string
		sig  syscall.Signal
		code int
	}{
		{"ctrl-c", syscall.SIGINT, 130},
		{"kill", syscall.SIGTERM, 143},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			require.NoError(t, err)
			defer w.Close()
			cmd := exec.Command(bin, "read", "-")
			var out, errOut bytes.Buffer
			cmd.Stdin, cmd.Stdout, cmd.Stderr = r, &out, &errOut
			require.NoError(t, cmd.Start())
			_, err = w.Write(capture) // the pipe stays open: more may come
			require.NoError(t, err)
			waitDrained(t, r)
			waitIdle(t, cmd.Process.Pid) // the packets through the analysis
			require.NoError(t, cmd.Process.Signal(c.sig))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("rwin read did not stop on the signal")
			}
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "exit: %v", err)
			assert.Equal(t, c.code, exit.ExitCode())
			assert.Contains(t, out.String(), "-  76 packets, 76 TCP, 2 flows")
			assert.Contains(t, out.String(), "total: 76 packets, 76 TCP, 2 flows")
			assert.Contains(t, errOut.String(), "rwin: stopped by "+map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[c.sig])
			assert.NotContains(t, out.String()+errOut.String(), "cut short")
		})
	}
}

// waitDrained waits until the process at the other end of the pipe has
// read everything written to it.
func waitDrained(t *testing.T, r *os.File) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int32
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, r.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
		require.Zero(t, errno, "FIONREAD")
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("rwin read did not read its input")
}

// waitIdle waits until every thread of process pid sleeps and none used
// CPU time for 100 ms: rwin has analyzed what it read and waits for more.
// A fixed sleep is not enough on a loaded machine.
func waitIdle(t *testing.T, pid int) {
	t.Helper()
	busy := func() (running bool, ticks uint64) {
		stats, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "stat"))
		for _, name := range stats {
			b, err := os.ReadFile(name)
			if err != nil {
				continue // the thread ended
			}
			// The fields after the command's closing parenthesis: state
			// first, utime and stime 12th and 13th (proc(5)).
			f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
			running = running || f[0] == "R"
			u, _ := strconv.ParseUint(f[11], 10, 64)
			s, _ := strconv.ParseUint(f[12], 10, 64)
			ticks += u + s
		}
		return running, ticks
	}
	deadline := time.Now().Add(10 * time.Second)
	_, last := busy()
	quiet := 0
	for time.Now().Before(deadline) && quiet < 5 {
		time.Sleep(20 * time.Millisecond)
		running, ticks := busy()
		if running || ticks != last {
			quiet = 0
		} else {
			quiet++
		}
		last = ticks
	}
	require.Equal(t, 5, quiet, "rwin read never went idle")
}
