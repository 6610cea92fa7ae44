package pathdiff

import (
	"bytes"
	"net/netip"

	"rwin/analyze"
	"rwin/capture"
)

// The first pass of a diff reads each capture through its flow table with
// a sketcher as the table's Observer: the pairing sketches of a flow
// live beside the table's flow, under its ID, and when the table finishes
// the flow they shrink into its digest. So a flow is what the analyzer
// says it is (its new-incarnation rule, timers, eviction), in both passes
// alike, and each packet is decoded once a pass.

// flowDigest is what the pairing keeps of one finished flow.
type flowDigest struct {
	client, server netip.AddrPort
	// x is the endpoint that sent the flow's first segment: sketch
	// directions are "from x" (0) and "to x" (1), the same in both
	// captures whatever the roles.
	x                     netip.AddrPort
	start                 int64
	syn, answered, synack handshakeDigest
	key                   tupleKey
	// samples holds the flow's sketches back to back: the samples of
	// direction d and signal s are samples[at[k]:at[k+1]], k = d*3+s.
	samples []pairSample
	at      [2*sampledSignals + 1]uint16
	// id is the flow's ID − 1 in its capture; end is the capture's clock
	// when its table finished the flow, and closing says the flow was
	// still in the table when the capture ended (see pairWindow).
	id      int32
	end     int64
	closing bool
	// evicted: the table finished the flow when it was full, at the
	// packet that needed its room, rather than on an expiry sweep.
	evicted bool
}

// handshakeDigest is the part of a HandshakeSegment the pairing reads.
type handshakeDigest struct {
	isn  capture.Seq
	seen bool
}

func digestOf(h *analyze.HandshakeSegment) handshakeDigest { return handshakeDigest{h.ISN, h.Seen} }

// sketchAt returns where the samples of direction d and signal s lie in
// f.samples: from the first index to the second.
func (f *flowDigest) sketchAt(d, s int) [2]uint16 {
	k := d*sampledSignals + s
	return [2]uint16{f.at[k], f.at[k+1]}
}

// serverFirst reports whether the flow's first segment came from its
// server (a SYN-ACK captured before its SYN, or a guess of roles).
func (f *flowDigest) serverFirst() bool { return f.x != f.client }

// liveSketches are the sketches of a flow the table has not finished.
type liveSketches struct {
	x  netip.AddrPort
	sk [2][sampledSignals]pairSketch
}

// sketcher builds the digests of one capture's flows as the first pass
// files their segments.
type sketcher struct {
	pkt *capture.Packet // the packet being filed (analyze.Stepper.Packet)
	// live holds the sketches of the flows in progress, reused once their
	// flows finish.
	live flowSlots[*liveSketches]
	// flows are the digests of the flows finished since the first pass
	// last handed them to the pairing, in the order they finished.
	flows []flowDigest
	// clock is the latest packet time filed; closing is set once the
	// capture has ended and the table finishes what it still holds.
	clock   int64
	closing bool
}

func newSketcher() *sketcher { return &sketcher{} }

// sketches returns the sketches of flow f, taking a place for them at its
// first segment, seg.
func (o *sketcher) sketches(f *analyze.Flow, seg *capture.Segment) *liveSketches {
	ls, fresh := o.live.of(f)
	if fresh {
		if *ls == nil {
			*ls = new(liveSketches)
		}
		(*ls).x = seg.SrcEndpoint()
	}
	return *ls
}

// Segment samples one segment (Observer).
func (o *sketcher) Segment(f *analyze.Flow, seg *capture.Segment) {
	ls := o.sketches(f, seg)
	d := 0
	if seg.SrcPort != ls.x.Port() || seg.Src != ls.x.Addr() {
		d = 1
	}
	sk := &ls.sk[d]
	v := pairSample{
		time: seg.Time, seq: seg.Seq, ttl: seg.TTL, ipid: seg.IPID, hasIPID: !seg.IPv6 && seg.IPID != 0,
		tsval: seg.Opts.TSVal, hasTS: seg.Opts.Has&capture.HasTimestamp != 0,
	}
	// Tokens leave out what middleboxes rewrite: addresses, ports,
	// sequence and acknowledgment numbers, windows, TSecr (a SYN proxy
	// translates it), TTL.
	shape := uint64(seg.Payload)&0xffffff<<8 | uint64(seg.Flags&(capture.FlagSYN|capture.FlagFIN|capture.FlagRST))
	if v.hasTS {
		v.h, v.sig = mixToken(uint64(analyze.SignalTimestamps)<<60^uint64(v.tsval)<<32^shape), analyze.SignalTimestamps
		sk[analyze.SignalTimestamps].add(v)
	}
	if v.hasIPID {
		v.h, v.sig = mixToken(uint64(analyze.SignalIPID)<<60^uint64(v.ipid)<<32^shape), analyze.SignalIPID
		sk[analyze.SignalIPID].add(v)
	}
	if pl := seg.CapturedPayload(o.pkt.Data); len(pl) > 0 && len(pl) >= min(seg.Payload, payloadPrefix) {
		v.h, v.sig = mixToken(uint64(analyze.SignalPayload)<<60^fnvBytes(pl[:min(len(pl), payloadPrefix)])^shape), analyze.SignalPayload
		sk[analyze.SignalPayload].add(v)
	}
}

// finished turns a flow's sketches into its digest.
func (o *sketcher) finished(f *analyze.Flow) {
	o.flows = append(o.flows, flowDigest{client: f.Client.Addr, server: f.Server.Addr, x: f.Client.Addr, start: f.Start,
		syn: digestOf(&f.SYN), answered: digestOf(&f.AnsweredSYN), synack: digestOf(&f.SYNACK),
		key: tupleOf(f.Client.Addr, f.Server.Addr), id: int32(f.ID - 1), end: o.clock, closing: o.closing, evicted: f.Evicted})
	fd := &o.flows[len(o.flows)-1]
	if f.Observed == 0 {
		return // nothing filed: the flow holds only copies
	}
	lsp, _ := o.live.of(f)
	ls := *lsp
	fd.x = ls.x
	// A sample whose token recurred (a retransmission, segments sharing
	// a TSval) pairs nothing and matches nothing: the digest leaves it
	// out (a sixth of the benchmark pair's samples).
	n := 0
	for d := range 2 {
		for s := range sampledSignals {
			for _, v := range ls.sk[d][s].s {
				if !v.dup {
					n++
				}
			}
		}
	}
	fd.samples = make([]pairSample, 0, n)
	for d := range 2 {
		for s := range sampledSignals {
			for _, v := range ls.sk[d][s].s {
				if !v.dup {
					fd.samples = append(fd.samples, v)
				}
			}
			fd.at[d*sampledSignals+s+1] = uint16(len(fd.samples))
			if k := &ls.sk[d][s]; cap(k.s) <= sketchMin {
				k.s = k.s[:0]
			} else {
				k.s = nil
			}
		}
	}
	o.live.release(f)
}

// tupleKey names a 4-tuple whichever way its segments go, with IPv4
// addresses as IPv4-mapped IPv6 ones, as the flow table keys flows.
type tupleKey struct{ lo, hi tupleEnd }

type tupleEnd struct {
	addr [16]byte
	port uint16
}

func tupleOf(x, y netip.AddrPort) tupleKey {
	s, d := tupleEnd{x.Addr().As16(), x.Port()}, tupleEnd{y.Addr().As16(), y.Port()}
	if c := bytes.Compare(d.addr[:], s.addr[:]); c < 0 || c == 0 && d.port < s.port {
		s, d = d, s
	}
	return tupleKey{s, d}
}
