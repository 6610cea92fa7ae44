package analyze

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
)

func TestFlowHashIgnoresDirection(t *testing.T) {
	a := New(Config{}, func(*Flow) {})
	c2s := capture.Segment{Src: netip.MustParseAddr("10.1.0.1"), Dst: netip.MustParseAddr("10.2.0.1"), SrcPort: 40000, DstPort: 443}
	s2c := capture.Segment{Src: c2s.Dst, Dst: c2s.Src, SrcPort: c2s.DstPort, DstPort: c2s.SrcPort}
	assert.Equal(t, a.flowHash(&c2s), a.flowHash(&s2c))
	mapped := c2s
	mapped.Src = netip.AddrFrom16(c2s.Src.As16())
	assert.Equal(t, a.flowHash(&c2s), a.flowHash(&mapped), "IPv4 and IPv4-mapped IPv6 are one address, as keyOf has it")
	for _, other := range []capture.Segment{
		{Src: c2s.Src, Dst: c2s.Dst, SrcPort: 40001, DstPort: 443},
		{Src: c2s.Src, Dst: c2s.Dst, SrcPort: 443, DstPort: 40000},
		{Src: netip.MustParseAddr("10.1.0.2"), Dst: c2s.Dst, SrcPort: 40000, DstPort: 443},
	} {
		assert.NotEqual(t, a.flowHash(&c2s), a.flowHash(&other), "%v", other)
	}
}

// TestIndexKeepsEveryFlowFindable fills the index with flows whose hashes
// collide and cluster across the end of the table, then takes them out in
// every order: after each removal the others must still be found (the
// backward shift must never move an entry before its home slot) and the
// removed one must not.
func TestIndexKeepsEveryFlowFindable(t *testing.T) {
	const last = minIndexSlots - 1
	for _, tc := range []struct {
		name   string
		hashes []uint64
	}{
		{"one hash for all", []uint64{42, 42, 42, 42, 42}},
		{"a run across the end of the table", []uint64{last, last, 0, last - 1, 1}},
		{"homes inside and before the run", []uint64{5, 6, 5, 7, 6}},
		{"wrapped entries behind an unwrapped one", []uint64{last - 1, 0, last, 0, last - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.hashes)
			segs := make([]capture.Segment, n)
			for i := range segs {
				segs[i] = capture.Segment{Src: netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)}), Dst: netip.MustParseAddr("10.2.0.1"),
					SrcPort: 40000, DstPort: 443, Flags: capture.FlagSYN}
			}
			for _, order := range permutations(n) {
				var x flowIndex
				flows := make([]*flowState, n)
				for i, h := range tc.hashes {
					flows[i] = new(flowState)
					flows[i].start(uint64(i+1), &segs[i])
					x.insert(h, flows[i])
				}
				for i, h := range tc.hashes {
					require.Same(t, flows[i], x.find(h, &segs[i]), "flow %d", i)
				}
				for k, i := range order {
					x.remove(tc.hashes[i], flows[i])
					assert.Nil(t, x.find(tc.hashes[i], &segs[i]), "order %v: removed flow %d still found", order, i)
					for _, j := range order[k+1:] {
						assert.Same(t, flows[j], x.find(tc.hashes[j], &segs[j]), "order %v: flow %d lost when %d went", order, j, i)
					}
				}
				assert.Zero(t, x.n)
				for _, s := range x.slots {
					assert.Nil(t, s.fs)
				}
			}
		})
	}
}

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for at := 0; at <= len(p); at++ {
			q := append(append(append([]int{}, p[:at]...), n-1), p[at:]...)
			out = append(out, q)
		}
	}
	return out
}

// TestIndexGrowsAndFindsAll inserts far more flows than the first table
// holds and removes every other one.
func TestIndexGrowsAndFindsAll(t *testing.T) {
	a := New(Config{}, func(*Flow) {})
	const n = 5 * minIndexSlots
	segs := make([]capture.Segment, n)
	flows := make([]*flowState, n)
	for i := range segs {
		segs[i] = capture.Segment{Src: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("fd00::1"),
			SrcPort: uint16(i), DstPort: 443, Flags: capture.FlagSYN}
		flows[i] = new(flowState)
		flows[i].start(uint64(i+1), &segs[i])
		a.index.insert(a.flowHash(&segs[i]), flows[i])
	}
	assert.GreaterOrEqual(t, len(a.index.slots), 2*n)
	for i := 0; i < n; i += 2 {
		a.index.remove(a.storedHash(flows[i]), flows[i])
	}
	for i := range segs {
		want := flows[i]
		if i%2 == 0 {
			want = nil
		}
		require.Same(t, want, a.index.find(a.flowHash(&segs[i]), &segs[i]), "flow %d", i)
	}
	assert.Equal(t, n/2, a.index.n)
}

// TestStoredHashIsTheFlowHash: a flow is taken out of the table under the
// hash recomputed from its endpoints, which must be the one its packets
// found it by, whichever way and however its addresses were written.
func TestStoredHashIsTheFlowHash(t *testing.T) {
	a := New(Config{}, func(*Flow) {})
	v4 := capture.Segment{Src: netip.MustParseAddr("10.1.0.1"), Dst: netip.MustParseAddr("10.2.0.1"), SrcPort: 40000, DstPort: 443}
	mapped := v4
	mapped.Src, mapped.Dst = netip.AddrFrom16(v4.Src.As16()), netip.AddrFrom16(v4.Dst.As16())
	v6 := capture.Segment{Src: netip.MustParseAddr("fd00:1::5"), Dst: netip.MustParseAddr("fd00:2::7"), SrcPort: 3389, DstPort: 51234}
	for _, tc := range []struct {
		name   string
		opener capture.Segment
		flags  capture.Flags
	}{
		{"IPv4, opened by a SYN", v4, capture.FlagSYN},
		{"IPv4, opened by a SYN-ACK", v4, capture.FlagSYN | capture.FlagACK},
		{"IPv4-mapped IPv6, mid-stream", mapped, capture.FlagACK},
		{"IPv6, mid-stream from the well-known port", v6, capture.FlagACK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seg := tc.opener
			seg.Flags = tc.flags
			fs := a.newFlowState()
			fs.start(1, &seg)
			reverse := capture.Segment{Src: seg.Dst, Dst: seg.Src, SrcPort: seg.DstPort, DstPort: seg.SrcPort}
			assert.Equal(t, a.flowHash(&seg), a.storedHash(fs))
			assert.Equal(t, a.flowHash(&reverse), a.storedHash(fs))
		})
	}
}
