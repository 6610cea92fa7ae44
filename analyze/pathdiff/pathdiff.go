// Package pathdiff compares two captures of the same traffic taken at two
// points of its path (typically one at each end): it pairs the flows seen
// in both, also across NAT and sequence-number rewriting, and proves what
// the path between the capture points did to each pair (the values of
// analyze.FlowPair).
//
// It is a client of the flow table: each capture is read through its own
// analyze.Analyzer with an analyze.Observer, so a flow is what the table
// says it is and pairing state hangs off the table's flow IDs. The first
// pass sketches every flow (bottom-k samples of what survives middleboxes:
// TSvals, IPv4 IDs, payload prefixes) and keeps a compact digest of each
// finished flow; the pairing joins the two captures' digests with every
// join bounded; the second pass walks both captures on one time line,
// matches each pair's segments and hands the pair on as soon as both its
// flows have finished.
package pathdiff

import (
	"slices"
	"sync"
	"time"

	"rwin/analyze"
	"rwin/capture"
)

// Flow is a flow of one capture of a diff, as the second pass
// finished it. Flow is valid only during the Sink call that hands it
// over: copy it to keep it.
type Flow struct {
	Flow *analyze.Flow
	// Series is the flow's time series when Config.Series is set and
	// its budget had room, else nil; the receiver owns it (hand it back
	// with SeriesBudget.Free).
	Series *analyze.Series
}

// Config configures a diff.
type Config struct {
	// Config bounds each capture's flow table as in Run (its Series and
	// Observer must be nil: the diff sets its own).
	analyze.Config
	// Series, when set, records each flow's time series in the second
	// pass from this budget (shared by both captures), for charts.
	Series *analyze.SeriesBudget
}

// Head is what a diff knows once it has paired the flows: each
// capture's summary and flow count, and the clock offset.
type Head struct {
	Summaries [2]analyze.Summary
	Flows     [2]int
	Pairs     int
	// ClockOffset is B's clock minus A's, measured on ClockPairs pairs
	// of high confidence; valid when ClockPairs > 0.
	ClockOffset time.Duration
	ClockPairs  int
	// PeakPairs is the most pairs the second pass had in progress at
	// once (a pair is in progress from its first segment until both its
	// flows have finished); set when Stream returns.
	PeakPairs int
}

// Sink receives a diff's results as the second pass finds them.
// Memory then grows with the flows in progress, not with the flows read.
type Sink struct {
	// Head, if set, is called once, after the pairing and before any
	// Pair or Unpaired call.
	Head func(h *Head)
	// Pair, if set, is called for each pair once both its flows have
	// finished, in no fixed order: n is the pair's place in the order of
	// A's flows (0 first; FlowPair.A and B are the flows' IDs − 1).
	Pair func(n int, p *analyze.FlowPair, a, b Flow)
	// Unpaired, if set, is called for each flow seen in capture c only.
	Unpaired func(c analyze.Capture, f Flow)
}

// Diff reads both captures, pairs their flows and compares every pair,
// keeping every flow in the result: for a program that wants all of it at
// once. Stream does the same in memory bounded by the flows in
// progress.
func Diff(open [2]analyze.Opener, cfg analyze.Config) (*analyze.DiffResult, error) {
	var res analyze.DiffResult
	sink := Sink{
		Head: func(h *Head) {
			res.ClockOffset, res.ClockPairs = h.ClockOffset, h.ClockPairs
			res.Pairs = make([]analyze.FlowPair, h.Pairs)
			for i := range 2 {
				res.Sides[i].Flows = make([]analyze.Flow, h.Flows[i])
				res.Sides[i].Pair = make([]int, h.Flows[i])
				for j := range res.Sides[i].Pair {
					res.Sides[i].Pair[j] = -1
				}
			}
		},
		Pair: func(n int, p *analyze.FlowPair, a, b Flow) {
			res.Pairs[n] = *p
			res.Sides[0].Flows[p.A], res.Sides[1].Flows[p.B] = *a.Flow, *b.Flow
			res.Sides[0].Pair[p.A], res.Sides[1].Pair[p.B] = n, n
		},
		Unpaired: func(c analyze.Capture, f Flow) { res.Sides[c].Flows[f.Flow.ID-1] = *f.Flow },
	}
	h, err := Stream(open, Config{Config: cfg}, sink)
	if err != nil {
		return nil, err
	}
	for i := range 2 {
		res.Sides[i].Summary = h.Summaries[i]
	}
	return &res, nil
}

// Stream reads both captures twice. The first pass (both captures at
// once) analyzes each and sketches every flow for pairing; the flows are
// paired; the second pass walks both captures on one time line, analyzes
// them again and matches the paired flows' segments, handing each pair
// and each unpaired flow to sink as soon as its flows finish. It returns
// an error only when a capture cannot be opened; a capture that ends early
// is read as far as it goes and its Summary.Err says so.
func Stream(open [2]analyze.Opener, cfg Config, sink Sink) (*Head, error) {
	var h Head
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
	// The indexes are built once both flow tables are gone: built on the
	// first pass's goroutines, beside the other capture's table, they
	// added a sixth to the peak. Built now, side by side, they cost the
	// same memory in half the time.
	var sides [2]*sideIndex
	for i := range 2 {
		wg.Go(func() { sides[i] = newSideIndex(digests[i]) })
	}
	wg.Wait()
	a, b := sides[0], sides[1]
	chosen, theta, thetaPairs := assignPairs(a, b)
	h.ClockOffset, h.ClockPairs = time.Duration(theta), thetaPairs
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
func diffFirstPass(open analyze.Opener, cfg analyze.Config) (analyze.Summary, []flowDigest, error) {
	src, err := open()
	if err != nil {
		return analyze.Summary{}, nil, err
	}
	defer src.Close()
	// The sketcher reads each packet's payload from the Stepper's Packet.
	sk := newSketcher()
	cfg.Series, cfg.Observer = nil, sk
	st := analyze.NewStepper(src, cfg, sk.finished)
	sk.pkt = &st.Packet
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
	signals  []analyze.SignalCount
	swapped  bool
	xSwapped bool // B's first sender is A's second (see pairCandidate.swapped)
	nat      bool
	// cToS is the direction of A's flow (0: from its first sender) that
	// runs from client to server.
	cToS       int
	clientSide analyze.Capture
	// dirs is indexed by direction of A's flow.
	dirs [2]dirPlan
}

// dirPlan is what the pairing settled about one direction.
type dirPlan struct {
	seqOff         capture.Seq // B − A
	ok             bool        // seqOff known: segments can be matched
	useTS, useIPID bool
	upstream       analyze.Capture
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
			pl.signals = append(pl.signals, analyze.SignalCount{Signal: s, Count: c.signals[s]})
		}
	}
	// A's first sender may be its client or its server.
	if A.serverFirst() {
		pl.cToS = 1
	}
	if !thetaOK {
		theta, thetaOK = c.theta, c.thetaOK
	}
	offs, offsOK := c.seqOffsets(a, b)
	for d := range 2 {
		dp := &pl.dirs[d]
		dp.upstream = analyze.CaptureUnknown
		if offsOK[d] {
			dp.seqOff, dp.ok = capture.Seq(offs[d]), true
		} else if !pl.swapped {
			// No sampled segment of this direction matched: the ISNs give
			// the offset when both captures hold the handshake.
			hsA, hsB := A.answered, B.answered
			if pl.outDir(d) == analyze.ServerToClient {
				hsA, hsB = A.synack, B.synack
			}
			if hsA.seen && hsB.seen {
				dp.seqOff, dp.ok = hsB.isn-hsA.isn, true
			}
		}
		dp.useTS, dp.useIPID = c.preserved(a, b, uint8(d))
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
			dp.upstream = analyze.CaptureA
		case lag < 0:
			dp.upstream = analyze.CaptureB
		default:
			dp.upstream = c.upstreamByTTL(a, b, uint8(d))
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
	case cs != analyze.CaptureUnknown:
		pl.clientSide = cs
	case sc != analyze.CaptureUnknown:
		pl.clientSide = sc.Other()
	default:
		pl.clientSide = analyze.CaptureUnknown
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
		out.Delay, out.DelayOK = time.Duration(dp.delay), dp.delayOK
		ds.seqOff, ds.ok, ds.useTS, ds.useIPID = dp.seqOff, dp.ok, dp.useTS, dp.useIPID
		ds.expect, ds.jitter, ds.horizon = dp.expect, dp.jitter, dp.horizon
	}
	return ps
}

// outDir maps a direction of A's flow (0: from its first sender) to
// FlowPair.Dirs.
func (pl *pairPlan) outDir(d int) analyze.Direction {
	if d == 0 {
		return analyze.Direction(pl.cToS)
	}
	return analyze.Direction(1 - pl.cToS)
}

// outDir maps a direction of A's flow (0: from its first sender) to
// FlowPair.Dirs.
func (ps *pairState) outDir(d int) analyze.Direction {
	if d == 0 {
		return analyze.Direction(ps.cToS)
	}
	return analyze.Direction(1 - ps.cToS)
}

// preserved reports whether the direction's TSvals and IP IDs cross the
// path unchanged, judged on the sampled segments that matched: then they
// tell retransmissions apart when matching segment by segment.
func (c *pairCandidate) preserved(a, b *sideIndex, d uint8) (ts, ipid bool) {
	var tsSame, tsDiff, idSame, idDiff int
	for _, h := range c.hits {
		if h.da != d || (h.da != h.db) != c.swapped {
			continue
		}
		sa, sb := c.samples(a, b, h)
		if sa.hasTS && sb.hasTS {
			if sa.tsval == sb.tsval {
				tsSame++
			} else {
				tsDiff++
			}
		}
		if sa.hasIPID && sb.hasIPID {
			if sa.ipid == sb.ipid {
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
func (c *pairCandidate) upstreamByTTL(a, b *sideIndex, d uint8) analyze.Capture {
	higherA, higherB := 0, 0
	for _, h := range c.hits {
		if h.da != d || (h.da != h.db) != c.swapped {
			continue
		}
		sa, sb := c.samples(a, b, h)
		switch {
		case sa.ttl > sb.ttl:
			higherA++
		case sb.ttl > sa.ttl:
			higherB++
		}
	}
	switch {
	case higherA > higherB:
		return analyze.CaptureA
	case higherB > higherA:
		return analyze.CaptureB
	}
	return analyze.CaptureUnknown
}
