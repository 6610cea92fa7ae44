package pathdiff

import (
	"math"
	"time"

	"rwin/analyze"
	"rwin/capture"
)

// Matching segment by segment. Both captures are read again, merged on one
// time line (B's clock moved by the clock offset). A segment of a paired
// flow waits in its direction's pending queue until the other capture's
// copy turns up; one still unmatched after the direction's one-way delay
// plus a slack was seen by one capture point only. Memory per pair is the
// segments in flight between the capture points, capped at diffMaxPending.
const (
	// diffMatchSlack is how long past its expected time a copy may still
	// come: queueing and scheduling jitter at the capture points.
	diffMatchSlack = 300 * time.Millisecond
	// diffMaxSpread caps the jitter measured on the pairing samples that
	// widens the wait.
	diffMaxSpread = 5 * time.Second
	// diffMaxPending caps the unmatched segments kept per direction and
	// capture; beyond it the oldest is given up (counted as Overflow).
	diffMaxPending = 8192
	// pendingSweep is how often, in capture time, every pair's queues are
	// checked for segments that waited long enough.
	pendingSweep = 100 * time.Millisecond
	// diffMinJitter is the least uncertainty of when a copy comes, for
	// deciding whether the other capture was recording then.
	diffMinJitter = 20 * time.Millisecond
)

// pairState is the second pass's state of one pair, from its first
// segment until both its flows have finished.
type pairState struct {
	pair analyze.FlowPair
	n    int // the pair's place in the order of A's flows
	// flows holds each capture's flow once it finished, until the other
	// has; done says which have.
	flows  [2]*analyze.Flow
	series [2]*analyze.Series
	done   [2]bool
	// due is a time on the merged time line before which no pending
	// segment of the pair expires (see expire); at most the earliest
	// pending segment's time plus its direction's horizon.
	due int64
	// live is the state's place in diffMerge.live.
	live int
	// cToS is the direction of A's flow (0: from its first sender) that
	// runs from client to server.
	cToS int
	// dirs is indexed by direction of A's flow.
	dirs [2]dirState
	// xSwapped: B's first sender is A's second (see pairCandidate.swapped).
	xSwapped bool
}

// dirState matches one direction's segments.
type dirState struct {
	out    *analyze.DirDiff
	seqOff capture.Seq // B − A
	ok     bool        // seqOff known: segments can be matched
	// expect is how much later B's copy comes on the merged time line,
	// give or take jitter; horizon is how long an unmatched segment waits.
	expect, jitter, horizon time.Duration
	// useTS and useIPID: the fields cross the path unchanged, so they
	// tell retransmissions of the same bytes apart.
	useTS, useIPID bool
	pend           [2]pendingQueue
	// acked is the latest acknowledgment and window the direction's
	// receiver sent, as each capture saw it (in A's sequence space).
	acked [2]diffAck
	hops  hopTally
}

// diffAck is the last ACK one end sent, as one capture saw it.
type diffAck struct {
	ok     bool
	ack    capture.Seq
	win    uint16
	packet uint64
	time   int64
}

// edge is the right edge of the receive window the ACK announced, taken
// unscaled.
func (a diffAck) edge() capture.Seq { return a.ack.Add(uint32(a.win)) }

// pendingSeg is a segment waiting for its copy in the other capture, with
// sequence and acknowledgment numbers in A's space.
type pendingSeg struct {
	packet  uint64
	time    int64 // as captured
	at      int64 // on the merged time line
	seq     capture.Seq
	ack     capture.Seq
	payload int32
	flags   capture.Flags
	win     uint16
	ttl     uint8
	ipid    uint16
	hasIPID bool
	tsval   uint32
	hasTS   bool
	opts    capture.OptSet
	// covered counts the payload bytes the other capture holds in other
	// packets (segmentation offload).
	covered int32
	// Where the data ended relative to the receiver's unscaled window:
	// edgeNone (no data, or no ACK seen yet), edgeWithin, edgeBetween
	// or edgeBeyond (see classify); edgeAck locates the ACK that set the
	// farther edge.
	edge     int8
	edgeFrom analyze.Capture
	edgeWin  uint16
	edgeAck  diffAck
	excess   uint32
	gone     bool // matched or expired
}

const (
	edgeNone int8 = iota
	edgeWithin
	edgeBetween
	edgeBeyond
)

// pendingQueue is a FIFO of pending segments, oldest first. A matched
// segment is taken out of the middle: it is marked gone, passed over
// when it reaches the head, and squeezed out once gone segments are half
// the queue. Without that, one lost segment at the head (waiting out its
// horizon, 320 ms and more) kept every later matched one in the queue,
// and each new segment scanned them all: on the benchmark pair the scan
// was a third of the diff's time, and the gone segments filled the cap
// and pushed live ones out as "given up".
type pendingQueue struct {
	s    []pendingSeg
	head int
	gone int // gone segments in s[head:]
}

// compactMin is the fewest gone segments worth squeezing out.
const compactMin = 16

// live is the number of segments still waiting.
func (q *pendingQueue) live() int { return len(q.s) - q.head - q.gone }

func (q *pendingQueue) push(v pendingSeg) (dropped *pendingSeg) {
	if q.live() >= diffMaxPending {
		old := q.s[q.head] // trim keeps the head live
		q.head++
		q.trim()
		dropped = &old
	}
	if q.gone >= compactMin && 2*q.gone >= len(q.s)-q.head ||
		q.head > 0 && q.head >= len(q.s)/2 && len(q.s) == cap(q.s) {
		q.compact()
	}
	q.s = append(q.s, v)
	return dropped
}

// take marks the segment at j (at or past the head) gone.
func (q *pendingQueue) take(j int) {
	q.s[j].gone = true
	q.gone++
}

// compact moves the live segments to the front, in order.
func (q *pendingQueue) compact() {
	n := 0
	for j := q.head; j < len(q.s); j++ {
		if !q.s[j].gone {
			q.s[n] = q.s[j]
			n++
		}
	}
	q.s, q.head, q.gone = q.s[:n], 0, 0
}

// trim moves the head past segments already gone.
func (q *pendingQueue) trim() {
	for q.head < len(q.s) && q.s[q.head].gone {
		q.head++
		q.gone--
	}
	if q.head == len(q.s) {
		q.s, q.head, q.gone = q.s[:0], 0, 0
	}
}

// sameSegment reports whether x and y are copies of one transmission.
func (ds *dirState) sameSegment(x, y *pendingSeg, acksComparable bool) bool {
	const ctl = capture.FlagSYN | capture.FlagFIN | capture.FlagRST
	if x.seq != y.seq || x.payload != y.payload || x.flags&ctl != y.flags&ctl {
		return false
	}
	if x.payload == 0 && x.flags&ctl == 0 && acksComparable && x.ack != y.ack {
		return false // pure ACKs differ by what they acknowledge
	}
	if ds.useTS && x.hasTS && y.hasTS && x.tsval != y.tsval {
		return false
	}
	if ds.useIPID && x.hasIPID && y.hasIPID && x.ipid != y.ipid {
		return false
	}
	return true
}

// hopTally keeps the most frequent TTL differences.
type hopTally struct {
	v [4]int
	n [4]uint64
}

func (h *hopTally) add(d int) {
	for i := range h.v {
		if h.n[i] > 0 && h.v[i] == d {
			h.n[i]++
			return
		}
	}
	for i := range h.v {
		if h.n[i] == 0 {
			h.v[i], h.n[i] = d, 1
			return
		}
	}
}

// mode returns the most frequent difference and whether others occurred.
func (h *hopTally) mode() (d int, ok, vary bool) {
	best := h.best()
	if best < 0 {
		return 0, false, false
	}
	for i := range h.v {
		if i != best && h.n[i] > 0 {
			vary = true
		}
	}
	return h.v[best], true, vary
}

// best is the index of the most frequent difference, -1 for none.
func (h *hopTally) best() int {
	best := -1
	for i := range h.v {
		if h.n[i] > 0 && (best < 0 || h.n[i] > h.n[best]) {
			best = i
		}
	}
	return best
}

// pendingOf is what the matching keeps of a segment; at is its time on
// the merged time line.
func pendingOf(seg *capture.Segment, at int64) pendingSeg {
	return pendingSeg{
		packet: seg.Packet, time: seg.Time, at: at, seq: seg.Seq, ack: seg.Ack, payload: int32(seg.Payload),
		flags: seg.Flags, win: seg.Window, ttl: seg.TTL, ipid: seg.IPID, hasIPID: !seg.IPv6 && seg.IPID != 0,
		tsval: seg.Opts.TSVal, hasTS: seg.Opts.Has&capture.HasTimestamp != 0, opts: seg.Opts.Has,
	}
}

// segment handles one segment of the pair from capture i (see
// pendingOf), fromX when its sender sent the flow's first segment.
func (ps *pairState) segment(m *diffMerge, i analyze.Capture, fromX bool, v *pendingSeg) {
	d := 0
	if !fromX {
		d = 1
	}
	if i == analyze.CaptureB && ps.xSwapped {
		d = 1 - d
	}
	ds, rev := &ps.dirs[d], &ps.dirs[1-d]
	// The segment's ACK and window describe the reverse direction's
	// receiver, which is this segment's sender.
	if v.flags&capture.FlagACK != 0 && v.flags&capture.FlagSYN == 0 && v.flags&capture.FlagRST == 0 && rev.ok {
		ack := v.ack
		if i == analyze.CaptureB {
			ack -= rev.seqOff
		}
		rev.acked[i] = diffAck{ok: true, ack: ack, win: v.win, packet: v.packet, time: v.time}
	}
	if !ds.ok {
		return
	}
	if v.at > ps.due {
		// Checked on every segment, the queues were a fifth of the
		// merge's time (perf); nothing can expire before due.
		ps.expire(m, v.at)
	}
	if i == analyze.CaptureB {
		v.seq -= ds.seqOff
		v.ack -= rev.seqOff
	}
	if v.payload > 0 && ds.out.Upstream == i {
		ds.classify(v, i)
	}
	other := &ds.pend[1-i]
	for j := other.head; j < len(other.s); j++ {
		y := &other.s[j]
		if y.gone || !ds.sameSegment(v, y, rev.ok) {
			continue
		}
		other.take(j)
		other.trim()
		if i == analyze.CaptureA {
			ds.matched(v, y)
		} else {
			ds.matched(y, v)
		}
		return
	}
	if ds.coalesced(v, i, other) {
		return
	}
	if dropped := ds.pend[i].push(*v); dropped != nil {
		ds.out.Overflow++
	}
	ps.due = min(ps.due, v.at+int64(ds.horizon))
}

// classify notes where a data segment leaving the upstream capture i
// ended relative to the receiver's last ACK plus its window field taken
// unscaled. Where a middlebox stands between the capture points is not
// known, and so neither is which of the receiver's ACKs it had seen when
// the segment passed it: at least those the upstream capture had seen
// (they crossed the middlebox on their way there), but perhaps not those
// the downstream capture saw leave, still in flight toward it — a
// firewall in front of a server sees a download's data at once and the
// client's ACKs half a round trip late. So the segment is within the edge
// when it ends within what both captures saw, beyond when it ends past
// both, and between when the ACKs in flight moved the edge across it:
// then it tells nothing about the middlebox. The evidence names the
// farther edge, the one a segment beyond it ran past in any case.
func (ds *dirState) classify(v *pendingSeg, i analyze.Capture) {
	// lo is the edge as the upstream capture saw it, hi as the
	// downstream one did, which normally runs ahead; hiFrom says which
	// capture saw hi.
	lo, hi := ds.acked[i], ds.acked[1-i]
	hiFrom := i.Other()
	switch {
	case !lo.ok && !hi.ok:
		return
	case !lo.ok:
		lo = hi
	case !hi.ok:
		hi, hiFrom = lo, i
	}
	loEdge, hiEdge := lo.edge(), hi.edge()
	if hiEdge.LessThan(loEdge) {
		// The window shrank, or the captures' views cross.
		loEdge, hiEdge = hiEdge, loEdge
		hi, hiFrom = lo, i
	}
	end := v.seq.Add(uint32(v.payload))
	v.edgeFrom, v.edgeWin, v.edgeAck = hiFrom, hi.win, hi
	switch {
	case hiEdge.LessThan(end):
		v.edge, v.excess = edgeBeyond, uint32(end.Sub(hiEdge))
	case loEdge.LessThan(end):
		v.edge = edgeBetween
	default:
		v.edge = edgeWithin
	}
}

// coalesced matches a data segment that has no copy of its own against
// the other capture's pending data by sequence range. Segmentation
// offload makes one capture's packets another's several, or cuts them
// elsewhere: a sender's capture shows what the stack handed to the NIC
// (TSO, GSO), a receiver's what the NIC or the kernel merged (LRO, GRO).
// Both keep the timestamps of the segments they cut or merge, so TSvals
// must still agree. Each overlap counts for both packets; a packet whose
// bytes are all accounted for is matched. i is v's capture; it reports
// whether v is wholly accounted for, else v.covered says how much.
func (ds *dirState) coalesced(v *pendingSeg, i analyze.Capture, other *pendingQueue) bool {
	if v.payload == 0 {
		return false
	}
	vEnd := v.seq.Add(uint32(v.payload))
	for j := other.head; j < len(other.s) && v.covered < v.payload; j++ {
		y := &other.s[j]
		if y.gone || y.payload == 0 || ds.useTS && v.hasTS && y.hasTS && v.tsval != y.tsval {
			continue
		}
		yEnd := y.seq.Add(uint32(y.payload))
		from, to := v.seq, vEnd
		if from.LessThan(y.seq) {
			from = y.seq
		}
		if yEnd.LessThan(to) {
			to = yEnd
		}
		n := to.Sub(from)
		if n <= 0 {
			continue
		}
		ds.out.Resegmented++
		v.covered += n
		y.covered += n
		if y.covered >= y.payload {
			other.take(j)
			if ds.out.Upstream == 1-i {
				ds.delivered(y)
			}
		}
	}
	other.trim()
	if v.covered < v.payload {
		return false
	}
	if ds.out.Upstream == i {
		ds.delivered(v)
	}
	return true
}

// delivered counts a data segment of the upstream capture that reached
// the downstream one, by where it ended against the unscaled edge.
func (ds *dirState) delivered(up *pendingSeg) {
	u := &ds.out.Unscaled
	switch up.edge {
	case edgeBeyond:
		u.BeyondSent++
	case edgeBetween:
		u.BetweenSent++
	case edgeWithin:
		u.WithinSent++
		u.MaxWithinDelivered = max(u.MaxWithinDelivered, int(up.payload))
	}
}

// matched compares the two copies of one segment.
func (ds *dirState) matched(a, b *pendingSeg) {
	o := ds.out
	o.Matched++
	up := a
	if o.Upstream == analyze.CaptureB {
		up = b
	}
	ds.delivered(up)
	if a.flags&capture.FlagSYN != 0 {
		return // handshake copies are compared with the flows' handshakes
	}
	hops := int(a.ttl) - int(b.ttl)
	if o.Upstream == analyze.CaptureB {
		hops = -hops
	}
	ds.hops.add(hops)
	if o.Upstream == analyze.CaptureUnknown {
		ds.settleUpstream()
	}
	pair := analyze.PacketPair{A: analyze.PacketRef{Packet: a.packet, Time: a.time}, B: analyze.PacketRef{Packet: b.packet, Time: b.time}}
	if a.win != b.win {
		if o.WindowRewrites == 0 {
			o.FirstWindowRewrite, o.WindowA, o.WindowB = pair, a.win, b.win
		}
		o.WindowRewrites++
	}
	if a.hasTS && b.hasTS && a.tsval != b.tsval {
		if o.TSRewrites == 0 {
			o.FirstTSRewrite = pair
		}
		o.TSRewrites++
	}
	if a.hasIPID && b.hasIPID && a.ipid != b.ipid {
		o.IPIDRewrites++
	}
	if a.opts != b.opts {
		if o.OptionChanges == 0 {
			o.FirstOptionChange, o.OptsA, o.OptsB = pair, a.opts, b.opts
		}
		o.OptionChanges++
	}
}

// settleAfter is how many matched segments must agree on the hops
// between the captures before the matching takes the upstream capture
// from them.
const settleAfter = 8

// settleUpstream takes the upstream capture from the TTLs of the matched
// segments, when neither the pairing's timing nor its sampled segments
// told it (a long transfer whose TSvals and IP IDs all recur): routers
// only lower TTLs, so the capture that sees them higher is nearer the
// sender. Until then, the matching counted hops as A's TTL minus B's, and
// the segments leaving the upstream capture were not set against the
// receiver's unscaled window (classify); from then on they are, so that
// a middlebox dropping what lies past the unscaled edge shows, as it
// does where the timing told the upstream. finish settles what is left.
func (ds *dirState) settleUpstream() {
	h := &ds.hops
	best := h.best()
	if best < 0 || h.v[best] == 0 {
		return
	}
	d, agree := h.v[best], h.n[best]
	var total uint64
	for _, n := range h.n {
		total += n
	}
	// Most of them, and not a few: a reordered TTL or a route change
	// must not decide it.
	if agree < settleAfter || agree*4 < total*3 {
		return
	}
	ds.out.Upstream = analyze.CaptureA
	if d < 0 {
		ds.out.Upstream = analyze.CaptureB
		for i := range h.v {
			h.v[i] = -h.v[i]
		}
	}
}

// expire gives up on pending segments whose copy should have come by now,
// and sets when the next may be due.
func (ps *pairState) expire(m *diffMerge, now int64) {
	ps.due = math.MaxInt64
	for d := range ps.dirs {
		ds := &ps.dirs[d]
		for i := range 2 {
			q := &ds.pend[i]
			for q.trim(); q.head < len(q.s); q.trim() {
				v := &q.s[q.head]
				if now != math.MaxInt64 && time.Duration(now-v.at) <= ds.horizon {
					// The queue is in time order: the rest wait too.
					ps.due = min(ps.due, v.at+int64(ds.horizon))
					break
				}
				ds.unmatched(m, analyze.Capture(i), v)
				q.head++
			}
		}
	}
}

// unmatched records a segment only capture i saw.
func (ds *dirState) unmatched(m *diffMerge, i analyze.Capture, v *pendingSeg) {
	v.gone = true
	o := ds.out
	expect := v.at + int64(ds.expect)
	if i == analyze.CaptureB {
		expect = v.at - int64(ds.expect)
	}
	if sp := m.span[1-i]; expect-int64(ds.jitter) < sp[0] || expect+int64(ds.jitter) > sp[1] {
		o.Outside++
		return
	}
	o.Only[i]++
	if o.FirstOnly[i].Packet == 0 {
		o.FirstOnly[i] = analyze.PacketRef{Packet: v.packet, Time: v.time}
	}
	if v.payload > 0 {
		o.OnlyData[i]++
		o.OnlyBytes[i] += uint64(v.payload - v.covered)
	}
	if i != o.Upstream || v.covered > 0 {
		return // part of it arrived, cut otherwise: no clean edge test
	}
	u := &o.Unscaled
	switch v.edge {
	case edgeBeyond:
		u.BeyondSent++
		u.BeyondLost++
		if u.FirstBeyondLost.A.Packet == 0 && u.FirstBeyondLost.B.Packet == 0 {
			seg := analyze.PacketRef{Packet: v.packet, Time: v.time}
			ack := analyze.PacketRef{Packet: v.edgeAck.packet, Time: v.edgeAck.time}
			if i == analyze.CaptureA {
				u.FirstBeyondLost.A = seg
				if v.edgeFrom == analyze.CaptureB {
					u.FirstBeyondLost.B = ack
				}
			} else {
				u.FirstBeyondLost.B = seg
				if v.edgeFrom == analyze.CaptureA {
					u.FirstBeyondLost.A = ack
				}
			}
			u.Window, u.Excess = v.edgeWin, v.excess
		}
		if u.MinBeyondLost == 0 || int(v.payload) < u.MinBeyondLost {
			u.MinBeyondLost = int(v.payload)
		}
	case edgeBetween:
		u.BetweenSent++
		u.BetweenLost++
	case edgeWithin:
		u.WithinSent++
		u.WithinLost++
	}
}

// finish settles what needs every segment.
func (ps *pairState) finish() {
	for d := range ps.dirs {
		ds := &ps.dirs[d]
		o := ds.out
		o.Hops, o.HopsOK, o.HopsVary = ds.hops.mode()
		// Neither the pairing's timing nor its sampled segments told which
		// capture is upstream, nor did settleAfter matched segments agree
		// on it, and the matching counted hops from A: the matched
		// segments' TTLs tell, as routers only lower them. Else the
		// handshake would be compared from the wrong end, and its TTL
		// seem to rise on the path.
		if o.Upstream == analyze.CaptureUnknown && o.HopsOK && o.Hops != 0 {
			o.Upstream = analyze.CaptureA
			if o.Hops < 0 {
				o.Upstream, o.Hops = analyze.CaptureB, -o.Hops
			}
		}
	}
	if ps.pair.ClientSide == analyze.CaptureUnknown {
		ps.pair.ClientSide = clientSideOf(ps.pair.Dirs[analyze.ClientToServer].Upstream, ps.pair.Dirs[analyze.ServerToClient].Upstream)
	}
}
