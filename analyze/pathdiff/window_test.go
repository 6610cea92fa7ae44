package pathdiff

import (
	"math"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

// sequentialConns writes the two ends of n short connections a second
// apart, each closed long before the next starts: a capture whose length
// grows with n while the flows live at any time stay a handful.
func sequentialConns(t *testing.T, n int) [2]analyze.Opener {
	return spacedConns(t, n, time.Second, basePath())
}

// spacedConns writes the two ends of n short connections gap apart, each
// with its own ports, ISNs, timestamps and IP IDs, through path p.
func spacedConns(t *testing.T, n int, gap time.Duration, p synthPath) [2]analyze.Opener {
	conns := make([]synthConn, n)
	paths := make([]synthPath, n)
	for i := range conns {
		c := baseConn()
		c.request, c.response = 100, 3000
		c.client = netip.AddrPortFrom(c.client.Addr(), uint16(20_000+i%40_000))
		c.isnC, c.isnS = uint32(1_000_000+7919*i), uint32(3_000_000_000+104729*i)
		c.tsC, c.tsS = uint32(4_000_000+1000*i), uint32(9_000_000+1000*i)
		c.ipidC, c.ipidS = uint16(i*37), uint16(i*53+20000)
		c.seed = byte(i)
		c.start = time.Duration(i) * gap
		conns[i], paths[i] = c, p
	}
	a, b := writeSynth(t, t.TempDir(), conns, paths)
	return [2]analyze.Opener{
		func() (capture.Source, error) { return capture.Open(a) },
		func() (capture.Source, error) { return capture.Open(b) },
	}
}

// liveHeap streams the diff of open and returns the live heap it mostly
// stays under (the 90th percentile of the live heap, collected and
// measured every two milliseconds while it runs), the most seen, and how
// many pairs came. The percentile, not the most: a run four times as
// long takes four times the samples, and the most of them rises with
// their number even when nothing grows (under the race detector by 2–3
// MB here), while a heap that grows with the flows read raises the
// percentile with it.
func liveHeap(t *testing.T, open [2]analyze.Opener) (p90, peak uint64, pairs int) {
	runtime.GC()
	done := make(chan struct{})
	var samples []uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			samples = append(samples, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	sink := Sink{Pair: func(int, *analyze.FlowPair, Flow, Flow) { pairs++ }}
	_, err := Stream(open, Config{windowFlows: 256}, sink)
	close(done)
	wg.Wait()
	require.NoError(t, err)
	slices.Sort(samples)
	return samples[len(samples)*9/10], samples[len(samples)-1], pairs
}

// TestDiffHeapGrowsWithLiveFlowsNotTotal diffs two captures of short
// connections one after the other, one with four times the connections
// (and the length) of the other, with a window of 256 flows (so that
// both captures span many windows). The pairing keeps only the flows
// within its window, and what it settled about each pair goes to a
// temporary file, so the live heap is the same give or take a little
// for both. Keeping a digest of every flow read (about a kilobyte with
// its samples) until every flow had been read made it grow by megabytes
// here: 8.2 MB against 16.7 MB of live heap for 1,000 and 4,000
// connections.
func TestDiffHeapGrowsWithLiveFlowsNotTotal(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,000 connections")
	}
	const n = 1000
	small, large := sequentialConns(t, n), sequentialConns(t, 4*n)
	// The least of three runs: the samples vary from run to run.
	heapSmall, heapLarge := uint64(math.MaxUint64), uint64(math.MaxUint64)
	for range 3 {
		p90, peak, pairs := liveHeap(t, small)
		require.Equal(t, n, pairs, "every connection paired")
		heapSmall = min(heapSmall, p90)
		t.Logf("%d connections: live heap at most %.1f MB, %.1f MB nine tenths of the time", n, float64(peak)/1e6, float64(p90)/1e6)
		p90, peak, pairs = liveHeap(t, large)
		require.Equal(t, 4*n, pairs, "every connection paired")
		heapLarge = min(heapLarge, p90)
		t.Logf("%d connections: live heap at most %.1f MB, %.1f MB nine tenths of the time", 4*n, float64(peak)/1e6, float64(p90)/1e6)
	}
	assert.Less(t, heapLarge, heapSmall+2<<20, "live heap grew with the connections read")
}

// TestMedianSampleIsExactWhileSmallAndStaysBounded: the clock offset is
// the median of every sure pair's own up to medianKept of them, and of
// an even sample beyond, in flat memory.
func TestMedianSampleIsExactWhileSmallAndStaysBounded(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
	}{{"none", 0}, {"one", 1}, {"a few", 7}, {"as many as kept", medianKept}, {"ten times as many", 10 * medianKept}} {
		t.Run(c.name, func(t *testing.T) {
			var m medianSample
			var all []time.Duration
			for i := range c.n {
				x := time.Duration((i * 7919) % 1000) // spread evenly over 0..999
				m.add(x)
				all = append(all, x)
			}
			assert.Equal(t, c.n, m.n)
			assert.LessOrEqual(t, len(m.v), medianKept)
			if c.n == 0 {
				assert.Zero(t, m.median())
				return
			}
			slices.Sort(all)
			want := all[len(all)/2]
			if c.n <= medianKept {
				assert.Equal(t, want, m.median(), "exact")
			} else {
				assert.InDelta(t, want, m.median(), 5, "an even sample's median")
			}
		})
	}
}

// TestWindowedPairingPairsEveryConnectionWithItsCopy: pairing a window at
// a time finds every pair the pairing of whole captures found, when the
// window slides with time (connections over an hour, in windows of 512
// flows), with B's clock far ahead of A's or behind it (the first window is paired
// again once the offset is measured), and when thousands of connections
// end within seconds (the window pairs the oldest windowFlows whose copies
// have ended too).
func TestWindowedPairingPairsEveryConnectionWithItsCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("writes thousands of connections")
	}
	nat := basePath()
	nat.nat = netip.MustParseAddrPort("203.0.113.7:61000")
	ahead, behind := basePath(), basePath()
	ahead.clock, behind.clock = 10*time.Minute, -10*time.Minute
	for _, c := range []struct {
		name   string
		n      int
		gap    time.Duration
		path   synthPath
		window int
	}{
		{"an hour of connections", 3600, time.Second, basePath(), 512},
		{"an hour through a NAT", 3600, time.Second, nat, 512},
		{"B's clock ten minutes ahead", 3600, time.Second, ahead, 512},
		{"B's clock ten minutes behind", 3600, time.Second, behind, 512},
		{"5000 connections ending within seconds", 5000, time.Millisecond, basePath(), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			open := spacedConns(t, c.n, c.gap, c.path)
			pairs, wrong, notHigh := 0, 0, 0
			sink := Sink{Pair: func(_ int, p *analyze.FlowPair, _, _ Flow) {
				pairs++
				if p.A != p.B { // both captures hold the connections in the same order
					wrong++
				}
				if p.Confidence != analyze.PairHigh {
					notHigh++
				}
			}}
			h, err := Stream(open, Config{windowFlows: c.window}, sink)
			require.NoError(t, err)
			assert.Equal(t, c.n, pairs, "every connection paired")
			assert.Zero(t, wrong, "pairs of two different connections")
			assert.Zero(t, notHigh, "pairs below high confidence")
			assert.Positive(t, h.ClockPairs)
			assert.InDelta(t, c.path.clock, h.ClockOffset, float64(time.Millisecond), "clock offset")
		})
	}
}

// churnDigests are the digests of n connections of one capture, ending
// perSecond a second from the start, each with its own client, port and
// ISNs: both captures of a steady churn, as the pairing gets them.
func churnDigests(n, perSecond int) []flowDigest {
	server := netip.MustParseAddrPort("10.2.0.1:445")
	ds := make([]flowDigest, n)
	for k := range ds {
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(k >> 8), byte(k)}), uint16(20_000+k%40_000))
		end := int64(1e18) + int64(k)*int64(time.Second)/int64(perSecond)
		ds[k] = flowDigest{client: client, server: server, x: client, start: end - int64(50*time.Millisecond),
			syn:    handshakeDigest{isn: capture.Seq(1_000_000 + 7919*k), seen: true},
			synack: handshakeDigest{isn: capture.Seq(3_000_000_000 + 104729*k), seen: true},
			key:    tupleOf(client, server), id: int32(k), end: end}
	}
	return ds
}

// TestPairingWindowStaysBoundedUnderSteadyChurn: 200 connections ending a
// second in each capture for 100 s, paired windowFlows (64 here) at a
// time. Each pairing settles the oldest digests whose copies have had the
// time to end (2 s for a flow finished on an expiry sweep), so the window
// holds about that much churn, however long the captures. It grew with
// them when every pairing let the window hold twice what it left: all
// 40,000 digests waited for the last window.
func TestPairingWindowStaysBoundedUnderSteadyChurn(t *testing.T) {
	const n, perSecond = 20_000, 200
	w := newPairWindow(Config{windowFlows: 64})
	defer w.records.close()
	var in [2]chan []flowDigest
	for i := range in {
		in[i] = make(chan []flowDigest, 2)
		go func() {
			ds := churnDigests(n, perSecond)
			for len(ds) > 0 {
				k := min(len(ds), windowBatch)
				in[i] <- ds[:k]
				ds = ds[k:]
			}
			close(in[i])
		}()
	}
	w.read(in)
	for k := range n {
		require.Equal(t, int32(k), w.partner[0][k], "connection %d paired with its copy", k)
	}
	t.Logf("at most %d digests held at once, %d in all", w.peak, 2*n)
	// 2 s of churn in both captures is 800 digests.
	assert.Less(t, w.peak, 2_000, "the most digests held at once")
}
