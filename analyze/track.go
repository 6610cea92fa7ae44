package analyze

import (
	"time"

	"rwin/capture"
)

// flowState is a live flow: the Flow being built plus the running state
// that only matters while packets arrive. Its size is fixed.
//
// It fits Go's 2 KiB size class (TestFlowStateSizeClass); the next class
// is 2,304 bytes. Fields are ordered to leave little padding, and the
// table's bookkeeping is kept small (a list index, no stored hash).
type flowState struct {
	Flow
	prev, next     *flowState
	lastTime       int64
	moved          int64 // capture time of the last move to a list's head (touch)
	client, server track
	lastSYNACKTime int64
	// lastSYNACKTSVal is the timestamp value of the latest SYN-ACK, valid
	// when lastSYNACKTS: an ACK that echoes it answers that copy.
	lastSYNACKTSVal uint32
	lastSYNACKTS    bool
	// synackUntimed, synUntimed and answeredUntimed: the latest SYN-ACK,
	// the SYN and AnsweredSYN had no timestamp of their own (no RTT from
	// them).
	synackUntimed   bool
	synUntimed      bool
	answeredUntimed bool
	list            listID // the table's list it is on
	scalingOn       bool   // valid when Negotiated.ScalingFrom is set
	partition       uint8  // flowPartition of its segments
	// series is, with Config.Series, its series' slot (see
	// SeriesRecorder.record); in a shard, which records no series, the
	// segment that last moved it to a list's head (see pushedBefore).
	series uint32
}

// track is the running sequence state of one endpoint. Its fields are
// grouped by size, so that it packs without padding.
type track struct {
	// beyond holds the latest runs of new data it sent past the peer's
	// unscaled window edge (ack + window field), merged where contiguous;
	// runs the peer has acknowledged are dropped first when it is full.
	beyond [maxBeyondRuns]seqRange
	// windows is the distribution of the raw windows it advertised,
	// summarized into its Endpoint's Window when the flow is finished.
	windows windowCounts
	// timedTime: RTT timing of one of its data segments, sent then, ends
	// when the peer acknowledges timedEnd (valid when timing).
	timedTime int64
	// zeroStart: a zero-window episode is in progress since then (valid
	// when inZero).
	zeroStart int64
	// stallFrom, stallPkt: it has had data outstanding since then (that
	// packet) without the peer's acknowledgment advancing (valid when
	// stalled).
	stallFrom int64
	stallPkt  uint64
	// seqTopPkt is the segment that carried seqTop.
	seqTopPkt uint64
	// nxt is the highest sequence number it has sent, plus one.
	nxt capture.Seq
	// ack is the highest acknowledgment it has sent.
	ack capture.Seq
	// edge is the highest right window edge (ack + window<<shift) it has
	// advertised, valid when edgeOK (needs a known shift).
	edge     capture.Seq
	timedEnd capture.Seq
	// seqTop is the highest sequence number on any of its non-RST
	// segments, valid when seqTopOK.
	seqTop capture.Seq
	// tsFirst and tsMax bound the timestamp values it sent, valid when
	// tsOK.
	tsFirst, tsMax uint32
	// mss is the largest segment the peer allows it to send (the peer's
	// MSS option), or the largest payload it was seen to send.
	mss uint32
	// beyondRun counts retransmissions beyond the peer's unscaled window
	// since the peer's acknowledgment last advanced.
	beyondRun uint32
	// win is the last raw window it advertised, shift its applied shift
	// when shiftKnown (the handshake settled it); maxWin the largest raw
	// window so far.
	win, maxWin uint16
	shift       capture.Shift
	shiftKnown  bool
	nBeyond     uint8
	nxtOK       bool
	ackOK       bool
	winOK       bool
	edgeOK      bool
	timing      bool
	inZero      bool
	zeroUntimed bool // the zero-window episode began on an untimed packet
	stalled     bool
	seqTopOK    bool
	tsOK        bool
}

// foreignTSMargin is how far (in timestamp ticks) an echo may lie outside
// the values the peer was seen to send before it counts as another clock.
// A capture that misses the peer's latest segments, or starts mid-stream,
// is off by a few RTTs of ticks; an unrelated clock by a random 32-bit
// offset.
const foreignTSMargin = 1 << 16

// defaultMSS is assumed when neither the handshake nor the data says
// better: RFC 9293 §3.7.1's default for IPv4 is 536, but a window-limited
// sender nowadays almost always sends 1460-byte segments.
const defaultMSS = 1460

// start makes zeroed state the new flow id that seg opens.
func (fs *flowState) start(id uint64, seg *capture.Segment) {
	fs.ID = id
	fs.partition = uint8(flowPartition(seg))
	src, dst := seg.SrcEndpoint(), seg.DstEndpoint()
	switch {
	case seg.IsSYN():
		fs.Client.Addr, fs.Server.Addr, fs.Roles = src, dst, RoleFromSYN
	case seg.IsSYNACK():
		fs.Client.Addr, fs.Server.Addr, fs.Roles = dst, src, RoleFromSYNACK
	default:
		client, server, byPort := rolesByPort(src, dst)
		fs.Client.Addr, fs.Server.Addr = client, server
		fs.Roles = RoleFromFirstPacket
		if byPort {
			fs.Roles = RoleFromPort
		}
	}
	fs.Service = ServiceName(fs.Server.Addr.Port())
	fs.FirstPacket = seg.Packet
}

// transient reports a flow that is closed, or has carried no data: it may
// be finished once quiet for the linger time.
func (fs *flowState) transient() bool {
	return fs.closed() || fs.Client.DataPackets+fs.Server.DataPackets == 0
}

// fromClient reports whether seg was sent by the flow's client.
func (fs *flowState) fromClient(seg *capture.Segment) bool {
	return seg.SrcPort == fs.Client.Addr.Port() && seg.Src == fs.Client.Addr.Addr()
}

// isNewIncarnation reports whether seg opens a new connection on the same
// 4-tuple rather than continuing this one. A SYN with a new initial sequence
// number starts a new connection (port reuse), except the server's SYN in a
// simultaneous open and a SYN captured after its own SYN-ACK.
func (fs *flowState) isNewIncarnation(seg *capture.Segment) bool {
	if !seg.IsSYN() {
		return false
	}
	if fs.fromClient(seg) {
		if fs.SYN.Seen {
			return seg.Seq != fs.SYN.ISN
		}
		// No SYN yet: the flow began with a SYN-ACK or mid-stream. A SYN
		// the SYN-ACK acknowledges is this flow's, captured out of order.
		return !(fs.SYNACK.Seen && fs.SYNACK.Ack == seg.Seq.Add(1))
	}
	// From the server side.
	if fs.SYN.Seen && !fs.SYNACK.Seen && fs.Server.Packets == 0 {
		return false // simultaneous open
	}
	if fs.Handshake == HandshakeSimultaneous && seg.Seq == fs.SYNACK.ISN {
		return false // retransmission of the server's SYN
	}
	return true
}

// update folds one segment into the flow.
func (fs *flowState) update(seg *capture.Segment) {
	fromClient := fs.fromClient(seg)
	s, r := &fs.Client, &fs.Server
	st, rt := &fs.client, &fs.server
	if !fromClient {
		s, r = r, s
		st, rt = rt, st
	}
	fs.LastPacket = seg.Packet
	// A packet without a timestamp neither starts nor extends the flow's
	// time span: its Time only repeats the previous packet's.
	switch {
	case seg.Untimed:
	case !fs.Timed:
		fs.Start, fs.End, fs.lastTime, fs.Timed = seg.Time, seg.Time, seg.Time, true
	default:
		fs.lastTime = seg.Time
		if seg.Time > fs.End {
			fs.End = seg.Time
		}
		if seg.Time < fs.Start && fs.Start-seg.Time <= MaxTimeStepBack {
			fs.Start = seg.Time
		}
	}

	s.Packets++
	s.Bytes += uint64(seg.Payload)
	if s.Packets == 1 {
		s.FirstTTL = seg.TTL
	} else if seg.TTL != s.LastTTL {
		s.TTLChanged = true
	}
	s.LastTTL = seg.TTL
	fs.recordOddities(s, seg)
	fs.timestamps(seg, s, st, rt)

	syn := seg.Flags.Has(capture.FlagSYN)
	if !syn && !seg.Flags.Has(capture.FlagRST) {
		if !s.AfterHandshake.Seen {
			s.AfterHandshake = SegmentMark{Seen: true, Packet: seg.Packet, Time: seg.Time, TTL: seg.TTL,
				TSVal: seg.Opts.TSVal, HasTS: seg.Opts.Carries(capture.HasTimestamp)}
		}
		if !st.seqTopOK || st.seqTop.LessThan(seg.Seq) {
			st.seqTop, st.seqTopOK, st.seqTopPkt = seg.Seq, true, seg.Packet
		}
	}
	if syn {
		fs.handshake(seg, fromClient)
	} else if fromClient && fs.SYNACK.Seen && fs.HandshakeACKPacket == 0 &&
		seg.Flags.Has(capture.FlagACK) && seg.Ack.Sub(fs.SYNACK.ISN.Add(1)) >= 0 {
		fs.HandshakeACKPacket = seg.Packet
		if fs.Handshake != HandshakeSimultaneous && !seg.Untimed && !fs.synackUntimed && fs.answersLatestSYNACK(seg) {
			fs.ClientRTT = time.Duration(seg.Time - fs.lastSYNACKTime)
		}
	}

	// The peer's view: acknowledgments and windows this segment carries.
	if seg.Flags.Has(capture.FlagACK) {
		fs.ackAndWindow(seg, s, st, rt, syn)
	}

	// Sequence space this segment occupies: payload, plus one for SYN
	// and FIN (RFC 9293 §3.4).
	length := uint32(seg.Payload)
	if syn {
		length++
	}
	if seg.Flags.Has(capture.FlagFIN) {
		length++
		if s.FINPacket == 0 {
			s.FINPacket = seg.Packet
		}
	}
	if seg.Flags.Has(capture.FlagRST) {
		switch {
		case !fs.acceptableRST(seg, fromClient, rt):
			s.IgnoredRSTs++
			if s.FirstIgnoredRST == 0 {
				s.FirstIgnoredRST = seg.Packet
			}
		case s.RSTPacket == 0:
			s.RSTPacket = seg.Packet
		}
		return // a reset's sequence number says nothing about data sent
	}
	if length > 0 {
		fs.sent(seg, length, s, st, r, rt)
	}
}

// recordOddities counts protocol violations the rules will judge.
func (fs *flowState) recordOddities(s *Endpoint, seg *capture.Segment) {
	o := &seg.Opts
	if o.Issue.Problem != capture.OptOK {
		s.OptionIssues++
		if s.FirstOptionIssuePacket == 0 {
			s.FirstOptionIssuePacket, s.FirstOptionIssue = seg.Packet, o.Issue
		}
	}
	if seg.Truncated {
		s.TruncatedHeaders++
		if s.FirstTruncatedPacket == 0 {
			s.FirstTruncatedPacket = seg.Packet
		}
	}
	if seg.Flags.Has(capture.FlagSYN) {
		return
	}
	// RFC 7323 §2.2: window scale on a non-SYN segment is ignored.
	if o.Carries(capture.HasWScale) {
		s.WScaleOnNonSYN++
		if s.FirstWScaleOnNonSYN == 0 {
			s.FirstWScaleOnNonSYN = seg.Packet
		}
	}
	if o.Carries(capture.HasSACK) && fs.negotiatedNo(capture.HasSACKPerm) {
		s.SACKUnnegotiated++
		if s.FirstSACKUnneg == 0 {
			s.FirstSACKUnneg = seg.Packet
		}
	}
	if o.Carries(capture.HasTimestamp) && fs.negotiatedNo(capture.HasTimestamp) {
		s.TSUnnegotiated++
		if s.FirstTSUnneg == 0 {
			s.FirstTSUnneg = seg.Packet
		}
	}
}

// timestamps follows the timestamp clocks (RFC 7323 §3): the values s
// sends, and whether its echoes belong to the peer's clock.
func (fs *flowState) timestamps(seg *capture.Segment, s *Endpoint, st, rt *track) {
	o := &seg.Opts
	if !o.Carries(capture.HasTimestamp) {
		return
	}
	switch {
	case !st.tsOK:
		st.tsFirst, st.tsMax, st.tsOK = o.TSVal, o.TSVal, true
	case int32(o.TSVal-st.tsMax) > 0:
		st.tsMax = o.TSVal
	}
	// TSecr is only meaningful with ACK set (RFC 7323 §3.2); 0 is what a
	// stack sends before it has a value to echo.
	if !seg.Flags.Has(capture.FlagACK) || o.TSEcr == 0 || !rt.tsOK {
		return
	}
	if int32(rt.tsFirst-o.TSEcr) > foreignTSMargin || int32(o.TSEcr-rt.tsMax) > foreignTSMargin {
		s.ForeignTSEcr++
		if s.FirstForeignTSEcr == 0 {
			s.FirstForeignTSEcr = seg.Packet
		}
	}
}

// acceptableRST reports whether the receiver of a reset would accept it
// (RFC 9293 §3.10.7.3, RFC 5961 §3). A client in SYN-SENT (its SYN not
// yet answered) accepts only a reset that acknowledges its SYN; a side
// past that, one whose sequence number lies in its receive window as the
// capture last saw it (its latest acknowledgment plus its window). When
// the capture shows neither, the reset is taken at its word.
func (fs *flowState) acceptableRST(seg *capture.Segment, fromClient bool, rt *track) bool {
	if !fromClient && fs.SYN.Seen && !fs.SYNACK.Seen {
		// SYN-SENT: RFC 9293 §3.10.7.3, SND.UNA < SEG.ACK ≤ SND.NXT.
		return seg.Flags.Has(capture.FlagACK) && fs.SYN.ISN.LessThan(seg.Ack) && !rt.nxt.LessThan(seg.Ack)
	}
	if !rt.ackOK {
		return true
	}
	var wnd uint32
	switch {
	case rt.winOK && rt.shiftKnown:
		wnd = uint32(rt.win) << rt.shift
	case rt.winOK:
		wnd = uint32(rt.maxWin) << capture.MaxShift // shift unknown: the widest it could be
	case fromClient:
		wnd = uint32(fs.SYNACK.Window) // the server's SYN-ACK window, never scaled
	default:
		wnd = uint32(fs.AnsweredSYN.Window)
	}
	d := seg.Seq.Sub(rt.ack)
	// RFC 9293 §3.10.7.4: with a zero window only RCV.NXT itself is
	// acceptable.
	return d == 0 || (d > 0 && uint32(d) < wnd)
}

// ackAndWindow records what an ACK-bearing segment from s says about the
// peer's data (acknowledgment) and about s's receive window.
func (fs *flowState) ackAndWindow(seg *capture.Segment, s *Endpoint, st, rt *track, syn bool) {
	if !st.ackOK || st.ack.LessThan(seg.Ack) {
		st.ack, st.ackOK = seg.Ack, true
		// The peer's timed segment is acknowledged: an RTT sample from the
		// capture point to s and back.
		// An acknowledgment without a timestamp ends the timing with no
		// sample.
		if rt.timing && !seg.Ack.LessThan(rt.timedEnd) {
			if !seg.Untimed {
				fs.Peer(s).RTT.add(time.Duration(seg.Time - rt.timedTime))
			}
			rt.timing = false
		}
		// Progress: the peer's wait ends here, or starts over when data
		// is still outstanding. When is unknown without a timestamp: the
		// wait is not measured.
		rt.beyondRun = 0
		if rt.stalled && seg.Untimed {
			rt.stalled = false
		} else if rt.stalled {
			fs.Peer(s).stall(time.Duration(seg.Time-rt.stallFrom), rt.stallPkt, false)
			if rt.nxtOK && seg.Ack.LessThan(rt.nxt) {
				rt.stallFrom, rt.stallPkt = seg.Time, seg.Packet
			} else {
				rt.stalled = false
			}
		}
	}
	// RFC 7323 §2.2: the window of a SYN or SYN-ACK is never scaled; a
	// reset's window means nothing (RFC 9293 §3.10.7). They are not
	// advertisements to count.
	if syn || seg.Flags.Has(capture.FlagRST) {
		return
	}
	w := seg.Window
	s.Window.add(w, seg.Packet, seg.Time)
	st.windows.add(w)
	st.win, st.winOK = w, true
	st.maxWin = max(st.maxWin, w)
	if known := st.shiftKnown; known {
		edge := seg.Ack.Add(uint32(w) << st.shift)
		if !st.edgeOK || st.edge.LessThan(edge) {
			st.edge, st.edgeOK = edge, true
		}
	}
	// Zero windows, as tshark counts them: not on SYN, FIN or RST.
	if seg.Flags.Has(capture.FlagFIN) {
		return
	}
	if w == 0 {
		s.ZeroWindows++
		if s.FirstZeroPacket == 0 {
			s.FirstZeroPacket = seg.Packet
		}
		if !st.inZero {
			st.inZero, st.zeroStart, st.zeroUntimed = true, seg.Time, seg.Untimed
			s.ZeroEpisodes++
		}
	} else if st.inZero {
		st.inZero = false
		if !seg.Untimed && !st.zeroUntimed {
			s.ZeroTime += time.Duration(seg.Time - st.zeroStart)
		}
	}
}

// stall records a wait of d with data outstanding that began at packet
// from; toEnd marks a wait cut by the end of the flow.
func (e *Endpoint) stall(d time.Duration, from uint64, toEnd bool) {
	if d > e.MaxStall || (d == e.MaxStall && toEnd) {
		e.MaxStall, e.StallPacket, e.StallToEnd = d, from, toEnd
	}
}

// finalize completes the Flow value before it is handed on. It reads the
// window histograms without changing them, so a copy of a live flow's
// state may be finalized (Snapshot).
func (fs *flowState) finalize() {
	switch {
	case fs.Handshake == HandshakeSimultaneous:
	case fs.SYN.Seen && fs.SYNACK.Seen && fs.HandshakeACKPacket != 0:
		fs.Handshake = HandshakeComplete
	case fs.SYN.Seen && fs.SYNACK.Seen:
		fs.Handshake = HandshakeNoFinalACK
	case fs.SYN.Seen:
		fs.Handshake = HandshakeSYNOnly
	case fs.SYNACK.Seen:
		fs.Handshake = HandshakeSYNACKOnly
	default:
		fs.Handshake = HandshakeNone
	}
	for _, p := range []struct {
		e *Endpoint
		t *track
	}{{&fs.Client, &fs.client}, {&fs.Server, &fs.server}} {
		if p.t.inZero && !p.t.zeroUntimed {
			p.e.ZeroTime += time.Duration(fs.lastTime - p.t.zeroStart)
		}
		if p.t.inZero {
			p.t.inZero = false
		}
		if p.t.stalled {
			p.e.stall(time.Duration(fs.lastTime-p.t.stallFrom), p.t.stallPkt, true)
			p.t.stalled = false
		}
		if p.t.seqTopOK && p.t.nxtOK && p.t.nxt.LessThan(p.t.seqTop) {
			p.e.UnseenBytes, p.e.UnseenPacket = uint32(p.t.seqTop.Sub(p.t.nxt)), p.t.seqTopPkt
		}
		p.e.Window.summarize(&p.t.windows)
	}
	if !fs.SYNACK.Seen {
		// No SYN-ACK answered any of the SYNs: none is the answered one.
		fs.AnsweredSYN = HandshakeSegment{}
	}
	if fs.neverAnswered() {
		// Nothing was negotiated: no shift applies to anything.
		fs.client.shiftKnown, fs.server.shiftKnown = false, false
	}
	fs.Negotiated = fs.negotiation()
	fs.Client.Shift = fs.shiftResult(&fs.Client, &fs.client, fs.client.shiftKnown, fs.answeredOrFirstSYN())
	fs.Server.Shift = fs.shiftResult(&fs.Server, &fs.server, fs.server.shiftKnown, &fs.SYNACK)
}

// release hands back what the flow's state borrowed (the window
// histograms) once the finished Flow has been emitted.
func (fs *flowState) release() {
	fs.client.windows.release()
	fs.server.windows.release()
}
