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
// TSvals, IPv4 IDs, payload prefixes) and digests each finished flow; the
// pairing joins the two captures' digests a window of time at a time,
// with every join bounded, and spools what it settled about each pair
// (see window.go); the second pass walks both captures on one time line,
// matches each pair's segments and hands the pair on as soon as both its
// flows have finished. Memory grows with the flows live in the tables and
// within the pairing's window, not with the flows read.
package pathdiff

import (
	"fmt"
	"math"
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
	// windowFlows replaces the constant of that name when positive: the
	// tests pair small captures a window at a time.
	windowFlows int
}

// flows is how many flows the pairing's window holds (see windowFlows).
func (c *Config) flows() int {
	if c.windowFlows > 0 {
		return c.windowFlows
	}
	return windowFlows
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
	// PeakDigests is the most flow digests the pairing held at once,
	// both captures' (see pairWindow).
	PeakDigests int
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
	// Pair and Unpaired are called one at a time, from a goroutine of
	// Stream's own, and not after Stream returns.
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
// once) analyzes each and sketches every flow for pairing, and pairs the
// flows a window of time at a time; the second pass walks both captures
// on one time line, analyzes them again and matches the paired flows'
// segments, handing each pair and each unpaired flow to sink as soon as
// its flows finish. Memory grows with the flows in progress and those
// within the pairing's window, not with the flows read. It returns an
// error only when a capture cannot be opened or the pairs cannot be
// spooled; a capture that ends early is read as far as it goes and its
// Summary.Err says so.
func Stream(open [2]analyze.Opener, cfg Config, sink Sink) (*Head, error) {
	var srcs [2]capture.Source
	for i := range 2 {
		src, err := open[i]()
		if err != nil {
			if i == 1 {
				srcs[0].Close()
			}
			return nil, err
		}
		srcs[i] = src
	}
	var sides [2]*sketchSide
	var in [2]chan []flowDigest
	var wg sync.WaitGroup
	for i := range 2 {
		sides[i] = newSketchSide(srcs[i], cfg.Config, windowBatches(cfg.flows()))
		in[i] = sides[i].out
		wg.Go(sides[i].run)
	}
	w := newPairWindow(cfg)
	defer w.records.close()
	w.read(in)
	wg.Wait()
	var h Head
	for i := range 2 {
		srcs[i].Close()
		h.Summaries[i] = sides[i].sum
		h.Flows[i] = len(w.partner[i])
	}
	if w.records.err != nil {
		return nil, fmt.Errorf("spooling the pairs to a temporary file: %w", w.records.err)
	}
	theta, thetaPairs := w.offset()
	h.ClockOffset, h.ClockPairs, h.PeakDigests = theta, thetaPairs, w.peak
	// The second pass merges the captures on one time line: B's clock
	// moved by the measured offset, or without one by the pairs' own.
	align := w.align()
	// The pairs are numbered in the order of A's flows; partner becomes
	// each flow's pair number.
	var aOf []int32
	for i, b := range w.partner[0] {
		if b >= 0 {
			n := int32(len(aOf))
			aOf = append(aOf, int32(i))
			w.partner[0][i], w.partner[1][b] = n, n
		}
	}
	h.Pairs = len(aOf)
	if sink.Head != nil {
		sink.Head(&h)
	}
	var rec pairRecord
	planOf := func(n int) (pairPlan, error) {
		if err := w.records.get(aOf[n], &rec); err != nil {
			return pairPlan{}, fmt.Errorf("reading the pairs back from a temporary file: %w", err)
		}
		return rec.plan(theta, thetaPairs > 0, align), nil
	}
	if err := diffSecondPass(open, cfg, &h, w.partner, planOf, align, sink); err != nil {
		return nil, err
	}
	return &h, nil
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
	delay          time.Duration
	delayOK        bool
	// expect is how much later B's copy comes on the merged time line,
	// give or take jitter; horizon is how long an unmatched segment waits.
	expect, jitter, horizon time.Duration
}

// state starts the second pass's state of the pair: its record as the
// plan has it, and empty matching queues.
func (pl *pairPlan) state(n int) *pairState {
	ps := &pairState{n: n, cToS: pl.cToS, xSwapped: pl.xSwapped, due: math.MaxInt64}
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
