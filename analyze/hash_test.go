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

// TestCollidingFlowsStayApart chains three flows under one hash, as
// colliding hashes would, and takes them out in every position.
func TestCollidingFlowsStayApart(t *testing.T) {
	segs := make([]capture.Segment, 3)
	for i := range segs {
		segs[i] = capture.Segment{Src: netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)}), Dst: netip.MustParseAddr("10.2.0.1"),
			SrcPort: 40000, DstPort: 443, Flags: capture.FlagSYN}
	}
	for _, order := range [][]int{{0, 1, 2}, {1, 0, 2}, {2, 1, 0}} {
		a := New(Config{}, func(*Flow) {})
		const h = 42
		flows := make([]*flowState, len(segs))
		for i := range segs {
			fs := a.newFlowState()
			fs.start(uint64(i+1), &segs[i])
			fs.sameHash = a.flows[h]
			a.flows[h] = fs
			a.live++
			flows[i] = fs
		}
		for i := range segs {
			require.Same(t, flows[i], a.lookup(h, &segs[i]))
		}
		for n, i := range order {
			a.unlink(flows[i], h)
			assert.Nil(t, a.lookup(h, &segs[i]), "unlinked flow %d still found", i)
			for _, j := range order[n+1:] {
				assert.Same(t, flows[j], a.lookup(h, &segs[j]), "flow %d lost when %d went", j, i)
			}
		}
		assert.Empty(t, a.flows)
		assert.Zero(t, a.Live())
	}
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
