package pathdiff

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

// consecutiveConns writes the two ends of n downloads five seconds apart,
// each done (FIN both ways) long before the next; nat puts the k-th
// behind 203.0.113.7:61000+k at B.
func consecutiveConns(t *testing.T, n int, nat bool) [2]analyze.Opener {
	var conns []synthConn
	var paths []synthPath
	for i := range n {
		c := baseConn()
		c.client = netip.AddrPortFrom(c.client.Addr(), uint16(40000+i))
		c.isnC, c.start = uint32(i*7919), time.Duration(i)*5*time.Second
		p := basePath()
		if nat {
			p.nat = netip.AddrPortFrom(netip.MustParseAddr("203.0.113.7"), uint16(61000+i))
		}
		conns, paths = append(conns, c), append(paths, p)
	}
	a, b := writeSynth(t, t.TempDir(), conns, paths)
	return [2]analyze.Opener{
		func() (capture.Source, error) { return capture.Open(a) },
		func() (capture.Source, error) { return capture.Open(b) },
	}
}

// TestStreamHandsOverEachPairOnceWithItsFlowsAndSeries streams the diff of
// twenty consecutive connections through a NAT with a series budget: each
// pair comes once, numbered in the order of A's flows, with both flows
// and their series; the pairs in progress at any time are few, since a
// pair leaves as soon as both its flows have finished; and the collected
// Diff agrees with the stream.
func TestStreamHandsOverEachPairOnceWithItsFlowsAndSeries(t *testing.T) {
	const n = 20
	open := consecutiveConns(t, n, true)
	budget := analyze.NewSeriesBudget(1 << 20)
	seen := make([]bool, n)
	var head *Head
	var unpaired int
	sink := Sink{
		Head: func(h *Head) { head = h },
		Pair: func(k int, p *analyze.FlowPair, fa, fb Flow) {
			require.NotNil(t, head, "the head comes first")
			require.Less(t, k, n)
			assert.False(t, seen[k], "pair %d handed over twice", k)
			seen[k] = true
			assert.Equal(t, uint64(p.A+1), fa.Flow.ID, "A is the flow's ID − 1")
			assert.Equal(t, uint64(p.B+1), fb.Flow.ID, "B is the flow's ID − 1")
			assert.Equal(t, uint16(40000+k), fa.Flow.Client.Addr.Port(), "pairs are numbered in the order of A's flows")
			assert.Equal(t, uint16(61000+k), fb.Flow.Client.Addr.Port(), "paired with its own copy")
			for _, s := range []*analyze.Series{fa.Series, fb.Series} {
				if assert.NotNil(t, s, "pair %d: each flow comes with its series", k) {
					assert.NotEmpty(t, s.Points(analyze.ServerToClient), "pair %d: the series holds the download", k)
				}
				budget.Free(s)
			}
		},
		Unpaired: func(analyze.Capture, Flow) { unpaired++ },
	}
	h, err := Stream(open, Config{Series: budget}, sink)
	require.NoError(t, err)
	assert.Equal(t, n, h.Pairs)
	assert.Equal(t, [2]int{n, n}, h.Flows)
	assert.Zero(t, unpaired)
	for k, ok := range seen {
		assert.True(t, ok, "pair %d handed over", k)
	}

	res, err := Diff(open, analyze.Config{})
	require.NoError(t, err)
	require.Len(t, res.Pairs, n)
	for k, p := range res.Pairs {
		assert.Equal(t, k, res.Sides[0].Pair[p.A])
		assert.Equal(t, k, res.Sides[1].Pair[p.B])
		assert.Equal(t, uint64(p.A+1), res.Sides[0].Flows[p.A].ID)
	}
}

// TestStreamKeepsOnlyThePairsInProgress follows the second pass's state:
// with connections one after the other, at most a couple of pairs are in
// progress at once, however many there are in all.
func TestStreamKeepsOnlyThePairsInProgress(t *testing.T) {
	const n = 30
	open := consecutiveConns(t, n, false)
	var pairs int
	sink := Sink{Pair: func(int, *analyze.FlowPair, Flow, Flow) { pairs++ }}
	h, err := Stream(open, Config{}, sink)
	require.NoError(t, err)
	assert.Equal(t, n, pairs)
	assert.Positive(t, h.PeakPairs)
	assert.LessOrEqual(t, h.PeakPairs, 2, "pairs in progress at once")
}

// TestStreamSecondPassHeapStaysFlatAsFlowsAreHandedOver: once the flows
// are paired, the second pass keeps only the pairs in progress, so its
// live heap after a quarter of the pairs and after the last one are the
// same give or take the pairs in progress, however many were handed over
// between (a pass that kept each finished flow, 1.5 KB, would grow by
// more than a megabyte here).
func TestStreamSecondPassHeapStaysFlatAsFlowsAreHandedOver(t *testing.T) {
	const n = 1000
	open := consecutiveConns(t, n, false)
	live := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	var early, late int64
	pairs := 0
	sink := Sink{Pair: func(int, *analyze.FlowPair, Flow, Flow) {
		pairs++
		switch pairs {
		case n / 4:
			early = live()
		case n:
			late = live()
		}
	}}
	_, err := Stream(open, Config{}, sink)
	require.NoError(t, err)
	require.Equal(t, n, pairs)
	assert.Less(t, late-early, int64(256<<10), "live heap grew by %d bytes over %d pairs handed over", late-early, n-n/4)
}

// TestStreamTakesAWholeTableFinishedAtOnce: connections that all end
// together are finished at once when the captures end, more than a
// batch of the second pass's readers holds (sideBatchEvents); they come
// over in several batches, and every pair is still whole.
func TestStreamTakesAWholeTableFinishedAtOnce(t *testing.T) {
	n := 2*sideBatchEvents + 100
	conns, paths := crowdedConns(n, false)
	for i := range conns {
		conns[i].start = time.Duration(i) * time.Microsecond
	}
	a, b := writeSynth(t, t.TempDir(), conns, paths)
	res := diffFiles(t, a, b)
	require.Len(t, res.Pairs, n, "every flow paired")
	for k, p := range res.Pairs {
		assert.Equal(t, k, res.Sides[0].Pair[p.A])
		assert.Equal(t, uint64(p.A+1), res.Sides[0].Flows[p.A].ID, "pair %d: A's flow is whole", k)
		assert.Equal(t, uint64(p.B+1), res.Sides[1].Flows[p.B].ID, "pair %d: B's flow is whole", k)
		for d := range p.Dirs {
			assert.Zero(t, p.Dirs[d].Only, "pair %d: every segment matched", k)
		}
	}
}
