package analyze

import (
	"time"

	"rwin/capture"
)

// A flow's handshake: the SYNs and SYN-ACKs it saw, what they negotiated
// (RFC 7323 window scaling and timestamps, SACK, MSS), and the times
// between them.

// negotiatedNo reports that the handshake captured proves an option was not
// negotiated: a SYN or SYN-ACK that was seen lacked it.
func (fs *flowState) negotiatedNo(opt capture.OptSet) bool {
	return (fs.AnsweredSYN.Seen && !fs.AnsweredSYN.Opts.Carries(opt)) ||
		(fs.SYNACK.Seen && !fs.SYNACK.Opts.Carries(opt))
}

// handshake follows SYNs and SYN-ACKs.
func (fs *flowState) handshake(seg *capture.Segment, fromClient bool) {
	hs := HandshakeSegment{
		Seen: true, Packet: seg.Packet, Time: seg.Time, ISN: seg.Seq, Ack: seg.Ack,
		Flags: seg.Flags, Window: seg.Window, TTL: seg.TTL, IPID: seg.IPID,
		Payload: seg.Payload, Opts: seg.Opts,
	}
	switch {
	case seg.IsSYN() && fromClient:
		fs.SYNs++
		if !fs.SYN.Seen {
			fs.SYN, fs.synUntimed = hs, seg.Untimed
		} else if !sameOptions(&fs.SYN.Opts, &seg.Opts) {
			fs.SYNChanged = true
		}
		switch {
		case !fs.SYNACK.Seen:
			fs.AnsweredSYN, fs.answeredUntimed = hs, seg.Untimed // the SYN-ACK, when it comes, answers the latest try
		case !fs.AnsweredSYN.Seen && fs.answeredBy(&hs, &fs.SYNACK):
			// Captured after the SYN-ACK that answers it (reordered
			// across NIC queues, -i any, merged captures): the
			// handshake is whole again. No server-side RTT: the
			// capture order says nothing about the path.
			fs.AnsweredSYN, fs.answeredUntimed = hs, seg.Untimed
			fs.Roles = RoleFromSYN
		}
	case seg.IsSYN(): // the server's SYN: simultaneous open (RFC 9293 §3.5)
		fs.Handshake = HandshakeSimultaneous
		if !fs.SYNACK.Seen {
			fs.SYNACK = hs
			fs.lastSYNACKTime, fs.synackUntimed = seg.Time, seg.Untimed
		} else {
			fs.SYNACKs++
		}
	case !fromClient: // SYN-ACK from the server
		fs.SYNACKs++
		fs.lastSYNACKTime, fs.synackUntimed = seg.Time, seg.Untimed
		fs.lastSYNACKTSVal, fs.lastSYNACKTS = seg.Opts.TSVal, seg.Opts.Carries(capture.HasTimestamp)
		if fs.SYNACK.Seen {
			if !sameOptions(&fs.SYNACK.Opts, &seg.Opts) {
				fs.SYNACKChanged = true
			}
			break
		}
		fs.SYNACK = hs
		if fs.AnsweredSYN.Seen {
			fs.ServerRTT = fs.synToSYNACK(&hs, seg.Untimed)
			fs.SYNACKAckMismatch = seg.Ack != fs.AnsweredSYN.ISN.Add(1)
		}
	default:
		// A SYN-ACK from the client: the second half of a simultaneous
		// open, whose options the client's SYN already announced.
	}
	fs.settle()
	fs.applyMSS()
}

// settle fixes what the captured handshake says about scaling, so later
// segments can be scaled as they come. It runs after every SYN and SYN-ACK:
// a retried SYN may change the answer until the SYN-ACK arrives.
// RFC 7323 §2.2: scaling is on only when both SYN and SYN-ACK carry the
// option, so either one seen without it settles scaling as off; and a
// SYN-ACK may carry it only in answer to a SYN that did, so a SYN-ACK with
// it settles scaling as on even without its SYN, with the server's shift
// known and the client's not.
func (fs *flowState) settle() {
	syn, ack := &fs.AnsweredSYN, &fs.SYNACK
	synWS := syn.Seen && syn.Opts.Carries(capture.HasWScale)
	ackWS := ack.Seen && ack.Opts.Carries(capture.HasWScale)
	from := ScalingFromHandshake
	switch {
	case !syn.Seen && ack.Seen:
		from = ScalingFromSYNACK
	case syn.Seen && !ack.Seen:
		from = ScalingFromSYN
	}
	fs.client.shift, fs.server.shift = 0, 0
	fs.client.shiftKnown, fs.server.shiftKnown = false, false
	switch {
	case syn.Seen && !synWS, ack.Seen && !ackWS:
		if ack.Seen && !ackWS {
			from = min(from, ScalingFromSYNACK) // the SYN-ACK settles it too
		}
		fs.Negotiated.ScalingFrom, fs.scalingOn = from, false
		fs.client.shiftKnown, fs.server.shiftKnown = true, true
	case ack.Seen:
		fs.Negotiated.ScalingFrom, fs.scalingOn = from, true
		fs.server.shift, fs.server.shiftKnown = ack.Opts.WScale.Effective(), true
		if syn.Seen {
			fs.client.shift, fs.client.shiftKnown = syn.Opts.WScale.Effective(), true
		}
	default:
		fs.Negotiated.ScalingFrom = ScalingUnsettled
	}
}

// answeredBy reports whether the SYN-ACK ack answers the SYN syn: it
// acknowledges the SYN's sequence number, and, when both carry
// timestamps, echoes the SYN's (RFC 7323 §3.2; a retried SYN carries a
// new TSval, so the echo tells which copy was answered).
func (fs *flowState) answeredBy(syn, ack *HandshakeSegment) bool {
	if ack.Ack != syn.ISN.Add(1) {
		return false
	}
	const ts = capture.HasTimestamp
	return !syn.Opts.Carries(ts) || !ack.Opts.Carries(ts) || ack.Opts.TSEcr == syn.Opts.TSVal
}

// synToSYNACK is the server half of the handshake RTT, 0 when Karn's
// rule leaves it unknown (RFC 6298 §3): after a retried SYN the SYN-ACK
// may answer any copy, unless its timestamp echo names the first or the
// latest.
func (fs *flowState) synToSYNACK(ack *HandshakeSegment, ackUntimed bool) time.Duration {
	const ts = capture.HasTimestamp
	latest := &fs.AnsweredSYN
	switch {
	case ackUntimed:
		return 0
	case fs.SYNs <= 1:
		return timedSpan(latest, fs.answeredUntimed, ack)
	case !ack.Opts.Carries(ts) || !latest.Opts.Carries(ts):
		return 0
	case ack.Opts.TSEcr == latest.Opts.TSVal:
		return timedSpan(latest, fs.answeredUntimed, ack)
	case fs.SYN.Opts.Carries(ts) && ack.Opts.TSEcr == fs.SYN.Opts.TSVal:
		return timedSpan(&fs.SYN, fs.synUntimed, ack)
	}
	return 0
}

// timedSpan is the time from the SYN syn to the SYN-ACK ack, 0 (unknown)
// when the SYN had no timestamp of its own.
func timedSpan(syn *HandshakeSegment, synUntimed bool, ack *HandshakeSegment) time.Duration {
	if synUntimed {
		return 0
	}
	return time.Duration(ack.Time - syn.Time)
}

// answersLatestSYNACK reports whether the client's ACK seg can time the
// client half of the handshake from the latest SYN-ACK (Karn's rule): the
// SYN-ACK was sent once, or the ACK echoes the latest copy's timestamp.
func (fs *flowState) answersLatestSYNACK(seg *capture.Segment) bool {
	if fs.SYNACKs <= 1 {
		return true
	}
	return fs.lastSYNACKTS && seg.Opts.Carries(capture.HasTimestamp) && seg.Opts.TSEcr == fs.lastSYNACKTSVal
}

// applyMSS sets each side's segment size from the peer's MSS option.
func (fs *flowState) applyMSS() {
	if fs.SYN.Seen && fs.SYN.Opts.Carries(capture.HasMSS) {
		fs.server.mss = uint32(fs.SYN.Opts.MSS)
	}
	if fs.SYNACK.Seen && fs.SYNACK.Opts.Carries(capture.HasMSS) {
		fs.client.mss = uint32(fs.SYNACK.Opts.MSS)
	}
}

// neverAnswered reports a flow of SYNs only, which the peer never answered
// in the capture: no packet from it, and nothing but SYNs from the client.
func (fs *flowState) neverAnswered() bool {
	return fs.SYN.Seen && fs.Server.Packets == 0 && fs.Client.Packets == uint64(fs.SYNs)
}

func (fs *flowState) answeredOrFirstSYN() *HandshakeSegment {
	if fs.AnsweredSYN.Seen {
		return &fs.AnsweredSYN
	}
	return &fs.SYN
}

func (fs *flowState) shiftResult(e *Endpoint, t *track, known bool, hs *HandshakeSegment) Shift {
	var sh Shift
	if hs.Seen && hs.Opts.Carries(capture.HasWScale) {
		sh.Announced, sh.AnnouncedSeen = hs.Opts.WScale, true
	}
	switch {
	case known:
		sh.Basis, sh.Value = BasisNegotiated, t.shift
	case e.InferredShift > 0:
		sh.Basis, sh.Value = BasisInferred, e.InferredShift
	}
	return sh
}

// negotiation derives what the captured handshake settled. A side seen
// without an option settles it as off; both sides seen with it settle it as
// on; a SYN-ACK with timestamps settles them as on, since RFC 7323 §3.2
// lets it carry them only in answer to a SYN that did (window scale: see
// settle); anything else is unknown. A SYN nobody answered negotiated
// nothing: every field is unknown.
func (fs *flowState) negotiation() Negotiation {
	if fs.neverAnswered() {
		return Negotiation{}
	}
	syn := fs.answeredOrFirstSYN()
	one := func(opt capture.OptSet) Tri {
		synHas, ackHas := syn.Opts.Carries(opt), fs.SYNACK.Opts.Carries(opt)
		switch {
		case syn.Seen && fs.SYNACK.Seen:
			return triOf(synHas && ackHas)
		case syn.Seen && !synHas, fs.SYNACK.Seen && !ackHas:
			return No
		case opt == capture.HasTimestamp && fs.SYNACK.Seen:
			return Yes
		}
		return Unknown
	}
	n := Negotiation{SACK: one(capture.HasSACKPerm), Timestamps: one(capture.HasTimestamp),
		ScalingFrom: fs.Negotiated.ScalingFrom}
	if n.ScalingFrom != ScalingUnsettled {
		n.Scaling = triOf(fs.scalingOn)
	}
	return n
}
