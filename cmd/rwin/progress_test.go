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

	"rwin/analyze"
	"rwin/analyze/pathdiff"
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
			p := &progress{what: "2 files", total: tc.total, passes: 1}
			p.bytes.Store(tc.bytes)
			p.packets.Store(tc.packets)
			assert.Equal(t, tc.want, p.line(tc.elapsed))
		})
	}
}

// TestDiffProgressLine: rwin diff reads both captures once a pass; the
// line says which pass and how far into it.
func TestDiffProgressLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		passes int
		bytes  int64
		want   string
	}{
		{"half the first pass", 2, 431e6,
			"rwin: diff, pass 1 of 2: 50% of 862 MB, 4.20M packets, 216 MB/s"},
		{"first pass done: the pairing runs", 2, 862e6,
			"rwin: diff, pass 1 of 2: 100% of 862 MB, 4.20M packets, 431 MB/s"},
		{"the second pass's first packet", 2, 862e6 + 100,
			"rwin: diff, pass 2 of 2: 0% of 862 MB, 4.20M packets, 431 MB/s"},
		{"a quarter of the second pass", 2, 862e6 + 215.5e6,
			"rwin: diff, pass 2 of 2: 25% of 862 MB, 4.20M packets, 539 MB/s"},
		{"the last pass done", 2, 2 * 862e6,
			"rwin: diff, pass 2 of 2: 100% of 862 MB, 4.20M packets, 862 MB/s"},
		{"the charts' pass of --format html", 3, 2*862e6 + 431e6,
			"rwin: diff, pass 3 of 3: 50% of 862 MB, 4.20M packets, 1.1 GB/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &progress{total: 862e6, passes: tc.passes}
			p.bytes.Store(tc.bytes)
			p.packets.Store(4_200_000)
			assert.Equal(t, tc.want, p.line(2*time.Second))
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
	p := newProgress(&out, filesShown([]string{name}), []string{name}, 1, 0, time.Millisecond)
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

// TestDiffProgressFollowsBothPasses: the progress line of rwin diff counts
// both captures once a pass, through the openers the diff reads them with,
// and ends at the second pass read whole.
func TestDiffProgressFollowsBothPasses(t *testing.T) {
	a, b := benchPair(t, 20_000)
	paths := []string{a, b}
	var out syncBuffer
	p := newProgress(&out, "", paths, 2, 0, time.Millisecond)
	h, err := pathdiff.Stream(diffOpeners(paths, p), pathdiff.Config{Config: analyze.Config{MaxFlows: analyze.DefaultMaxFlows, Linger: analyze.DefaultLinger}}, pathdiff.Sink{})
	require.NoError(t, err)
	require.Positive(t, h.Pairs)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "pass 2 of 2: 100% of") }, 5*time.Second, time.Millisecond)
	p.stop()
	p.stop() // a second stop, as cmdDiff's deferred one, does nothing
	got := out.String()
	assert.Contains(t, got, "rwin: diff, pass 1 of 2: ")
	assert.True(t, strings.HasSuffix(got, "\r\x1b[K"), "the line is erased before the results: %q", got[max(0, len(got)-40):])
	var size int64
	for _, path := range paths {
		st, err := os.Stat(path)
		require.NoError(t, err)
		size += st.Size()
	}
	assert.Equal(t, 2*size, p.bytes.Load(), "each capture read whole, twice")
	assert.Equal(t, int64(2*(h.Summaries[0].Packets+h.Summaries[1].Packets)), p.packets.Load())
}
