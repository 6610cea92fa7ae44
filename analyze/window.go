package analyze

import (
	"math"
	"math/bits"
	"sync"
)

// exactSlots is how many distinct window values windowCounts counts
// exactly before it falls back to a histogram. Most flows advertise a
// handful of window values; only long transfers with auto-tuning exceed it.
const exactSlots = 8

// Histogram layout: values below 16 have a bucket each; above, every power
// of two is split into 16 buckets, so a bucket spans at most 1/16 (6.25 %)
// of its values. 16-bit window fields need 13 octaves: 208 buckets.
const (
	subBits    = 4
	subBuckets = 1 << subBits
	histSize   = (16 - subBits + 1) * subBuckets
)

// WindowStats summarizes the raw 16-bit window fields one endpoint
// advertised. It is a plain value: the distribution it is read from stays
// in the flow table (windowCounts). The shift is applied by the reader
// (Shift.Value.Scale), because a direction's shift is fixed once
// negotiated and scaling commutes with order statistics.
type WindowStats struct {
	// Samples counts the windows recorded.
	Samples uint64
	// Min, Max and Last are exact raw window fields (valid when Samples > 0).
	Min, Max, Last uint16
	// First is the first window recorded, FirstPacket and FirstTime
	// below its segment (valid when Samples > 0). Compared with the endpoint's SYN or
	// SYN-ACK window it shows whether the endpoint scales its windows:
	// right after the handshake a stack that applies shift s advertises
	// its buffer >> s, one that does not advertises the buffer itself.
	First uint16
	// P10, Median and P90 are the raw window fields at those quantiles of
	// the samples (nearest rank), 0 without samples. They are set when the
	// flow is finished or snapshotted, not while packets arrive.
	P10, Median, P90 uint16
	// Estimated says the quantiles are histogram estimates within 6.25 %
	// (clamped to [Min, Max]): the endpoint advertised more distinct
	// windows than are counted exactly. False: they are exact values.
	Estimated bool

	FirstPacket uint64
	FirstTime   int64
	// LastPacket and LastTime (ns) locate the last advertisement.
	LastPacket uint64
	LastTime   int64
}

func (w *WindowStats) add(v uint16, packet uint64, t int64) {
	if w.Samples == 0 {
		w.First, w.FirstPacket, w.FirstTime = v, packet, t
	}
	if w.Samples == 0 || v < w.Min {
		w.Min = v
	}
	if v > w.Max {
		w.Max = v
	}
	w.Samples++
	w.Last, w.LastPacket, w.LastTime = v, packet, t
}

// summarize sets w's quantiles from the distribution c of its samples.
func (w *WindowStats) summarize(c *windowCounts) {
	w.Estimated = c.hist != nil
	w.P10, w.Median, w.P90 = c.quantile(w, 0.1), c.quantile(w, 0.5), c.quantile(w, 0.9)
}

// windowCounts is the distribution of the raw window fields one endpoint
// advertised, in constant memory: exact counts of up to exactSlots
// distinct values, a histogram beyond. It lives in the flow table's
// per-flow state; the emitted Flow carries only its summary.
type windowCounts struct {
	// vals and counts hold the distinct values seen in order of first
	// appearance; a zero count ends the used slots.
	vals   [exactSlots]uint16
	counts [exactSlots]uint32
	// hist replaces vals/counts once more than exactSlots distinct values
	// were seen; taken from the pool once per such flow, never per
	// packet, and handed back when the flow is finished (release).
	hist *[histSize]uint32
}

func (c *windowCounts) add(v uint16) {
	if c.hist != nil {
		c.hist[bucketOf(v)]++
		return
	}
	for i := range c.vals {
		switch {
		case c.counts[i] == 0:
			c.vals[i], c.counts[i] = v, 1
			return
		case c.vals[i] == v:
			// Saturate: a zero count would free the slot.
			if c.counts[i] < math.MaxUint32 {
				c.counts[i]++
			}
			return
		}
	}
	c.hist = newHistogram()
	for i := range c.vals {
		c.hist[bucketOf(c.vals[i])] += c.counts[i]
	}
	c.hist[bucketOf(v)]++
}

// release hands the histogram back to the pool, for flows analyzed later.
func (c *windowCounts) release() {
	if c.hist != nil {
		histograms.Put(c.hist)
		c.hist = nil
	}
}

// histograms holds the window histograms of finished flows. A histogram
// allocated afresh is a page fault in the making: reusing them is worth a
// few percent of rwin read's CPU time on large captures.
var histograms = sync.Pool{New: func() any { return new([histSize]uint32) }}

// newHistogram returns a zeroed histogram, one handed back if there is.
func newHistogram() *[histSize]uint32 {
	h := histograms.Get().(*[histSize]uint32)
	*h = [histSize]uint32{}
	return h
}

// quantile returns the raw window field at quantile q (0 ≤ q ≤ 1) of the
// samples w summarizes, nearest-rank. Without samples it returns 0.
func (c *windowCounts) quantile(w *WindowStats, q float64) uint16 {
	if w.Samples == 0 {
		return 0
	}
	rank := uint64(q*float64(w.Samples-1)) + 1 // 1-based nearest rank
	if c.hist == nil {
		// The used slots in value order (insertion sort: at most 8).
		var vals [exactSlots]uint16
		var counts [exactSlots]uint32
		n := 0
		for i := range c.vals {
			if c.counts[i] == 0 {
				break
			}
			j := n
			for ; j > 0 && vals[j-1] > c.vals[i]; j-- {
				vals[j], counts[j] = vals[j-1], counts[j-1]
			}
			vals[j], counts[j] = c.vals[i], c.counts[i]
			n++
		}
		var seen uint64
		for i := range n {
			seen += uint64(counts[i])
			if seen >= rank {
				return vals[i]
			}
		}
		return w.Max
	}
	var seen uint64
	for b, n := range c.hist {
		seen += uint64(n)
		if seen >= rank {
			lo, hi := bucketBounds(b)
			mid := lo + (hi-lo)/2
			return min(max(uint16(mid), w.Min), w.Max)
		}
	}
	return w.Max
}

// bucketOf maps a window field to its histogram bucket.
func bucketOf(v uint16) int {
	if v < subBuckets {
		return int(v)
	}
	l := bits.Len16(v)                      // 5..16
	m := int(v>>(l-subBits-1)) - subBuckets // top 5 bits less the leading one: 0..15
	return (l-subBits)*subBuckets + m       // 16..207
}

// bucketBounds returns the smallest and largest value of bucket b.
func bucketBounds(b int) (lo, hi uint32) {
	if b < subBuckets {
		return uint32(b), uint32(b)
	}
	l := b/subBuckets + subBits // bit length of the bucket's values
	m := uint32(b%subBuckets + subBuckets)
	shift := l - subBits - 1
	lo = m << shift
	hi = lo + (1 << shift) - 1
	return lo, hi
}
