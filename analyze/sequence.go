package analyze

import (
	"math/bits"
	"time"

	"rwin/capture"
)

// This file follows each endpoint's sequence space: what it sent that was
// new or resent, how much it had in flight against the peer's window, and
// where that stood against the window field taken unscaled.

// maxBeyondRuns bounds track.beyond: a flight crosses the unscaled edge
// once, so a few runs cover the data still in flight.
const maxBeyondRuns = 4

// seqRange is the sequence space [from, to).
type seqRange struct{ from, to capture.Seq }

// noteBeyond records new data [from, to) sent past the unscaled edge.
func (t *track) noteBeyond(from, to capture.Seq, acked capture.Seq) {
	if n := t.nBeyond; n > 0 && !t.beyond[n-1].to.LessThan(from) {
		t.beyond[n-1].to = to // contiguous with (or overlapping) the last run
		return
	}
	if int(t.nBeyond) == maxBeyondRuns {
		// Drop acknowledged runs; if none, the oldest.
		kept := t.beyond[:0]
		for _, r := range t.beyond {
			if acked.LessThan(r.to) {
				kept = append(kept, r)
			}
		}
		if len(kept) == maxBeyondRuns {
			kept = append(kept[:0], t.beyond[1:]...)
		}
		t.nBeyond = uint8(len(kept))
	}
	t.beyond[t.nBeyond] = seqRange{from, to}
	t.nBeyond++
}

// sentBeyond reports whether [from, to) overlaps data first sent past the
// unscaled edge.
func (t *track) sentBeyond(from, to capture.Seq) bool {
	for _, r := range t.beyond[:t.nBeyond] {
		if from.LessThan(r.to) && r.from.LessThan(to) {
			return true
		}
	}
	return false
}

// sent records a segment occupying length bytes of s's sequence space; r is
// the receiver, whose windows limit s.
func (fs *flowState) sent(seg *capture.Segment, length uint32, s *Endpoint, st *track, r *Endpoint, rt *track) {
	end := seg.Seq.Add(length)
	if seg.Payload > 0 {
		s.DataPackets++
		switch {
		case seg.Untimed:
			s.UntimedData++
		case s.DataPackets-uint64(s.UntimedData) == 1:
			s.FirstData, s.LastData = seg.Time, seg.Time
		default:
			s.LastData = max(s.LastData, seg.Time)
		}
		st.mss = max(st.mss, uint32(seg.Payload))
	}
	if st.nxtOK && !st.nxt.LessThan(end) {
		// Nothing new: a retransmission (or reordering before the capture
		// point). Karn's rule: a timed segment resent gives no sample.
		if seg.Payload == 0 {
			return
		}
		s.RetransPackets++
		s.RetransBytes += uint64(seg.Payload)
		if st.timing && seg.Seq.LessThan(st.timedEnd) {
			st.timing = false
		}
		fs.beyondUnscaled(seg, end, s, st, rt)
		if rt.shiftKnown && rt.shift > 0 {
			if st.sentBeyond(seg.Seq, end) {
				s.RetransSentBeyond++
			} else {
				s.RetransSentWithin++
			}
		}
		return
	}
	if st.nxtOK {
		if adv := end.Sub(st.nxt); adv > 0 {
			s.UniqueBytes += uint64(adv)
		}
	} else if seg.Payload > 0 {
		s.UniqueBytes += uint64(seg.Payload)
	}
	st.nxt, st.nxtOK = end, true
	// A segment without a timestamp starts no RTT timing and no wait.
	if seg.Payload > 0 && !st.timing && !seg.Untimed {
		st.timing, st.timedEnd, st.timedTime = true, end, seg.Time
	}
	if seg.Payload > 0 && !st.stalled && !seg.Untimed {
		st.stalled, st.stallFrom, st.stallPkt = true, seg.Time, seg.Packet
	}
	if seg.Payload == 0 || !rt.ackOK {
		return
	}
	inFlight := end.Sub(rt.ack)
	if inFlight <= 0 {
		return
	}
	fl := uint32(inFlight)
	s.MaxInFlight = max(s.MaxInFlight, fl)
	if rt.shiftKnown {
		if rt.winOK {
			w := uint32(rt.win) << rt.shift
			mss := st.mss
			if mss == 0 {
				mss = defaultMSS
			}
			if fl+mss > w {
				s.AtWindowPackets++
			}
			if rt.shift > 0 && time.Duration(seg.Time-r.Window.FirstTime) >= fs.legRTT(s) {
				s.UnscaledJudged++
				switch raw := uint32(rt.win); {
				case fl > raw:
					s.BeyondUnscaledPackets++
					from := rt.ack.Add(raw) // the part past the edge
					if from.LessThan(seg.Seq) {
						from = seg.Seq
					}
					st.noteBeyond(from, end, rt.ack)
				case fl == raw:
					s.FillUnscaledPackets++
					if s.FirstFillUnscaledPacket == 0 {
						s.FirstFillUnscaledPacket = seg.Packet
					}
				}
			}
		}
		if rt.edgeOK && rt.edge.LessThan(end) {
			s.OverWindowPackets++
			s.MaxOverWindow = max(s.MaxOverWindow, uint32(end.Sub(rt.edge)))
			if s.FirstOverPacket == 0 {
				s.FirstOverPacket = seg.Packet
			}
		}
		return
	}
	// Shift unknown: the largest raw window the receiver advertised must,
	// once scaled, have covered what the sender put beyond the latest
	// acknowledgment (earlier acknowledgments were lower, so the bound
	// holds whichever window the sender obeyed).
	if rt.maxWin > 0 && fl > uint32(rt.maxWin) {
		need := capture.Shift(bits.Len32((fl - 1) / uint32(rt.maxWin)))
		if need > r.InferredShift && need <= capture.MaxShift {
			r.InferredShift, r.InferredPacket = need, seg.Packet
		}
	}
}

// legRTT is the round trip between the capture point and endpoint e, as
// the handshake showed it (0 when unknown): how long a window the peer
// advertised at the capture point takes to reach e and be acted on.
func (fs *flowState) legRTT(e *Endpoint) time.Duration {
	if e == &fs.Client {
		return fs.ClientRTT
	}
	return fs.ServerRTT
}

// beyondUnscaled counts a retransmission that ended past the receiver's
// window taken unscaled but inside its scaled window: what a middlebox
// that ignores the negotiated shift drops.
func (fs *flowState) beyondUnscaled(seg *capture.Segment, end capture.Seq, s *Endpoint, st, rt *track) {
	if !rt.shiftKnown || rt.shift == 0 || !rt.ackOK || !rt.winOK {
		return
	}
	unscaledEdge := rt.ack.Add(uint32(rt.win))
	if unscaledEdge.LessThan(end) && (!rt.edgeOK || !rt.edge.LessThan(end)) {
		s.RetransBeyondUnscaled++
		if s.FirstBeyondPacket == 0 {
			s.FirstBeyondPacket = seg.Packet
		}
		st.beyondRun++
		s.MaxBeyondRun = max(s.MaxBeyondRun, st.beyondRun)
	}
}
