package analyze

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"rwin/capture"
)

// flowIndex finds live flows by their flowHash: an open-addressing table
// with linear probing, whose slots hold the hash beside the flow.
//
// It replaced a Go map from hash to a chain of flows: the map hashed its
// 8-byte key again and probed groups of control bytes, a sixth of Add's
// time (pprof on the benchmark capture), where this is a mask and, nearly
// always, one slot. A slot's hash is compared before the flow is touched,
// so a colliding neighbour costs no trip to its state.
//
// Deletion shifts the following entries back (Knuth's Algorithm R), so
// there are no tombstones and probe sequences stay as short as the load
// allows. The table doubles when half full and never shrinks: it is
// bounded by the flow cap, 16 bytes a slot.
type flowIndex struct {
	slots []indexSlot
	n     int // occupied slots
}

type indexSlot struct {
	hash uint64
	fs   *flowState // nil: empty
}

// minIndexSlots is the table's size until more flows are live than half
// of it.
const minIndexSlots = 1024

// find returns the live flow with hash h that seg belongs to, or nil.
func (x *flowIndex) find(h uint64, seg *capture.Segment) *flowState {
	if x.slots == nil {
		return nil
	}
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.fs == nil {
			return nil
		}
		if s.hash == h && s.fs.carries(seg) {
			return s.fs
		}
	}
}

// insert adds fs under hash h.
func (x *flowIndex) insert(h uint64, fs *flowState) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	x.place(h, fs)
	x.n++
}

func (x *flowIndex) place(h uint64, fs *flowState) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i].fs != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = indexSlot{h, fs}
}

func (x *flowIndex) grow() {
	old := x.slots
	x.slots = make([]indexSlot, max(minIndexSlots, 2*len(old)))
	for _, s := range old {
		if s.fs != nil {
			x.place(s.hash, s.fs)
		}
	}
}

// remove takes fs, which must be in the table under hash h, out of it.
func (x *flowIndex) remove(h uint64, fs *flowState) {
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i].fs != fs {
		i = (i + 1) & mask
	}
	// Close the gap: an entry further along the run moves back into it
	// unless its home slot lies cyclically within (gap, entry], where
	// moving it would put it before its home.
	for j := (i + 1) & mask; x.slots[j].fs != nil; j = (j + 1) & mask {
		home := x.slots[j].hash & mask
		if (j-home)&mask >= (j-i)&mask {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = indexSlot{}
	x.n--
}

// flowHash hashes a segment's 4-tuple regardless of direction: the sum of
// its endpoints' hashes. The seed is random per Analyzer, so a crafted
// capture cannot aim its flows at one slot.
func (a *Analyzer) flowHash(seg *capture.Segment) uint64 { return segmentHash(seg, a.seed) }

// segmentHash is flowHash with the seed passed in. Run's reader goroutine
// hashes with a copy of the seed: reading a.seed there, beside fields the
// analyzer goroutine writes for every packet, bounced that cache line
// between the CPUs and cost about 10 ns a packet (BenchmarkRun).
func segmentHash(seg *capture.Segment, seed uint64) uint64 {
	return tupleHash(seg.Src, seg.SrcPort, seg.Dst, seg.DstPort, seed)
}

// storedHash is flowHash of fs's 4-tuple, for taking it out of the table:
// recomputed rather than kept, 8 bytes less in every live flow.
func (a *Analyzer) storedHash(fs *flowState) uint64 {
	c, s := fs.Client.Addr, fs.Server.Addr
	return tupleHash(c.Addr(), c.Port(), s.Addr(), s.Port(), a.seed)
}

// tupleHash hashes two endpoints in either order.
func tupleHash(x netip.Addr, xport uint16, y netip.Addr, yport uint16, seed uint64) uint64 {
	return mix(endpointHash(x, xport, seed)+endpointHash(y, yport, seed), seed)
}

// endpointHash hashes an address and port, IPv4 as IPv4-mapped IPv6 (as
// keyOf keys it).
func endpointHash(addr netip.Addr, port uint16, seed uint64) uint64 {
	hi, lo := addrWords(addr)
	return mix(hi^seed, lo^uint64(port)<<48^0xe7037ed1a0b428db)
}

// addrWords returns an address as the two big-endian halves of its
// 16-byte form, IPv4 as IPv4-mapped IPv6. Neither goes through As16: its
// array, stored as two words and copied as one 16-byte block, stalls
// store-to-load forwarding. IPv4 through As4 took a fifth off Add's time;
// IPv6 through AsSlice, whose array the compiler keeps on the stack and
// reads back word by word, took 14 ns off Run's reader for an IPv6
// segment (BenchmarkRun, bulk transfers).
func addrWords(addr netip.Addr) (hi, lo uint64) {
	if addr.Is4() {
		b := addr.As4()
		return 0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))
	}
	b := addr.AsSlice()
	if len(b) != 16 {
		return 0, 0 // the zero Addr: no packet carries it
	}
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// mix is wyhash's multiply-fold of two words.
func mix(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x^0xa0761d6478bd642f, y^0x8ebc6af09c88c6e3)
	return hi ^ lo
}
