package analyze

import (
	"fmt"
	"slices"
	"sync"

	"rwin/capture"
)

// A capture from one end of a flow can only suspect a middlebox; captures
// from both ends prove what the path did. Diff pairs the flows of two
// captures (also across NAT and sequence rewriting), then compares each
// pair segment by segment: handshake options added, removed, NOP-filled
// or rewritten, window fields rewritten, sequence offsets, hops between
// the capture points, and segments that left one capture point and never
// reached the other.

// Capture indices of a diff.
const (
	CaptureA = 0
	CaptureB = 1
	// CaptureUnknown: the captures do not say which one is nearer an end.
	CaptureUnknown = -1
)

// Opener opens a capture. A diff reads each capture twice (pairing, then
// comparing), so it must return a fresh Source on every call: a file, not
// standard input.
type Opener func() (capture.Source, error)

// DiffSide is what one capture yielded.
type DiffSide struct {
	Summary Summary
	// Flows are the analyzer's flows, in order of ID.
	Flows []Flow
	// Pair holds, per flow, the index of its pair in DiffResult.Pairs, or
	// -1 when the flow was seen only in this capture.
	Pair []int
}

// DiffResult is everything Diff found.
type DiffResult struct {
	Sides [2]DiffSide
	Pairs []FlowPair
	// ClockOffset is B's clock minus A's in ns, measured on ClockPairs
	// pairs of high confidence (halfway between the two directions' time
	// differences, so symmetric one-way delays cancel); valid when
	// ClockPairs > 0.
	ClockOffset int64
	ClockPairs  int
}

// PacketRef locates a packet in one capture; Packet 0 means none.
type PacketRef struct {
	Packet uint64
	Time   int64 // ns since the epoch
}

// PacketPair is a segment as captured in A and in B: the evidence of a
// difference. Either side is zero when the segment is missing there.
type PacketPair struct{ A, B PacketRef }

// SignalCount is how much of one pairing signal two flows share: sampled
// segments for timestamps, IP ID and payload; 1 or 2 ISNs; 1 for the
// 4-tuple and timing.
type SignalCount struct {
	Signal PairSignal
	Count  int
}

// FlowPair is one connection seen in both captures and what the path did
// to it. Directions and roles follow A's flow.
type FlowPair struct {
	// A and B index the flows in DiffResult.Sides[i].Flows: each is
	// the flow's ID − 1 in its capture.
	A, B int
	// Score (0–1) and Confidence say how sure the pairing is; Signals are
	// what matched.
	Score      float64
	Confidence PairConfidence
	Signals    []SignalCount
	// Swapped is true when B's flow has client and server the other way
	// round (neither capture held the handshake, and the roles were
	// guessed differently).
	Swapped bool
	// ClientSide is the capture nearer the client (CaptureA, CaptureB or
	// CaptureUnknown), from which copy of each direction was seen first.
	ClientSide int
	// Dirs compares the client's segments (0) and the server's (1).
	Dirs [2]DirDiff
	// SYN compares the client's SYN the SYN-ACK answered; SYNACK the
	// server's first SYN-ACK.
	SYN, SYNACK HandshakeDiff
	// NAT is true when the two captures show other addresses or ports.
	NAT bool
}

// Directions of FlowPair.Dirs.
const (
	ClientToServer = 0
	ServerToClient = 1
)

// DirDiff compares one direction of a paired flow: the segments one end
// sent, as each capture saw them.
type DirDiff struct {
	// Compared is false when the pairing gave no sequence offset for this
	// direction, so its segments could not be matched one by one.
	Compared bool
	// Upstream is the capture nearer the sender (CaptureUnknown when the
	// timing and TTLs do not say).
	Upstream int
	// SeqOffset is B's sequence number minus A's for the same byte: 0
	// unless a middlebox randomizes sequence numbers.
	SeqOffset capture.Seq
	// Delay is the one-way delay between the capture points in ns, valid
	// when DelayOK (needs the clock offset).
	Delay   int64
	DelayOK bool
	// Hops is the TTL (hop limit) at the upstream capture minus at the
	// downstream one, over matched segments: the routers between the
	// capture points. HopsVary reports segments with another difference.
	Hops     int
	HopsOK   bool
	HopsVary bool
	// Matched counts segments found in both captures; Resegmented the
	// overlaps of data matched by sequence range instead, where one
	// capture's packet holds pieces of the other's (segmentation offload
	// at a capture point: TSO or GSO at a sender, LRO or GRO at a
	// receiver).
	Matched, Resegmented uint64
	// Only counts segments seen only in capture i, while the other
	// capture was recording; OnlyData and OnlyBytes those with payload.
	// In the upstream capture they vanished on the path; in the
	// downstream one the path made them.
	Only, OnlyData, OnlyBytes [2]uint64
	FirstOnly                 [2]PacketRef
	// Outside counts unmatched segments whose copy would have fallen
	// outside the other capture's time span; Overflow those given up
	// because the matching window (diffMaxPending segments) was full. Neither
	// says anything about the path.
	Outside, Overflow uint64
	// WindowRewrites counts matched non-SYN segments whose window field
	// differs; the first pair and its two values are kept.
	WindowRewrites     uint64
	FirstWindowRewrite PacketPair
	WindowA, WindowB   uint16
	// TSRewrites counts matched non-SYN segments whose TSval differs;
	// IPIDRewrites those whose IPv4 ID differs.
	TSRewrites     uint64
	FirstTSRewrite PacketPair
	IPIDRewrites   uint64
	// OptionChanges counts matched non-SYN segments that carry other
	// options; the first pair and both option sets are kept.
	OptionChanges     uint64
	FirstOptionChange PacketPair
	OptsA, OptsB      capture.OptSet
	// Unscaled tests the unscaled-window firewall on this direction's
	// data.
	Unscaled UnscaledCheck
}

// UnscaledCheck sorts the data segments of a direction by where they
// ended relative to the receiver's last acknowledgment plus its window
// field taken unscaled — the edge a middlebox that ignores window scaling
// enforces — and counts which of them vanished between the capture
// points. Data beyond the edge vanishing while data within it arrives is
// that middlebox at work (the Vista-era RDP/SMB hang). Valid when the
// direction's Upstream is known.
//
// The two captures see the receiver's ACKs at different times, and a
// middlebox between them at a time in between: a segment is within when
// it ended within the edge both captures had seen when it left the
// sender's, beyond when it ended past both, and between otherwise (the
// receiver's ACKs still in flight moved the edge across it, so where the
// middlebox put the edge is unknown).
type UnscaledCheck struct {
	BeyondSent, BeyondLost   uint64
	WithinSent, WithinLost   uint64
	BetweenSent, BetweenLost uint64
	// FirstBeyondLost pairs the first vanished segment beyond the edge
	// (in the upstream capture) with the receiver's ACK that set the edge
	// (as captured; in the downstream capture when it saw one).
	FirstBeyondLost PacketPair
	// Window is that ACK's window field and Excess how many bytes past
	// ack + Window the segment ended.
	Window uint16
	Excess uint32
	// MinBeyondLost is the smallest vanished segment beyond the edge and
	// MaxWithinDelivered the largest that arrived within it (payload
	// bytes): when a segment at least as large arrived, size (an MTU
	// black hole) does not explain the loss.
	MinBeyondLost, MaxWithinDelivered int
}

// OptionChange says how a handshake option differs between the copies.
type OptionChange uint8

// Option changes.
const (
	OptionRemoved OptionChange = iota // sent, not received
	OptionAdded                       // received, not sent
	OptionValue                       // both, with another value
)

func (c OptionChange) String() string {
	switch c {
	case OptionAdded:
		return "added"
	case OptionValue:
		return "changed"
	}
	return "removed"
}

// OptionDiff is one option that differs between the sent and the
// received copy of a SYN or SYN-ACK.
type OptionDiff struct {
	Kind   uint8
	Change OptionChange
	// Sent and Received are the values (MSS, shift, TSval) where the kind
	// has one and the copy carries it.
	Sent, Received uint32
	// NOPs: removed, and the path wrote NOPs over its bytes (the layout
	// gained as many NOPs as the option had bytes), as iptables
	// TCPOPTSTRIP does; otherwise the header was repacked.
	NOPs bool
}

// HandshakeDiff compares the copies of a SYN or SYN-ACK.
type HandshakeDiff struct {
	// Compared: the segment is in both captures.
	Compared bool
	// SentIn is the capture holding the sender's copy (the upstream one of
	// its direction; A when unknown).
	SentIn int
	// Pair locates both copies.
	Pair PacketPair
	// Options lists the options that differ, in kind order.
	Options []OptionDiff
	// LayoutSent and LayoutReceived are the option layouts.
	LayoutSent, LayoutReceived string
	// WindowSent and WindowReceived are the (never scaled) window fields.
	WindowSent, WindowReceived uint16
	// TTLSent and TTLReceived are the IP TTLs or hop limits.
	TTLSent, TTLReceived uint8
	// Originated: the received copy cannot have been forwarded from the
	// sent one — its TTL is higher, or its hop count differs from the
	// rest of its direction's — so a middlebox answered in the sender's
	// name (a SYN proxy).
	Originated bool
	// ISNOffset is the received ISN minus the sent one.
	ISNOffset capture.Seq
}

// DiffFlow is a flow of one capture of a diff, as the second pass
// finished it. Flow is valid only during the DiffSink call that hands it
// over: copy it to keep it.
type DiffFlow struct {
	Flow *Flow
	// Series is the flow's time series when DiffConfig.Series is set and
	// its budget had room, else nil; the receiver owns it (hand it back
	// with SeriesBudget.Free).
	Series *Series
}

// DiffConfig configures a diff.
type DiffConfig struct {
	// Config bounds each capture's flow table as in Run (its Series and
	// Observer must be nil: the diff sets its own).
	Config
	// Series, when set, records each flow's time series in the second
	// pass from this budget (shared by both captures), for charts.
	Series *SeriesBudget
}

// DiffHead is what a diff knows once it has paired the flows: each
// capture's summary and flow count, and the clock offset.
type DiffHead struct {
	Summaries [2]Summary
	Flows     [2]int
	Pairs     int
	// ClockOffset is B's clock minus A's in ns, measured on ClockPairs
	// pairs of high confidence; valid when ClockPairs > 0.
	ClockOffset int64
	ClockPairs  int
}

// DiffSink receives a diff's results as the second pass finds them.
// Memory then grows with the flows in progress, not with the flows read.
type DiffSink struct {
	// Head, if set, is called once, after the pairing and before any
	// Pair or Unpaired call.
	Head func(h *DiffHead)
	// Pair, if set, is called for each pair once both its flows have
	// finished, in no fixed order: n is the pair's place in the order of
	// A's flows (0 first; FlowPair.A and B are the flows' IDs − 1).
	Pair func(n int, p *FlowPair, a, b DiffFlow)
	// Unpaired, if set, is called for each flow seen in capture c only.
	Unpaired func(c int, f DiffFlow)
}

// Diff reads both captures, pairs their flows and compares every pair,
// keeping every flow in the result: for a program that wants all of it at
// once. DiffStream does the same in memory bounded by the flows in
// progress.
func Diff(open [2]Opener, cfg Config) (*DiffResult, error) {
	var res DiffResult
	sink := DiffSink{
		Head: func(h *DiffHead) {
			res.ClockOffset, res.ClockPairs = h.ClockOffset, h.ClockPairs
			res.Pairs = make([]FlowPair, h.Pairs)
			for i := range 2 {
				res.Sides[i].Flows = make([]Flow, h.Flows[i])
				res.Sides[i].Pair = make([]int, h.Flows[i])
				for j := range res.Sides[i].Pair {
					res.Sides[i].Pair[j] = -1
				}
			}
		},
		Pair: func(n int, p *FlowPair, a, b DiffFlow) {
			res.Pairs[n] = *p
			res.Sides[0].Flows[p.A], res.Sides[1].Flows[p.B] = *a.Flow, *b.Flow
			res.Sides[0].Pair[p.A], res.Sides[1].Pair[p.B] = n, n
		},
		Unpaired: func(c int, f DiffFlow) { res.Sides[c].Flows[f.Flow.ID-1] = *f.Flow },
	}
	h, err := DiffStream(open, DiffConfig{Config: cfg}, sink)
	if err != nil {
		return nil, err
	}
	for i := range 2 {
		res.Sides[i].Summary = h.Summaries[i]
	}
	return &res, nil
}

// DiffStream reads both captures twice. The first pass (both captures at
// once) analyzes each and sketches every flow for pairing; the flows are
// paired; the second pass walks both captures on one time line, analyzes
// them again and matches the paired flows' segments, handing each pair
// and each unpaired flow to sink as soon as its flows finish. It returns
// an error only when a capture cannot be opened; a capture that ends early
// is read as far as it goes and its Summary.Err says so.
func DiffStream(open [2]Opener, cfg DiffConfig, sink DiffSink) (*DiffHead, error) {
	var h DiffHead
	var digests [2][]flowDigest
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Summaries[i], digests[i], errs[i] = diffFirstPass(open[i], cfg.Config)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	a, b := newSideIndex(digests[0]), newSideIndex(digests[1])
	chosen, theta, thetaPairs := assignPairs(a, b)
	h.ClockOffset, h.ClockPairs = theta, thetaPairs
	h.Flows, h.Pairs = [2]int{len(a.flows), len(b.flows)}, len(chosen)
	// The second pass merges the captures on one time line: B's clock
	// moved by the measured offset, or without one by the pairs' own.
	align := theta
	if thetaPairs == 0 {
		align = medianPairTheta(chosen)
	}
	plans := make([]pairPlan, len(chosen))
	for i, c := range chosen {
		plans[i] = newPairPlan(c, a, b, theta, thetaPairs > 0, align)
	}
	// What the second pass needs of the first is in the plans now: the
	// samples can go.
	chosen = nil
	for _, s := range [...]*sideIndex{a, b} {
		for i := range s.flows {
			s.flows[i].samples = nil
		}
		s.isnFlows = nil
	}
	if sink.Head != nil {
		sink.Head(&h)
	}
	if err := diffSecondPass(open, cfg, &h, plans, align, sink); err != nil {
		return nil, err
	}
	return &h, nil
}

// diffFirstPass analyzes one capture and sketches its flows for pairing.
func diffFirstPass(open Opener, cfg Config) (Summary, []flowDigest, error) {
	src, err := open()
	if err != nil {
		return Summary{}, nil, err
	}
	defer src.Close()
	var st *Stepper
	var sk *sketcher
	cfg.Series, cfg.Observer = nil, nil
	st = NewStepper(src, cfg, func(f *Flow) { sk.finished(f) })
	sk = newSketcher(&st.Packet)
	// The Stepper took cfg by value: set the observer on its table.
	st.a.cfg.Observer = sk
	for st.Read() {
		st.File()
	}
	sum := st.Close()
	return sum, sk.flows, nil
}

// medianTheta is the middle of the chosen pairs' own clock offsets, 0
// when none has one.
func medianPairTheta(chosen []*pairCandidate) int64 {
	var ts []int64
	for _, c := range chosen {
		if c.thetaOK {
			ts = append(ts, c.theta)
		}
	}
	if len(ts) == 0 {
		return 0
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}

// pairPlan is what the pairing settled about one pair, for the second
// pass: the pair's record as far as the first pass knows it, and how to
// match its segments.
type pairPlan struct {
	a, b     int // flow IDs − 1
	score    float64
	signals  []SignalCount
	swapped  bool
	xSwapped bool // B's first sender is A's second (see pairCandidate.swapped)
	nat      bool
	// cToS is the direction of A's flow (0: from its first sender) that
	// runs from client to server.
	cToS       int
	clientSide int
	// dirs is indexed by direction of A's flow.
	dirs [2]dirPlan
}

// dirPlan is what the pairing settled about one direction.
type dirPlan struct {
	seqOff         capture.Seq // B − A
	ok             bool        // seqOff known: segments can be matched
	useTS, useIPID bool
	upstream       int
	delay          int64
	delayOK        bool
	// expect is how much later B's copy comes on the merged time line,
	// give or take jitter; horizon is how long an unmatched segment waits.
	expect, jitter, horizon int64
}

// newPairPlan settles what the pairing knows about a chosen candidate.
func newPairPlan(c *pairCandidate, a, b *sideIndex, theta int64, thetaOK bool, align int64) pairPlan {
	A, B := &a.flows[c.a], &b.flows[c.b]
	pl := pairPlan{a: c.a, b: c.b, score: c.score, swapped: c.rolesSwapped(a, b), xSwapped: c.swapped,
		nat: A.key != B.key}
	for s := range numSignals {
		if c.signals[s] > 0 {
			pl.signals = append(pl.signals, SignalCount{Signal: s, Count: c.signals[s]})
		}
	}
	// A's first sender may be its client or its server.
	if A.serverFirst() {
		pl.cToS = 1
	}
	if !thetaOK {
		theta, thetaOK = c.theta, c.thetaOK
	}
	offs, offsOK := c.seqOffsets()
	for d := range 2 {
		dp := &pl.dirs[d]
		dp.upstream = CaptureUnknown
		if offsOK[d] {
			dp.seqOff, dp.ok = capture.Seq(offs[d]), true
		} else if !pl.swapped {
			// No sampled segment of this direction matched: the ISNs give
			// the offset when both captures hold the handshake.
			hsA, hsB := A.answered, B.answered
			if pl.outDir(d) == ServerToClient {
				hsA, hsB = A.synack, B.synack
			}
			if hsA.seen && hsB.seen {
				dp.seqOff, dp.ok = hsB.isn-hsA.isn, true
			}
		}
		dp.useTS, dp.useIPID = c.preserved(uint8(d))
	}
	// Which capture saw each direction first: a segment reaches the
	// downstream capture one one-way delay after the upstream one, so the
	// direction whose B − A difference is larger runs from A to B.
	for d := range 2 {
		dp := &pl.dirs[d]
		// lag is how much later B saw the direction's segments than A,
		// net of the clock offset: positive when A is upstream.
		var lag int64
		switch {
		case c.deltaOK[0] && c.deltaOK[1] && c.delta[d] != c.delta[1-d]:
			lag = c.delta[d] - (c.delta[0]+c.delta[1])/2
		case c.deltaOK[d] && thetaOK:
			lag = c.delta[d] - theta
		case c.deltaOK[1-d] && thetaOK:
			lag = -(c.delta[1-d] - theta)
		}
		switch {
		case lag > 0:
			dp.upstream = CaptureA
		case lag < 0:
			dp.upstream = CaptureB
		default:
			dp.upstream = c.upstreamByTTL(uint8(d))
		}
		if lag != 0 && (c.deltaOK[0] && c.deltaOK[1] || thetaOK) {
			dp.delay, dp.delayOK = absNS(lag), true
		}
		// expect is how much later, on the merged time line, B's copy of a
		// segment comes than A's.
		switch {
		case c.deltaOK[d]:
			dp.expect = c.delta[d] - align
		case c.thetaOK:
			dp.expect = c.theta - align
		}
		dp.jitter = diffMinJitter + 2*min(c.spread[d], diffMaxSpread)
		dp.horizon = absNS(dp.expect) + diffMatchSlack + dp.jitter
	}
	cs, sc := pl.dirs[pl.cToS].upstream, pl.dirs[1-pl.cToS].upstream
	switch {
	case cs != CaptureUnknown:
		pl.clientSide = cs
	case sc != CaptureUnknown:
		pl.clientSide = 1 - sc
	default:
		pl.clientSide = CaptureUnknown
	}
	return pl
}

// state starts the second pass's state of the pair: its record as the
// plan has it, and empty matching queues.
func (pl *pairPlan) state(n int) *pairState {
	ps := &pairState{n: n, cToS: pl.cToS, xSwapped: pl.xSwapped}
	p := &ps.pair
	p.A, p.B = pl.a, pl.b
	p.Score, p.Confidence, p.Swapped, p.Signals = pl.score, pairConfidenceOf(pl.score), pl.swapped, pl.signals
	p.NAT, p.ClientSide = pl.nat, pl.clientSide
	for d := range 2 {
		dp, ds := &pl.dirs[d], &ps.dirs[d]
		out := &p.Dirs[ps.outDir(d)]
		ds.out = out
		out.Compared, out.SeqOffset, out.Upstream = dp.ok, dp.seqOff, dp.upstream
		out.Delay, out.DelayOK = dp.delay, dp.delayOK
		ds.seqOff, ds.ok, ds.useTS, ds.useIPID = dp.seqOff, dp.ok, dp.useTS, dp.useIPID
		ds.expect, ds.jitter, ds.horizon = dp.expect, dp.jitter, dp.horizon
	}
	return ps
}

// outDir maps a direction of A's flow (0: from its first sender) to
// FlowPair.Dirs.
func (pl *pairPlan) outDir(d int) int {
	if d == 0 {
		return pl.cToS
	}
	return 1 - pl.cToS
}

// outDir maps a direction of A's flow (0: from its first sender) to
// FlowPair.Dirs.
func (ps *pairState) outDir(d int) int {
	if d == 0 {
		return ps.cToS
	}
	return 1 - ps.cToS
}

// preserved reports whether the direction's TSvals and IP IDs cross the
// path unchanged, judged on the sampled segments that matched: then they
// tell retransmissions apart when matching segment by segment.
func (c *pairCandidate) preserved(d uint8) (ts, ipid bool) {
	var tsSame, tsDiff, idSame, idDiff int
	for _, h := range c.hits {
		if h.da != d || (h.da != h.db) != c.swapped {
			continue
		}
		if h.sa.hasTS && h.sb.hasTS {
			if h.sa.tsval == h.sb.tsval {
				tsSame++
			} else {
				tsDiff++
			}
		}
		if h.sa.hasIPID && h.sb.hasIPID {
			if h.sa.ipid == h.sb.ipid {
				idSame++
			} else {
				idDiff++
			}
		}
	}
	return tsSame > tsDiff, idSame > idDiff
}

// upstreamByTTL guesses the capture nearer the sender of direction d from
// TTLs: routers only lower them. Unknown when no matched sample differs.
func (c *pairCandidate) upstreamByTTL(d uint8) int {
	higherA, higherB := 0, 0
	for _, h := range c.hits {
		if h.da != d || (h.da != h.db) != c.swapped {
			continue
		}
		switch {
		case h.sa.ttl > h.sb.ttl:
			higherA++
		case h.sb.ttl > h.sa.ttl:
			higherB++
		}
	}
	switch {
	case higherA > higherB:
		return CaptureA
	case higherB > higherA:
		return CaptureB
	}
	return CaptureUnknown
}

// String renders a packet pair as "A 12 ⇄ B 15", for messages.
func (pp PacketPair) String() string {
	side := func(name string, r PacketRef) string {
		if r.Packet == 0 {
			return name + " -"
		}
		return fmt.Sprintf("%s %d", name, r.Packet)
	}
	return side("A", pp.A) + " ⇄ " + side("B", pp.B)
}

// Sender returns the endpoint that sends direction d (ClientToServer or
// ServerToClient) as capture c's flow records it; a and b are the pair's
// flows.
func (p *FlowPair) Sender(d, c int, a, b *Flow) *Endpoint {
	f := a
	if c == CaptureB {
		f = b
		if p.Swapped {
			d = 1 - d
		}
	}
	if d == ClientToServer {
		return &f.Client
	}
	return &f.Server
}

// Near returns the capture nearer the sender of direction d, or
// CaptureUnknown.
func (p *FlowPair) Near(d int) int {
	switch {
	case p.ClientSide == CaptureUnknown:
		return CaptureUnknown
	case d == ClientToServer:
		return p.ClientSide
	}
	return 1 - p.ClientSide
}
