package analyze_test

import (
	"bytes"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/fixtures/bench/traffic"
)

// The whole per-packet path — read a pcap record, decode its headers,
// update the flow table — timed and checked for allocations over captures
// of Linux-like traffic from fixtures/bench/traffic, held in memory so the
// disk plays no part.

// captures caches the generated captures by configuration.
var captures sync.Map

func benchCapture(tb testing.TB, cfg traffic.Config) []byte {
	tb.Helper()
	if b, ok := captures.Load(cfg); ok {
		return b.([]byte)
	}
	var buf bytes.Buffer
	_, err := traffic.Write(&buf, cfg)
	require.NoError(tb, err)
	captures.Store(cfg, buf.Bytes())
	return buf.Bytes()
}

// runCapture runs the analyzer over an in-memory capture, dropping the
// flows it finishes.
func runCapture(tb testing.TB, data []byte) analyze.Summary {
	src, err := capture.NewReader(bytes.NewReader(data), "bench")
	require.NoError(tb, err)
	sum := analyze.Run(src, nil, analyze.Config{}, func(*analyze.Flow) {})
	require.NoError(tb, sum.Err)
	return sum
}

// mixed is the benchmark capture's traffic (make bench) cut to 200,000
// packets: bulk transfers and about 2,000 short flows a second.
func mixed(packets int) traffic.Config {
	c := traffic.Bench()
	c.Packets = packets
	return c
}

// bulkOnly is four long transfers and nothing else: after their
// handshakes, every packet is steady state.
func bulkOnly(packets int) traffic.Config {
	return traffic.Config{Seed: 3, Packets: packets, Bulk: 4, IPv6Share: 0.5}
}

func BenchmarkRun(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  traffic.Config
	}{
		{"linux mix", mixed(200_000)},
		{"bulk transfers", bulkOnly(200_000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := benchCapture(b, bc.cfg)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var sum analyze.Summary
			for b.Loop() {
				sum = runCapture(b, data)
			}
			pkts := float64(sum.Packets) * float64(b.N)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/pkts, "ns/packet")
		})
	}
}

// TestRunSteadyStateDoesNotAllocate runs the same transfers for twice as
// long: the allocations of Run (the reader's buffers, the table, each
// flow's state) must not grow with the packets.
//
// The counter is the process's, and with Run's reader on a goroutine of
// its own a single run was off by one or two in about one test of five
// (not with -cpu 1): the runtime allocates now and then on its own.
// Noise only adds, so each length counts its fewest of three runs; an
// allocation per packet would still show as thousands.
func TestRunSteadyStateDoesNotAllocate(t *testing.T) {
	mallocs := func(packets int) uint64 {
		data := benchCapture(t, bulkOnly(packets))
		runCapture(t, data) // warm up: sync.Pools, lazily built tables
		fewest := ^uint64(0)
		for range 3 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			sum := runCapture(t, data)
			runtime.ReadMemStats(&after)
			require.Equal(t, uint64(packets), sum.TCP)
			fewest = min(fewest, after.Mallocs-before.Mallocs)
		}
		return fewest
	}
	short, long := mallocs(20_000), mallocs(40_000)
	// One allocation per packet would add 20,000 to the longer run, one per
	// 1,024-segment batch about 20; the runtime's own (a timer, a GC cycle
	// on a loaded machine) move either count by one or two.
	assert.LessOrEqual(t, long, short+4, "Run allocated %d times over 20,000 packets and %d over 40,000", short, long)
}

// liveFlowBytes measures the heap one live flow costs: n connections
// that completed their handshake (Linux options both ways) and carried a
// little data each way, none finished.
func liveFlowBytes(tb testing.TB, n int) float64 {
	tb.Helper()
	var synOpts, dataOpts capture.Options
	syn := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}
	capture.ParseOptions(syn, len(syn), &synOpts)
	ts := []byte{1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1}
	capture.ParseOptions(ts, len(ts), &dataOpts)
	server := netip.MustParseAddr("10.2.0.1")
	a := analyze.New(analyze.Config{MaxFlows: n + 1, Linger: -1}, func(*analyze.Flow) {})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Date(2024, 5, 6, 9, 0, 0, 0, time.UTC).UnixNano()
	for i := range n {
		client := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		port := uint16(32768 + i%28000)
		c2s := capture.Segment{Src: client, Dst: server, SrcPort: port, DstPort: 443}
		s2c := capture.Segment{Src: server, Dst: client, SrcPort: 443, DstPort: port}
		for j, s := range []struct {
			seg     capture.Segment
			flags   capture.Flags
			seq     capture.Seq
			ack     capture.Seq
			win     uint16
			payload int
		}{
			{c2s, capture.FlagSYN, 1000, 0, 64240, 0},
			{s2c, capture.FlagSYN | capture.FlagACK, 5000, 1001, 65160, 0},
			{c2s, capture.FlagACK, 1001, 5001, 502, 0},
			{c2s, capture.FlagACK | capture.FlagPSH, 1001, 5001, 502, 300},
			{s2c, capture.FlagACK, 5001, 1301, 509, 1448},
			{c2s, capture.FlagACK, 1301, 6449, 520, 0},
		} {
			seg := s.seg
			seg.Packet, seg.Time = uint64(i*6+j+1), t0+int64(i*6+j)*int64(time.Microsecond)
			seg.Flags, seg.Seq, seg.Ack, seg.Window, seg.Payload = s.flags, s.seq, s.ack, s.win, s.payload
			seg.Opts = dataOpts
			if s.flags&capture.FlagSYN != 0 {
				seg.Opts = synOpts
			}
			a.Add(&seg)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Equal(tb, n, a.Live())
	runtime.KeepAlive(a)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestLiveFlowMemory keeps the cost of a live flow in check: memory grows
// with live flows, and the README and --max-flows document what one
// costs.
func TestLiveFlowMemory(t *testing.T) {
	perFlow := liveFlowBytes(t, 20_000)
	t.Logf("%.0f bytes per live flow", perFlow)
	assert.Less(t, perFlow, 4096.0, "a live flow should stay within 4 KiB")
}

func BenchmarkLiveFlowMemory(b *testing.B) {
	var perFlow float64
	for b.Loop() {
		perFlow = liveFlowBytes(b, 20_000)
	}
	b.ReportMetric(perFlow, "bytes/flow")
}
