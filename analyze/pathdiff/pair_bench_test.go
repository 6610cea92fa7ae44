package pathdiff

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

// pairingWindow makes the digests of n connections as two capture points
// saw them: B behind a NAT (other client addresses and ports), a
// millisecond later, the sequence numbers unchanged. Each direction of a
// flow holds up to sketchSize samples a signal, drawn at random, as long
// flows do; every fifth connection carries a few tokens that another
// connection's shares too (a common greeting), and every seventh shares
// its 4-tuple in A with the one before (a port reused after it closed).
func pairingWindow(n int) (a, b []flowDigest) {
	r := rand.New(rand.NewPCG(1, 2))
	server := netip.MustParseAddrPort("10.2.0.10:445")
	a, b = make([]flowDigest, n), make([]flowDigest, n)
	for i := range n {
		port := uint16(20000 + i)
		if i%7 == 6 {
			port-- // the 4-tuple of connection i−1, reused
		}
		ca := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), port)
		cb := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.4"), uint16(30000+i))
		start := int64(i) * int64(time.Millisecond)
		isn := capture.Seq(r.Uint32())
		fa := flowDigest{client: ca, server: server, x: ca, start: start, key: tupleOf(ca, server), id: int32(i)}
		fa.syn = handshakeDigest{isn: isn, seen: true}
		fa.synack = handshakeDigest{isn: capture.Seq(r.Uint32()), seen: true}
		fb := fa
		fb.client, fb.x, fb.key, fb.start = cb, cb, tupleOf(cb, server), start+int64(time.Millisecond)
		for d := range 2 {
			for sig := range sampledSignals {
				k := d*sampledSignals + sig
				fa.at[k], fb.at[k] = uint16(len(fa.samples)), uint16(len(fb.samples))
				m := 1 + r.IntN(sketchSize)
				var ss []pairSample
				for j := range m {
					h := r.Uint64()
					if i%5 == 0 && j < 2 {
						h = uint64(j + 1) // shared with other connections
					}
					ss = append(ss, pairSample{h: h, time: start + int64(j)*int64(time.Microsecond), seq: capture.Seq(r.Uint32()),
						tsval: r.Uint32(), ipid: uint16(r.Uint32()), ttl: 64, hasTS: true, hasIPID: true, sig: analyze.PairSignal(sig)})
				}
				slices.SortFunc(ss, func(x, y pairSample) int { return cmp.Compare(x.h, y.h) })
				fa.samples = append(fa.samples, ss...)
				for _, s := range ss {
					s.time += int64(time.Millisecond)
					s.ttl = 61
					fb.samples = append(fb.samples, s)
				}
			}
			fa.at[2*sampledSignals], fb.at[2*sampledSignals] = uint16(len(fa.samples)), uint16(len(fb.samples))
		}
		a[i], b[i] = fa, fb
	}
	return a, b
}

// TestAssignPairsPairsAWindow checks the synthetic window the benchmark
// pairs: every connection with itself, all but a few at high confidence.
func TestAssignPairsPairsAWindow(t *testing.T) {
	da, db := pairingWindow(2000)
	chosen, high := assignPairs(newSideIndex(da), newSideIndex(db), 0, false)
	require.Len(t, chosen, 2000)
	for i, c := range chosen {
		assert.Equal(t, i, c.a)
		assert.Equal(t, i, c.b, "flow %d", i)
	}
	assert.Greater(t, len(high), 1900)
}

// BenchmarkAssignPairs pairs a window of 4,096 connections (the pairing
// window's size on the benchmark pair) from their digests.
func BenchmarkAssignPairs(b *testing.B) {
	da, db := pairingWindow(4096)
	b.ReportAllocs()
	for b.Loop() {
		sa, sb := newSideIndex(slices.Clone(da)), newSideIndex(slices.Clone(db))
		chosen, _ := assignPairs(sa, sb, 0, false)
		if len(chosen) != len(da) {
			b.Fatal(len(chosen), " pairs")
		}
	}
}
