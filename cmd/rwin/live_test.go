package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/fixtures"
)

// runLive runs `rwin live ARGS` in-process and returns exit code, stdout
// and stderr.
func runLive(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(append([]string{"live"}, args...), nil, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestParseLive(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, o *liveOptions)
	}{
		{"interface only: headers-only snaplen, 4 MiB buffer, not promiscuous, idle 2m, linger 2s",
			[]string{"-i", "eth0"}, func(t *testing.T, o *liveOptions) {
				assert.Equal(t, "eth0", o.iface)
				assert.Equal(t, capture.DefaultLiveSnaplen, o.capture.Snaplen)
				assert.Equal(t, capture.DefaultLiveBuffer, o.capture.BufferSize)
				assert.False(t, o.capture.Promiscuous, "promiscuous only when asked")
				assert.Equal(t, analyze.DefaultIdleTimeout, o.cfg.IdleTimeout)
				assert.Equal(t, analyze.DefaultLiveLinger, o.cfg.Linger)
				assert.Equal(t, "text", o.format)
				assert.Empty(t, o.capture.Filter)
			}},
		{"trailing words are the filter, flags may follow them",
			[]string{"-i", "eth0", "tcp", "port", "3389", "-c", "100"}, func(t *testing.T, o *liveOptions) {
				assert.Equal(t, "tcp port 3389", o.capture.Filter)
				assert.Equal(t, uint64(100), o.count)
			}},
		{"tcpdump's capture flags",
			[]string{"-i", "eth0", "-s", "1500", "-B", "65536", "-p", "-f", "port 445", "-w", "out.pcap"}, func(t *testing.T, o *liveOptions) {
				assert.Equal(t, 1500, o.capture.Snaplen)
				assert.Equal(t, 64<<20, o.capture.BufferSize, "-B is in KiB, as for tcpdump")
				assert.True(t, o.capture.Promiscuous)
				assert.Equal(t, "port 445", o.capture.Filter)
				assert.Equal(t, "out.pcap", o.write)
			}},
		{"timers with double dashes",
			[]string{"-i", "eth0", "--duration", "30s", "--interval", "5s", "--idle", "10m", "--linger", "500ms"}, func(t *testing.T, o *liveOptions) {
				assert.Equal(t, 30*time.Second, o.duration)
				assert.Equal(t, 5*time.Second, o.interval)
				assert.Equal(t, 10*time.Minute, o.cfg.IdleTimeout)
				assert.Equal(t, 500*time.Millisecond, o.cfg.Linger)
			}},
		{"listing needs no interface", []string{"-D"}, func(t *testing.T, o *liveOptions) { assert.True(t, o.list) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			o, err := parseLive(tt.args, &stderr)
			require.NoError(t, err, stderr.String())
			tt.check(t, &o)
		})
	}
}

func TestLiveUsageErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no interface", nil, "rwin: live: no interface given: name one with -i ("},
		{"unknown format", []string{"-i", "lo", "--format", "xml"}, `rwin: live: unknown format "xml" (want text, json or ndjson)`},
		{"filter given twice", []string{"-i", "lo", "-f", "tcp", "port", "80"}, "rwin: live: give the filter either with -f or after the flags, not both"},
		{"snaplen zero", []string{"-i", "lo", "-s", "0"}, "rwin: live: snapshot length 0 out of range"},
		{"buffer zero", []string{"-i", "lo", "-B", "0"}, "rwin: live: buffer size 0 KiB out of range"},
		{"idle timeout zero", []string{"-i", "lo", "--idle", "0"}, "rwin: live: --idle must be positive"},
		{"negative duration", []string{"-i", "lo", "--duration", "-1s"}, "rwin: live: --duration and --interval cannot be negative"},
		{"pcap to standard output", []string{"-i", "lo", "-w", "-"}, "rwin: live: -w - is not supported"},
		{"bad color", []string{"-i", "lo", "--color", "pink"}, `rwin: unknown --color "pink"`},
		{"unknown flag", []string{"-i", "lo", "--frobnicate"}, "rwin: live: flag provided but not defined: -frobnicate (rwin live -h lists the flags)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runLive(tt.args...)
			assert.Equal(t, exitInput, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.stderr)
		})
	}
}

// TestLiveOpenErrors checks the one-line errors of a capture that cannot
// start, each with what to do about it.
func TestLiveOpenErrors(t *testing.T) {
	requireLive(t)
	t.Run("unknown interface lists the real ones", func(t *testing.T) {
		// Without root libpcap refuses the socket before it looks the
		// name up: the error must still say the name is wrong.
		code, _, stderr := runLive("-i", "rwin-nosuch0")
		assert.Equal(t, exitInput, code)
		assert.Regexp(t, `^rwin: live: rwin-nosuch0: no such interface; interfaces: .*\blo\b.*\n$`, stderr)
	})
	t.Run("invalid filter carries libpcap's message", func(t *testing.T) {
		fixtures.RequireRoot(t)
		code, _, stderr := runLive("-i", "lo", "tcp", "port", "banana")
		assert.Equal(t, exitInput, code)
		assert.Regexp(t, `^rwin: live: lo: invalid filter "tcp port banana": .*unknown port 'banana'\n$`, stderr)
	})
	t.Run("no permission says how to get it", func(t *testing.T) {
		err := liveOpenError(fmt.Errorf("live: eth0: %w (socket: Operation not permitted)", capture.ErrPermission))
		assert.ErrorIs(t, err, capture.ErrPermission)
		assert.Regexp(t, `^live: eth0: no permission to capture \(socket: Operation not permitted\): run as root, `+
			`or grant rwin the capture capability: sudo setcap cap_net_raw=eip \S+$`, err.Error())
	})
}

func TestLiveListsInterfaces(t *testing.T) {
	requireLive(t)
	code, stdout, stderr := runLive("-D")
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `(?m)^\d+\.lo \[Loopback, Up, Running.*\]$`, stdout)
	assert.Contains(t, stdout, "    127.0.0.1/8\n")
}

// syncBuffer is a bytes.Buffer safe to read while rwin writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLiveInProcess runs `rwin live ARGS` in a goroutine and waits until
// it listens; the channel yields its exit code.
func startLiveInProcess(t *testing.T, args ...string) (stdout, stderr *syncBuffer, code <-chan int) {
	t.Helper()
	requireLive(t)
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	c := make(chan int, 1)
	go func() { c <- run(append([]string{"live"}, args...), nil, stdout, stderr) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "listening on") {
		require.True(t, time.Now().Before(deadline), "rwin live did not start: %s", stderr)
		time.Sleep(10 * time.Millisecond)
	}
	return stdout, stderr, c
}

func waitExit(t *testing.T, code <-chan int) int {
	t.Helper()
	select {
	case c := <-code:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("rwin live did not stop")
	}
	return -1
}

// lastRecord decodes the last NDJSON line: the summary.
func lastRecord(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &m))
	require.Equal(t, "summary", m["type"])
	return m
}

func TestLiveStopsAfterCountOrDuration(t *testing.T) {
	requireLive(t)
	fixtures.RequireRoot(t)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer sink.Close()
	port := sink.LocalAddr().(*net.UDPAddr).Port
	filter := []string{"udp", "dst", "port", strconv.Itoa(port)}

	t.Run("-c stops after that many packets", func(t *testing.T) {
		stdout, stderr, code := startLiveInProcess(t, append([]string{"-i", "lo", "-c", "3", "--format", "ndjson"}, filter...)...)
		c, err := net.DialUDP("udp4", nil, sink.LocalAddr().(*net.UDPAddr))
		require.NoError(t, err)
		defer c.Close()
		for range 5 {
			c.Write([]byte("rwin"))
		}
		require.Equal(t, exitOK, waitExit(t, code), stderr.String())
		sum := lastRecord(t, stdout.String())
		assert.Equal(t, float64(3), sum["packets"])
		assert.Equal(t, float64(3), sum["skipped"], "UDP is counted, not analyzed")
		assert.Equal(t, "count", jsonAt(sum, "capture", "stopped"))
	})
	t.Run("--duration stops a quiet capture", func(t *testing.T) {
		start := time.Now()
		stdout, stderr, code := startLiveInProcess(t, append([]string{"-i", "lo", "--duration", "300ms", "--format", "ndjson"}, filter...)...)
		require.Equal(t, exitOK, waitExit(t, code), stderr.String())
		assert.Less(t, time.Since(start), 2*time.Second)
		sum := lastRecord(t, stdout.String())
		assert.Equal(t, float64(0), sum["packets"])
		assert.Equal(t, "duration", jsonAt(sum, "capture", "stopped"))
	})
}

// TestLiveIntervalAndFinalReport holds a connection open across the
// capture: the periodic summary shows it in progress, and the stop reports
// it as it stands.
func TestLiveIntervalAndFinalReport(t *testing.T) {
	requireLive(t)
	fixtures.RequireRoot(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	stdout, stderr, code := startLiveInProcess(t, "-i", "lo", "--interval", "200ms", "--duration", "900ms",
		"--color", "never", "tcp", "port", strconv.Itoa(port))
	c, err := net.Dial("tcp4", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	require.Equal(t, exitOK, waitExit(t, code), stderr.String())

	assert.Regexp(t, `— \d\d:\d\d:\d\d lo: 1 flow in progress; \d+ packets so far, 0 dropped by the kernel\n`+
		`\s+ID\s+CLIENT → SERVER.*\n\s+1\s+127\.0\.0\.1:\d+ → 127\.0\.0\.1:`+strconv.Itoa(port)+`\s.*complete`, stderr.String())
	out := stdout.String()
	assert.Regexp(t, `(?m)^\s+ID\s+CLIENT → SERVER`, out, "the table header comes first")
	assert.Contains(t, out, "— stopped (duration): the 1 flow not reported yet, as they stand —")
	assert.Regexp(t, `(?m)^\s+1\s+127\.0\.0\.1:\d+ → 127\.0\.0\.1:`+strconv.Itoa(port)+`\s+-\s+complete\s+\d+/\d+`, out)
	assert.Regexp(t, `(?m)^lo  \d+ packets, \d+ TCP, 1 flow, .*; stopped: duration$`, out)
	assert.Contains(t, out, "kernel: ")
	assert.Contains(t, out, "total: 1 flow; findings:")
}
