package pathdiff

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

// matchingMerge is a second pass over one pair with a known plan: both
// directions matched at sequence offset 0, A upstream.
func matchingMerge() *diffMerge {
	pl := pairPlan{clientSide: analyze.CaptureA}
	for d := range 2 {
		pl.dirs[d] = dirPlan{ok: true, upstream: analyze.CaptureA, expect: time.Millisecond,
			jitter: diffMinJitter, horizon: time.Millisecond + diffMatchSlack + diffMinJitter}
	}
	return &diffMerge{planOf: func(int) (pairPlan, error) { return pl, nil }, at: make([]int32, 1), pairOf: [2][]int32{{0}, {0}},
		span: [2][2]int64{{0, math.MaxInt64 / 2}, {0, math.MaxInt64 / 2}}}
}

// feeder makes the k-th data segment of a transfer as captured at A and,
// a millisecond later with a TTL three lower, at B.
type feeder struct {
	a, b capture.Segment
	k    int
}

func newFeeder() *feeder {
	c, s := netip.MustParseAddrPort("192.0.2.10:50000"), netip.MustParseAddrPort("198.51.100.20:445")
	seg := capture.Segment{Src: c.Addr(), Dst: s.Addr(), SrcPort: c.Port(), DstPort: s.Port(),
		Flags: capture.FlagACK, Window: 502, Payload: 1448, TTL: 64}
	seg.Opts.Has = capture.HasTimestamp
	return &feeder{a: seg, b: seg}
}

func (f *feeder) next(m *diffMerge) {
	f.k++
	f.a.Packet, f.a.Time = uint64(f.k), int64(f.k)*int64(time.Millisecond)
	f.a.Seq, f.a.IPID, f.a.Opts.TSVal = capture.Seq(f.k*1448), uint16(f.k), uint32(f.k)
	f.b = f.a
	f.b.Time += int64(time.Millisecond)
	f.b.TTL -= 3
	va, vb := pendingOf(&f.a, f.a.Time), pendingOf(&f.b, f.b.Time)
	m.segment(analyze.CaptureA, 0, true, &va)
	m.segment(analyze.CaptureB, 0, true, &vb)
	if time.Duration(m.clock-m.lastSweep) >= pendingSweep {
		m.lastSweep = m.clock
		for _, ps := range m.live {
			ps.expire(m, m.clock)
		}
	}
}

// TestDiffMatchingDoesNotAllocatePerSegment runs the second pass's
// per-segment path (a segment at A, its copy at B, matched) in steady
// state: once the pair's state and queues exist, a segment costs no
// allocation.
func TestDiffMatchingDoesNotAllocatePerSegment(t *testing.T) {
	m, f := matchingMerge(), newFeeder()
	for range 1000 {
		f.next(m)
	}
	allocs := testing.AllocsPerRun(2000, func() { f.next(m) })
	assert.Zero(t, allocs, "allocations per segment pair")
	require.Len(t, m.live, 1)
	d := &m.live[0].pair.Dirs[analyze.ClientToServer]
	assert.Equal(t, uint64(f.k), d.Matched, "every segment matched its copy")
	assert.Zero(t, d.Only, "nothing unmatched")
}

// BenchmarkDiffSegment is the second pass's per-segment path: a segment
// at A and its copy at B, matched.
func BenchmarkDiffSegment(b *testing.B) {
	m, f := matchingMerge(), newFeeder()
	b.ReportAllocs()
	for b.Loop() {
		f.next(m)
	}
}

// BenchmarkDiffSketch is the first pass's per-segment path: sampling a
// segment into its flow's sketches.
func BenchmarkDiffSketch(b *testing.B) {
	var pkt capture.Packet
	o, f := newSketcher(), newFeeder()
	o.pkt = &pkt
	flow := &analyze.Flow{ID: 1}
	b.ReportAllocs()
	for b.Loop() {
		f.k++
		f.a.Seq, f.a.IPID, f.a.Opts.TSVal = capture.Seq(f.k*1448), uint16(f.k), uint32(f.k)
		o.Segment(flow, &f.a)
	}
}
