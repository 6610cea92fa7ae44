package pathdiff

import (
	"math"
	"net/netip"
	"runtime"
	"runtime/debug"
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
		c.start = time.Duration(i) * time.Second
		conns[i], paths[i] = c, basePath()
	}
	a, b := writeSynth(t, t.TempDir(), conns, paths)
	return [2]analyze.Opener{
		func() (capture.Source, error) { return capture.Open(a) },
		func() (capture.Source, error) { return capture.Open(b) },
	}
}

// peakHeap streams the diff of open and returns the most heap in use
// while it ran, sampled every millisecond with the collector run often
// (so that in-use heap follows live heap), and how many pairs came.
func peakHeap(t *testing.T, open [2]analyze.Opener) (peak uint64, pairs int) {
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	sink := Sink{Pair: func(int, *analyze.FlowPair, Flow, Flow) { pairs++ }}
	_, err := Stream(open, Config{}, sink)
	close(done)
	wg.Wait()
	require.NoError(t, err)
	return peak, pairs
}

// TestDiffHeapGrowsWithLiveFlowsNotTotal diffs two captures of short
// connections one after the other, one with four times the connections
// (and the length) of the other. The pairing keeps only the flows within
// its window of time, and what it settled about each pair goes to a
// temporary file, so the peak heap is the same give or take a little
// for both. Keeping a digest of every flow read (about a kilobyte with
// its samples) until every flow had been read made it grow by megabytes
// here: 6.3 MB against 23.9 MB for 1,000 and 4,000 connections.
func TestDiffHeapGrowsWithLiveFlowsNotTotal(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,000 connections")
	}
	const n = 1000
	small, large := sequentialConns(t, n), sequentialConns(t, 4*n)
	// The least of two runs: a peak sampled while the collector runs
	// varies by a megabyte from run to run.
	peakSmall, peakLarge := uint64(math.MaxUint64), uint64(math.MaxUint64)
	for range 2 {
		peak, pairs := peakHeap(t, small)
		require.Equal(t, n, pairs, "every connection paired")
		peakSmall = min(peakSmall, peak)
		peak, pairs = peakHeap(t, large)
		require.Equal(t, 4*n, pairs, "every connection paired")
		peakLarge = min(peakLarge, peak)
	}
	t.Logf("peak heap: %d connections %.1f MB, %d connections %.1f MB", n, float64(peakSmall)/1e6, 4*n, float64(peakLarge)/1e6)
	assert.Less(t, peakLarge, peakSmall+1<<20, "peak heap grew with the connections read")
}
