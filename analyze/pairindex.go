package analyze

import (
	"net/netip"

	"rwin/capture"
)

// incarnations numbers the flows of one capture identically on every pass
// over it, so that the second pass of a diff finds the state the first pass
// built for each flow. A flow is a 4-tuple until its SYN sender sends a SYN
// with another initial sequence number (port reuse, RFC 9293 §3.4), or a
// SYN arrives on a 4-tuple that already carried a connection: the same
// rule the flow table applies, without its timers.
type incarnations struct {
	live  map[flowKey]int32
	flows []incarnation
}

// incarnation is what the index keeps about one flow: enough to tell a new
// connection on the same 4-tuple, and to find the analyzer's flow.
type incarnation struct {
	key flowKey
	// x is the endpoint that sent the flow's first segment: directions are
	// "from x" and "to x", the same in both passes whatever the roles.
	x           netip.AddrPort
	synFrom     netip.AddrPort
	synISN      capture.Seq
	synSeen     bool
	established bool // a segment without SYN was seen
	firstPacket uint64
}

func newIncarnations() *incarnations {
	return &incarnations{live: make(map[flowKey]int32)}
}

// index returns the flow seg belongs to, whether x sent it, and whether it
// opened a new flow.
func (in *incarnations) index(seg *capture.Segment) (idx int, fromX, created bool) {
	k := keyOf(seg)
	src := seg.SrcEndpoint()
	i, ok := in.live[k]
	if ok && in.flows[i].newConnection(seg, src) {
		ok = false
	}
	if !ok {
		i = int32(len(in.flows))
		in.flows = append(in.flows, incarnation{key: k, x: src, firstPacket: seg.Packet})
		in.live[k] = i
		created = true
	}
	f := &in.flows[i]
	if seg.IsSYN() && !f.synSeen {
		f.synSeen, f.synFrom, f.synISN = true, src, seg.Seq
	}
	if seg.Flags&capture.FlagSYN == 0 {
		f.established = true
	}
	return int(i), src == f.x, created
}

// newConnection reports whether seg, on this flow's 4-tuple, starts
// another connection.
func (f *incarnation) newConnection(seg *capture.Segment, src netip.AddrPort) bool {
	if !seg.IsSYN() {
		return false
	}
	if f.synSeen {
		return src == f.synFrom && seg.Seq != f.synISN
	}
	return f.established
}

// keyOfAddrs is keyOf for two endpoints.
func keyOfAddrs(a, b netip.AddrPort) flowKey {
	s := endpointKey{a.Addr().As16(), a.Port()}
	d := endpointKey{b.Addr().As16(), b.Port()}
	if lessEndpoint(d, s) {
		s, d = d, s
	}
	return flowKey{s, d}
}
