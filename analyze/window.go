package analyze

import (
	"math/bits"
	"slices"
	"sync"
)

// exactSlots is how many distinct window values WindowStats counts exactly
// before it falls back to a histogram. Most flows advertise a handful of
// window values; only long transfers with auto-tuning exceed it.
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
// advertised, in constant memory. The shift is applied when the result is
// read (EffectiveWindow), because a direction's shift is fixed once
// negotiated and scaling commutes with order statistics.
type WindowStats struct {
	// Samples counts the windows recorded.
	Samples uint64
	// Min, Max and Last are exact raw window fields (valid when Samples > 0).
	Min, Max, Last uint16
	// First is the first window recorded and FirstPacket its segment
	// (valid when Samples > 0). Compared with the endpoint's SYN or
	// SYN-ACK window it shows whether the endpoint scales its windows:
	// right after the handshake a stack that applies shift s advertises
	// its buffer >> s, one that does not advertises the buffer itself.
	First       uint16
	FirstPacket uint64
	FirstTime   int64
	// LastPacket and LastTime locate the last advertisement.
	LastPacket uint64
	LastTime   int64

	vals   [exactSlots]uint16
	counts [exactSlots]uint32
	nvals  uint8
	// hist replaces vals/counts once more than exactSlots distinct values
	// were seen; allocated once per such flow, never per packet.
	hist *[histSize]uint32
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
	if w.hist != nil {
		w.hist[bucketOf(v)]++
		return
	}
	for i := 0; i < int(w.nvals); i++ {
		if w.vals[i] == v {
			w.counts[i]++
			return
		}
	}
	if w.nvals < exactSlots {
		w.vals[w.nvals], w.counts[w.nvals] = v, 1
		w.nvals++
		return
	}
	w.hist = newHistogram()
	for i := 0; i < int(w.nvals); i++ {
		w.hist[bucketOf(w.vals[i])] += w.counts[i]
	}
	w.hist[bucketOf(v)]++
}

// histograms holds window histograms handed back by Flow.Release. A
// histogram allocated afresh is a page fault in the making: on the
// benchmark capture a third of rwin read's page faults, and 5% of its CPU
// time, were first touches of new histograms (perf record -e page-faults,
// pprof).
var histograms = sync.Pool{New: func() any { return new([histSize]uint32) }}

// newHistogram returns a zeroed histogram, one handed back if there is.
func newHistogram() *[histSize]uint32 {
	h := histograms.Get().(*[histSize]uint32)
	*h = [histSize]uint32{}
	return h
}

// Release hands the flow's window histograms back, for flows analyzed
// later, and leaves f without them: call it on an emitted flow, or a copy
// of one, once done with it and with every other copy. Reading the
// flow's window distribution after Release, through f or a copy, is a
// mistake. Emitted flows that are not released are left to the garbage
// collector.
func (f *Flow) Release() {
	for _, w := range []*WindowStats{&f.Client.Window, &f.Server.Window} {
		if w.hist != nil {
			histograms.Put(w.hist)
			w.hist = nil
		}
	}
}

// Exact reports whether Quantile returns exact values (few distinct
// windows), rather than histogram estimates within 6.25 %.
func (w *WindowStats) Exact() bool { return w.hist == nil }

// Quantile returns the raw window field at quantile q (0 ≤ q ≤ 1) of the
// samples, nearest-rank. Without samples it returns 0.
func (w *WindowStats) Quantile(q float64) uint16 {
	if w.Samples == 0 {
		return 0
	}
	rank := uint64(q*float64(w.Samples-1)) + 1 // 1-based nearest rank
	if w.hist == nil {
		var order [exactSlots]int
		idx := order[:w.nvals]
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return int(w.vals[a]) - int(w.vals[b]) })
		var seen uint64
		for _, i := range idx {
			seen += uint64(w.counts[i])
			if seen >= rank {
				return w.vals[i]
			}
		}
		return w.Max
	}
	var seen uint64
	for b, c := range w.hist {
		seen += uint64(c)
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
