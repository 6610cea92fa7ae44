package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/fixtures"
	"rwin/rules"
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
		{"no interface", nil, "Usage: rwin live -i IFACE"},
		{"unknown format", []string{"-i", "lo", "--format", "xml"}, `rwin: live: unknown format "xml" (want text, json or ndjson)`},
		{"filter given twice", []string{"-i", "lo", "-f", "tcp", "port", "80"}, "rwin: live: give the filter either with -f or after the flags, not both"},
		{"snaplen zero", []string{"-i", "lo", "-s", "0"}, "rwin: live: snapshot length 0 out of range"},
		{"buffer zero", []string{"-i", "lo", "-B", "0"}, "rwin: live: buffer size 0 KiB out of range"},
		{"idle timeout zero", []string{"-i", "lo", "--idle", "0"}, "rwin: live: --idle must be positive"},
		{"negative duration", []string{"-i", "lo", "--duration", "-1s"}, "rwin: live: --duration and --interval cannot be negative"},
		{"pcap to standard output", []string{"-i", "lo", "-w", "-"}, "rwin: live: -w - is not supported"},
		{"bad color", []string{"-i", "lo", "--color", "pink"}, `rwin: unknown --color "pink"`},
		{"unknown flag", []string{"-i", "lo", "--frobnicate"}, "flag provided but not defined: -frobnicate"},
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
			`or grant rwin the capture capabilities: sudo setcap cap_net_raw,cap_net_admin=eip \S+$`, err.Error())
	})
}

func TestLiveListsInterfaces(t *testing.T) {
	code, stdout, stderr := runLive("-D")
	require.Equal(t, exitOK, code, stderr)
	assert.Regexp(t, `(?m)^\d+\.lo \[Loopback, Up, Running.*\]$`, stdout)
	assert.Contains(t, stdout, "    127.0.0.1/8\n")
}

func TestDropsWeakenTheirConclusions(t *testing.T) {
	assert.Empty(t, dropsWeaken(capture.LiveStats{Received: 100}))
	for _, st := range []capture.LiveStats{{Received: 100, Dropped: 1}, {Received: 100, IfDropped: 3}} {
		got := strings.Join(dropsWeaken(st), "\n")
		for _, what := range []string{"rtt:", "in-flight:", "inferred-shift:", "retransmissions:", "handshake:"} {
			assert.Contains(t, got, what)
		}
	}
}

func TestIntervalShowsWorstWindowsFirst(t *testing.T) {
	rec := func(id uint64, sev int, medians ...uint64) flowRecord {
		r := flowRecord{ID: id, RWIN: map[string]rwinRec{}}
		if sev >= 0 {
			r.find = []rules.Finding{{Severity: rules.Severity(sev)}}
		}
		for i, m := range medians {
			r.RWIN[[]string{"client", "server"}[i]] = rwinRec{Median: ptr(m)}
		}
		return r
	}
	recs := []flowRecord{
		rec(1, -1),                      // nothing known
		rec(2, -1, 1<<20, 1<<20),        // healthy
		rec(3, -1, 1<<20, 256),          // a 256-byte window
		rec(4, int(rules.Warn), 65535),  // a finding outranks any window
		rec(5, int(rules.Error), 1<<30), // the worst finding first
		rec(6, -1, 8192),
	}
	sortWorstFirst(recs)
	var order []uint64
	for _, r := range recs {
		order = append(order, r.ID)
	}
	assert.Equal(t, []uint64{5, 4, 3, 6, 2, 1}, order)
}
