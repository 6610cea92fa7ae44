package analyze

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// windowFlow is a flow whose client advertises the given windows after the
// handshake, one ACK each, 20 ms apart (closer, equal ACKs are copies).
func windowFlow(wins ...uint16) []segSpec {
	segs := handshake(linuxLayout, 7, linuxLayout, 7)
	for i, w := range wins {
		segs = append(segs, segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: w, ms: 50 + 20*int64(i)})
	}
	return segs
}

// TestWindowSummary: the emitted Flow carries its quantiles by value,
// exact for few distinct windows, histogram estimates within a bucket's
// 6.25 % beyond.
func TestWindowSummary(t *testing.T) {
	spread := make([]uint16, 0, 40)
	for v := range uint16(40) {
		spread = append(spread, 1000+v*100)
	}
	// The handshake's final ACK advertises 502: one sample more.
	tests := []struct {
		name             string
		wins             []uint16
		estimated        bool
		p10, median, p90 uint16
	}{
		{"only the handshake's ACK", nil, false, 502, 502, 502},
		{"few distinct windows, first seen unsorted", []uint16{900, 100, 500, 500, 100, 700, 300, 300, 500, 100}, false, 100, 500, 700},
		{"40 distinct windows make a histogram", spread, true, 1300, 2900, 4500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flows, _ := runFlows(t, Config{}, windowFlow(tc.wins...))
			require.Len(t, flows, 1)
			w := flows[0].Client.Window
			require.Equal(t, uint64(len(tc.wins)+1), w.Samples)
			assert.Equal(t, tc.estimated, w.Estimated)
			if tc.estimated {
				assert.InEpsilon(t, float64(tc.p10), float64(w.P10), 0.0625)
				assert.InEpsilon(t, float64(tc.median), float64(w.Median), 0.0625)
				assert.InEpsilon(t, float64(tc.p90), float64(w.P90), 0.0625)
				return
			}
			assert.Equal(t, []uint16{tc.p10, tc.median, tc.p90}, []uint16{w.P10, w.Median, w.P90})
		})
	}
}

// TestEmittedFlowCopiesOutliveTheTable: a kept copy of an emitted flow
// reads the same window summary after the table has reused the flow's
// state and histograms for later flows.
func TestEmittedFlowCopiesOutliveTheTable(t *testing.T) {
	var kept []Flow
	a := New(Config{}, func(f *Flow) { kept = append(kept, *f) })
	for round := range 20 {
		var wins []uint16
		for v := range uint16(40) {
			wins = append(wins, uint16(round)*1000+v*50+1)
		}
		for i, s := range windowFlow(wins...) {
			g := s.build(uint64(round*100 + i + 1))
			if s.dir == 'c' { // a new client port each round
				g.SrcPort += uint16(round)
			} else {
				g.DstPort += uint16(round)
			}
			a.Add(&g)
		}
		a.Flush()
	}
	require.Len(t, kept, 20)
	first := kept[0].Client.Window
	require.True(t, first.Estimated)
	assert.InEpsilon(t, 1001, float64(first.Median), 0.0625, "the first flow's windows, not a later flow's")
	assert.LessOrEqual(t, first.Max, uint16(2000))
}

// TestReleasedHistogramsComeBackZeroed: a finished flow's histogram goes
// back to the pool, and one taken from it starts the next flow's counts
// from zero, whatever was left in it.
func TestReleasedHistogramsComeBackZeroed(t *testing.T) {
	var c windowCounts
	for v := range uint16(40) {
		c.add(1000 + v)
	}
	require.NotNil(t, c.hist, "40 distinct windows make a histogram")
	released := c.hist
	c.release()
	assert.Nil(t, c.hist)
	for i := range released {
		released[i] = 0xdead // what a careless holder might leave
	}
	for range 4 {
		var next windowCounts
		for v := range uint16(20) {
			next.add(500 + v*100)
		}
		require.NotNil(t, next.hist)
		var sum uint64
		for _, n := range next.hist {
			sum += uint64(n)
		}
		assert.Equal(t, uint64(20), sum, "every count in the histogram is a sample")
		next.release()
	}
	var none windowCounts
	none.release() // no histogram: nothing to hand back
	assert.Nil(t, none.hist)
}
