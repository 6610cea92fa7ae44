package analyze

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReleasedHistogramsComeBackZeroed: Release takes a flow's window
// histograms from it, and a histogram handed back starts the next flow's
// from zero, whatever was left in it.
func TestReleasedHistogramsComeBackZeroed(t *testing.T) {
	var f Flow
	for v := range uint16(40) {
		f.Client.Window.add(1000+v, uint64(v), int64(v))
		f.Server.Window.add(2000+v, uint64(v), int64(v))
	}
	require.False(t, f.Client.Window.Exact(), "40 distinct windows make a histogram")
	released := []*[histSize]uint32{f.Client.Window.hist, f.Server.Window.hist}
	f.Release()
	assert.Nil(t, f.Client.Window.hist)
	assert.Nil(t, f.Server.Window.hist)
	for _, h := range released {
		for i := range h {
			h[i] = 0xdead // what a careless holder of a copy might leave
		}
	}
	for range 4 {
		var w WindowStats
		for v := range uint16(20) {
			w.add(500+v*100, uint64(v), int64(v))
		}
		require.False(t, w.Exact())
		var sum uint64
		for _, n := range w.hist {
			sum += uint64(n)
		}
		assert.Equal(t, w.Samples, sum, "every count in the histogram is a sample")
		// Estimates within a bucket's 6.25 % of the true values.
		assert.InEpsilon(t, 500, float64(w.Quantile(0)), 0.0625)
		assert.InEpsilon(t, 2400, float64(w.Quantile(1)), 0.0625)
	}
	var none Flow
	none.Release() // flows without histograms: nothing to hand back
	assert.True(t, none.Client.Window.Exact())
}
