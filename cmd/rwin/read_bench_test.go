package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"rwin/fixtures/bench/traffic"
)

// BenchmarkRead times rwin read, the whole command, over the benchmark
// capture's traffic (make bench) cut to a million packets. Its CPU profile
// is the one rwin is built with (make pgo writes it to default.pgo, which
// go build applies on its own).
func BenchmarkRead(b *testing.B) {
	name := filepath.Join(b.TempDir(), "bench.pcap")
	f, err := os.Create(name)
	require.NoError(b, err)
	w := bufio.NewWriter(f)
	cfg := traffic.Bench()
	cfg.Packets = 1_000_000
	st, err := traffic.Write(w, cfg)
	require.NoError(b, err)
	require.NoError(b, w.Flush())
	require.NoError(b, f.Close())
	b.ReportAllocs()
	for b.Loop() {
		if code := run([]string{"read", name}, nil, io.Discard, io.Discard); code != exitOK {
			b.Fatalf("rwin read exited %d", code)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*st.Packets), "ns/packet")
}
