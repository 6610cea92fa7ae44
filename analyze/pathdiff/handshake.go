package pathdiff

import (
	"slices"

	"rwin/analyze"
	"rwin/capture"
)

// compareHandshakes compares the SYN and SYN-ACK copies of a pair. With
// the roles swapped there is no handshake in either capture to compare.
func compareHandshakes(p *analyze.FlowPair, a, b *analyze.Flow) {
	if p.Swapped {
		return
	}
	p.SYN = compareHandshake(&a.AnsweredSYN, &b.AnsweredSYN, &p.Dirs[analyze.ClientToServer])
	p.SYNACK = compareHandshake(&a.SYNACK, &b.SYNACK, &p.Dirs[analyze.ServerToClient])
}

// compareHandshake compares one handshake segment as each capture saw it;
// dir is its direction, whose upstream capture holds the sent copy.
func compareHandshake(a, b *analyze.HandshakeSegment, dir *analyze.DirDiff) analyze.HandshakeDiff {
	var h analyze.HandshakeDiff
	if !a.Seen || !b.Seen {
		return h
	}
	h.Compared = true
	h.Pair = analyze.PacketPair{A: analyze.PacketRef{Packet: a.Packet, Time: a.Time}, B: analyze.PacketRef{Packet: b.Packet, Time: b.Time}}
	sent, recv := a, b
	h.SentIn = analyze.CaptureA
	if dir.Upstream == analyze.CaptureB {
		sent, recv = b, a
		h.SentIn = analyze.CaptureB
	}
	h.LayoutSent, h.LayoutReceived = sent.Opts.Layout.String(), recv.Opts.Layout.String()
	h.WindowSent, h.WindowReceived = sent.Window, recv.Window
	h.TTLSent, h.TTLReceived = sent.TTL, recv.TTL
	h.ISNOffset = recv.ISN - sent.ISN
	h.Options = handshakeOptionDiffs(&sent.Opts, &recv.Opts)
	// Routers lower the TTL; a copy that arrives with a higher one, or
	// across another number of hops than the rest of its direction, was
	// made on the path.
	h.Originated = recv.TTL > sent.TTL || dir.HopsOK && int(sent.TTL)-int(recv.TTL) != dir.Hops
	return h
}

// fixedOptionBytes is the size of the options whose length is fixed, for
// telling a NOP-filled option from a removed one.
var fixedOptionBytes = map[uint8]int{
	capture.OptKindMSS: 4, capture.OptKindWScale: 3, capture.OptKindSACKPerm: 2,
	capture.OptKindTimestamp: 10, capture.OptKindMD5: 18,
}

// optionDiffs lists the options that differ between the sent and received
// copies of a handshake segment, in kind order. Presence comes from the
// layouts, so every kind counts, known or not.
func handshakeOptionDiffs(sent, recv *capture.Options) []analyze.OptionDiff {
	count := func(l *capture.Layout) (map[uint8]int, int) {
		m, nops := make(map[uint8]int), 0
		for i := range l.Len() {
			switch k := l.Kind(i); k {
			case capture.OptKindNOP:
				nops++
			case capture.OptKindEOL:
			default:
				m[k]++
			}
		}
		return m, nops
	}
	cs, nopS := count(&sent.Layout)
	cr, nopR := count(&recv.Layout)
	kinds := make([]uint8, 0, len(cs)+len(cr))
	for k := range cs {
		kinds = append(kinds, k)
	}
	for k := range cr {
		if cs[k] == 0 {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	var out []analyze.OptionDiff
	removedBytes, known := 0, true
	for _, k := range kinds {
		d := analyze.OptionDiff{Kind: k}
		d.Sent, _ = handshakeOptionValue(sent, k)
		d.Received, _ = handshakeOptionValue(recv, k)
		switch {
		case cs[k] > cr[k]:
			d.Change = analyze.OptionRemoved
			n, ok := fixedOptionBytes[k]
			removedBytes += n * (cs[k] - cr[k])
			known = known && ok
		case cr[k] > cs[k]:
			d.Change = analyze.OptionAdded
		default:
			vs, hs := handshakeOptionValue(sent, k)
			vr, hr := handshakeOptionValue(recv, k)
			if !hs || !hr || vs == vr {
				continue
			}
			d.Change = analyze.OptionValue
		}
		out = append(out, d)
	}
	if known && removedBytes > 0 && nopR-nopS >= removedBytes {
		for i := range out {
			if out[i].Change == analyze.OptionRemoved {
				out[i].NOPs = true
			}
		}
	}
	return out
}

// optionValue returns the value of a kind that has one, if carried.
func handshakeOptionValue(o *capture.Options, kind uint8) (uint32, bool) {
	switch kind {
	case capture.OptKindMSS:
		return uint32(o.MSS), o.Has&capture.HasMSS != 0
	case capture.OptKindWScale:
		return uint32(o.WScale), o.Has&capture.HasWScale != 0
	case capture.OptKindTimestamp:
		return o.TSVal, o.Has&capture.HasTimestamp != 0
	}
	return 0, false
}
