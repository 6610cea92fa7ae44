package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
	"rwin/fixtures/bench/traffic"
)

func TestProgressIsSilentOffATerminal(t *testing.T) {
	var stderr bytes.Buffer
	p := startProgress(&stderr, []string{"x.pcap"})
	require.Nil(t, p, "a buffer is not a terminal")
	src, err := capture.NewReader(bytes.NewReader(nil), "x")
	require.Error(t, err)
	assert.Nil(t, p.source("x", src), "a nil progress leaves the source as it is")
	p.stop()
	assert.Empty(t, stderr.String())
}

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		name         string
		total, bytes int64
		packets      int64
		elapsed      time.Duration
		want         string
	}{
		{"file of known size", 862e6, 431e6, 4_200_000, 2 * time.Second,
			"rwin: reading 2 files: 50% of 862 MB, 4.20M packets, 2.10M packets/s, 216 MB/s"},
		{"standard input", 0, 12e6, 95_000, time.Second,
			"rwin: reading 2 files: 12 MB, 95.0k packets, 95.0k packets/s, 12 MB/s"},
		{"nothing read yet", 1e9, 0, 0, time.Second,
			"rwin: reading 2 files: 0% of 1.0 GB, 0 packets, 0 packets/s, 0 B/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &progress{what: "2 files", total: tc.total}
			p.bytes.Store(tc.bytes)
			p.packets.Store(tc.packets)
			assert.Equal(t, tc.want, p.line(tc.elapsed))
		})
	}
}

// TestProgressCountsWhatIsRead draws the line as often as it can while a
// capture is read through it, and erases it at the end.
func TestProgressCountsWhatIsRead(t *testing.T) {
	name := filepath.Join(t.TempDir(), "mix.pcap")
	f, err := os.Create(name)
	require.NoError(t, err)
	cfg := traffic.Bench()
	cfg.Packets = 50_000
	_, err = traffic.Write(f, cfg)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	var out syncBuffer
	p := newProgress(&out, []string{name}, 0, time.Millisecond)
	src, err := capture.Open(name)
	require.NoError(t, err)
	src = p.source(name, src)
	var pkt capture.Packet
	for src.Next(&pkt) == nil {
	}
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "100% of") }, 5*time.Second, time.Millisecond)
	p.stop()
	got := out.String()
	assert.Contains(t, got, "rwin: reading "+name+": ")
	assert.Contains(t, got, "50.0k packets")
	assert.True(t, strings.HasSuffix(got, "\r\x1b[K"), "the line is erased before the results: %q", got[max(0, len(got)-40):])
	assert.Equal(t, int64(50_000), p.packets.Load())
}
