package pathdiff

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"rwin/analyze"
	"rwin/capture"
)

// The first pass pairs flows on a window of time, so that its memory
// grows with the flows that finish within the window, never with the
// length of the captures. Each capture is read on its own goroutine
// (sketchSide), which hands the digests of the flows its table finishes
// to the pairing in the order they finish; the pairing (pairWindow)
// takes the two streams on one time line, B's clock moved by the clock
// offset, and pairs the digests it holds whenever the oldest has waited
// long enough for any copy of its flow in the other capture to have
// finished too: the two copies of a connection end within a one-way
// delay of each other, or, when one capture point missed the close,
// within the table's linger. What a window settles about a pair goes to
// a spool (recordSpool); the digests are dropped.
//
// The bounds, and what lies beyond them:
//   - The streams are merged on the captures' own clocks until a
//     pairing measures the clock offset (on the surest pairs, see
//     assignPairs): the first pairing waits for a full window
//     (2×windowFlows digests, or the end), which is then paired again
//     on the right time line. A clock offset larger than the time the
//     first window's flows take leaves the window without copies of
//     the same flows, and them unpaired.
//   - A flow that finished more than the slack (the linger plus a
//     minute) before its copy in the other capture, after the clock
//     offset, comes out unpaired.
//   - More than windowFlows flows finishing within the slack (a flood)
//     are paired windowFlows at a time: a flow's copy must finish among
//     the flows around it.
//   - Flows still open when a capture ends are kept to the last
//     pairing: the same connection may end much later in the other.
//   - Captures with fewer than 2×windowFlows flows in all are paired at
//     once, as if there were no window; tokens, ISNs and 4-tuples count
//     as common within the window (see commonToken).
const (
	windowFlows = 4096
	windowBatch = 128 // digests handed over at once
)

// windowBatches is how many batches a capture's reader may hand over
// ahead of the pairing: a window's worth of flows (about 4 MB of digests),
// enough to keep reading while the pairing settles a window, a few tenths
// of a second; at least two.
func windowBatches(flows int) int { return max(2, flows/windowBatch) }

// sketchSide is the first pass over one capture: it sends the digests
// of the flows its table finishes to out, in batches, and closes out at
// the capture's end.
type sketchSide struct {
	st  *analyze.Stepper
	sk  *sketcher
	src capture.Source
	out chan []flowDigest
	sum analyze.Summary
}

func newSketchSide(src capture.Source, cfg analyze.Config, batches int) *sketchSide {
	s := &sketchSide{src: src, sk: newSketcher(), out: make(chan []flowDigest, batches)}
	// The sketcher reads each packet's payload from the Stepper's Packet.
	cfg.Series, cfg.Observer = nil, s.sk
	s.st = analyze.NewStepper(src, cfg, s.finished)
	s.sk.pkt = &s.st.Packet
	return s
}

// run reads the capture to its end.
func (s *sketchSide) run() {
	defer close(s.out)
	for s.st.Read() {
		s.sk.clock = max(s.sk.clock, s.st.Packet.Time)
		s.st.File()
	}
	s.sk.closing = true
	s.sum = s.st.Close()
	if len(s.sk.flows) > 0 {
		s.out <- s.sk.flows
	}
	// The table's flow states and the sketches it recycled (64 MB at the
	// end of the benchmark pair) are not needed for the last pairing.
	s.st, s.sk = nil, nil
}

// finished digests a flow and hands a full batch over.
func (s *sketchSide) finished(f *analyze.Flow) {
	s.sk.finished(f)
	if len(s.sk.flows) == windowBatch {
		s.out <- s.sk.flows
		s.sk.flows = make([]flowDigest, 0, windowBatch)
	}
}

// pairWindow pairs the digests of the two captures a window at a time.
type pairWindow struct {
	buf [2][]flowDigest
	// pending counts the digests in buf that are not closing; oldest is
	// the earliest end among them, on A's clock.
	pending [2]int
	oldest  [2]int64
	// shift is B's clock minus A's for taking the streams on one time
	// line, known once a pairing measured it (shiftOK).
	shift   time.Duration
	shiftOK bool
	// last is the end of the latest digest taken from each capture, on
	// its own clock; ended says which captures have no more.
	last  [2]int64
	ended [2]bool
	// clock is how far both streams have been taken, on A's clock: every
	// digest that ended before it is in the window or settled.
	clock int64
	slack time.Duration
	// flows is windowFlows but in tests; limit is how many digests the
	// window may hold before the oldest have waited out the slack (at
	// least 2×flows).
	flows, limit int
	// peak is the most digests the window held at once.
	peak int
	// partner holds, per capture and flow (ID − 1), the other capture's
	// flow paired with it, -1 if none.
	partner [2][]int32
	records recordSpool
	// thetas are the clock offsets of the surest candidates; pairThetas
	// those of the pairs chosen.
	thetas, pairThetas medianSample
}

func newPairWindow(cfg Config) *pairWindow {
	linger := cfg.Linger
	if linger <= 0 {
		linger = analyze.DefaultLinger
	}
	w := &pairWindow{slack: linger + time.Minute, flows: cfg.flows()}
	return w
}

// at is time t of capture i on A's clock.
func (w *pairWindow) at(i int, t int64) int64 {
	if i == 1 {
		return t - int64(w.shift)
	}
	return t
}

// read takes the two captures' digests on one time line and pairs them.
func (w *pairWindow) read(in [2]chan []flowDigest) {
	var head [2][]flowDigest
	open := [2]bool{true, true}
	for {
		for i := range 2 {
			for len(head[i]) == 0 && open[i] {
				head[i], open[i] = <-in[i]
			}
			w.ended[i] = len(head[i]) == 0
		}
		if len(head[0]) == 0 && len(head[1]) == 0 {
			break
		}
		i := 0
		switch {
		case len(head[0]) == 0:
			i = 1
		case len(head[1]) == 0:
		case w.at(1, head[1][0].end) < w.at(0, head[0][0].end):
			i = 1
		}
		w.add(i, head[i][0])
		head[i][0] = flowDigest{}
		head[i] = head[i][1:]
		w.step()
	}
	w.pair(true, 0)
}

// add takes a digest of capture i into the window.
func (w *pairWindow) add(i int, d flowDigest) {
	for len(w.partner[i]) <= int(d.id) {
		w.partner[i] = append(w.partner[i], -1)
	}
	at := w.at(i, d.end)
	w.last[i] = d.end
	w.tick()
	if !d.closing {
		if w.pending[i] == 0 || at < w.oldest[i] {
			w.oldest[i] = at
		}
		w.pending[i]++
	}
	w.buf[i] = append(w.buf[i], d)
	w.peak = max(w.peak, len(w.buf[0])+len(w.buf[1]))
}

// tick sets the clock: the earlier of the two streams' latest ends (a
// stream that ended holds nothing more).
func (w *pairWindow) tick() {
	w.clock = math.MaxInt64
	for i := range 2 {
		if !w.ended[i] {
			w.clock = min(w.clock, w.at(i, w.last[i]))
		}
	}
	if w.clock == math.MaxInt64 {
		w.clock = max(w.at(0, w.last[0]), w.at(1, w.last[1]))
	}
}

// step pairs the window once its oldest digest has waited out the slack,
// or once it holds too many (limit).
func (w *pairWindow) step() {
	n := w.pending[0] + w.pending[1]
	if n >= max(w.limit, 2*w.flows) {
		w.pairOldest()
		return
	}
	if !w.shiftOK {
		// The captures' own clocks may be far apart: wait for a full
		// window, which holds copies of the same flows if the offset is
		// within the time its flows take.
		return
	}
	for i := range 2 {
		if w.pending[i] > 0 && w.oldest[i] < w.clock-2*int64(w.slack) {
			w.pair(false, w.clock-int64(w.slack))
			return
		}
	}
}

// sweepMargin is how much later than its copy a flow can end for the
// pairing when both captures' tables finished it on an expiry sweep:
// the tables sweep once a second of capture time, each on its own
// packets.
const sweepMargin = 2 * time.Second

// pairOldest pairs a window that holds too many digests before its
// oldest waited out the slack (thousands of flows ending a second): it
// settles the oldest windowFlows, those whose copies have had the time
// to end too: a flow the table finished on an expiry sweep can end up to
// a sweep later in the other capture, one it evicted (a full table, as
// in a flood) at its own packet. When too few of them have (a quarter),
// the window waits for windowFlows more digests (or half as many again
// as it holds), and after a pairing it pairs again once windowFlows more
// have come: so under a steady churn it settles as many as come, and
// holds the few seconds of them the sweeps need (waiting for twice as
// many each time made the window grow with the capture: 27,000 digests
// a side at the end of the benchmark pair's 19 s).
func (w *pairWindow) pairOldest() {
	ends := make([]int64, 0, w.pending[0]+w.pending[1])
	for i := range 2 {
		for k := range w.buf[i] {
			if d := &w.buf[i][k]; !d.closing {
				ends = append(ends, w.at(i, d.end))
			}
		}
	}
	slices.Sort(ends)
	half := ends[w.flows-1] + 1
	ready := 0
	for i := range 2 {
		for k := range w.buf[i] {
			if d := &w.buf[i][k]; w.ripe(i, d, half) {
				ready++
			}
		}
	}
	// A window too few of whose digests are ripe waits for more, unless
	// the clock offset is still to measure: it is measured on the first
	// full window.
	if w.shiftOK && (ready < w.flows/2 || ready < len(ends)/4) {
		// Half as many again when the window is large: a capture that
		// holds its clock back (no flow ending in it for minutes) makes
		// the other's digests wait, and every try sorts them all.
		w.limit = len(ends) + max(w.flows, len(ends)/2)
		return
	}
	w.pairCut(false, func(i int, d *flowDigest) bool { return w.ripe(i, d, half) })
	w.limit = w.pending[0] + w.pending[1] + w.flows
}

// ripe reports whether a digest ended before cut and long enough ago
// that its copy, if any, is in the window.
func (w *pairWindow) ripe(i int, d *flowDigest, cut int64) bool {
	at := w.at(i, d.end)
	if d.closing || at >= cut {
		return false
	}
	if at < w.clock-int64(w.slack) {
		return true
	}
	if d.evicted {
		return at < w.clock
	}
	return at < w.clock-int64(sweepMargin)
}

// pair pairs the digests in the window and settles the flows that ended
// before cut (all of them when final), with whatever they were paired
// with.
func (w *pairWindow) pair(final bool, cut int64) {
	w.pairCut(final, func(i int, d *flowDigest) bool { return !d.closing && w.at(i, d.end) < cut })
}

// pairCut pairs the digests in the window and settles those that settle
// says (all of them when final), with whatever they were paired with.
func (w *pairWindow) pairCut(final bool, settle func(i int, d *flowDigest) bool) {
	// The window in the order of the flows' IDs, as the pairing of whole
	// captures had them: its ties resolve the same.
	// Each capture's index on a goroutine of its own: the last window is
	// paired while nothing else runs.
	var sides [2]*sideIndex
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			slices.SortFunc(w.buf[i], func(x, y flowDigest) int { return cmp.Compare(x.id, y.id) })
			for k := range w.buf[i] {
				for j := range w.buf[i][k].samples {
					w.buf[i][k].samples[j].indexed = false
				}
			}
			sides[i] = newSideIndex(w.buf[i])
		})
	}
	wg.Wait()
	a, b := sides[0], sides[1]
	chosen, high := assignPairs(a, b, w.shift, w.shiftOK)
	var done [2][]bool
	for i := range 2 {
		done[i] = make([]bool, len(w.buf[i]))
	}
	if !w.shiftOK && len(high) > 0 {
		// The first clock offset measured: the streams were merged on the
		// captures' own clocks until now, and the window cut on them: pair
		// it again on the right time line.
		thetas := make([]time.Duration, len(high))
		for k, c := range high {
			thetas[k] = c.theta
		}
		slices.Sort(thetas)
		w.shift, w.shiftOK = thetas[len(thetas)/2], true
		if !final && w.shift != 0 {
			w.keep(done)
			return
		}
	}
	settled := func(i int, d *flowDigest) bool { return final || settle(i, d) }
	for _, c := range chosen {
		if !settled(0, &a.flows[c.a]) && !settled(1, &b.flows[c.b]) {
			continue // decided again with what follows
		}
		r := newPairRecord(c, a, b)
		w.records.put(&r)
		w.partner[0][r.a], w.partner[1][r.b] = r.b, r.a
		if c.thetaOK {
			w.pairThetas.add(c.theta)
		}
		done[0][c.a], done[1][c.b] = true, true
	}
	for i := range 2 {
		for k := range w.buf[i] {
			done[i][k] = done[i][k] || settled(i, &w.buf[i][k])
		}
	}
	for _, c := range high {
		if done[0][c.a] {
			w.thetas.add(c.theta)
		}
	}
	w.keep(done)
}

// keep drops the digests done says were settled from the window.
func (w *pairWindow) keep(done [2][]bool) {
	w.tick() // the clock offset may have changed
	for i := range 2 {
		kept := w.buf[i][:0]
		w.pending[i] = 0
		for k := range w.buf[i] {
			if done[i][k] {
				continue
			}
			d := w.buf[i][k]
			if !d.closing {
				at := w.at(i, d.end)
				if w.pending[i] == 0 || at < w.oldest[i] {
					w.oldest[i] = at
				}
				w.pending[i]++
			}
			kept = append(kept, d)
		}
		clear(w.buf[i][len(kept):])
		w.buf[i] = kept
	}
}

// offset returns the clock offset B − A measured on the surest
// candidates, with how many it rests on.
func (w *pairWindow) offset() (time.Duration, int) {
	return w.thetas.median(), w.thetas.n
}

// align is how far the second pass moves B's clock: the measured offset,
// or without one the middle of the pairs' own.
func (w *pairWindow) align() time.Duration {
	if w.thetas.n > 0 {
		return w.thetas.median()
	}
	return w.pairThetas.median()
}

// medianSample keeps the values whose median is wanted: all of them up
// to medianKept, beyond that every step-th, so that memory stays flat
// and the result is the same every run.
type medianSample struct {
	v    []time.Duration
	n    int // values added
	step int
}

// medianKept is how many values a medianSample keeps at most.
const medianKept = 1 << 16

func (m *medianSample) add(x time.Duration) {
	if m.step == 0 {
		m.step = 1
	}
	if m.n%m.step == 0 {
		if len(m.v) == medianKept {
			// Keep every other one: those at multiples of twice the step.
			for i := range len(m.v) / 2 {
				m.v[i] = m.v[2*i]
			}
			m.v = m.v[:len(m.v)/2]
			m.step *= 2
		}
		if m.n%m.step == 0 {
			m.v = append(m.v, x)
		}
	}
	m.n++
}

// median returns the middle value kept (the upper of the two middle
// ones), 0 when none was added.
func (m *medianSample) median() time.Duration {
	if len(m.v) == 0 {
		return 0
	}
	v := slices.Clone(m.v) // m.v stays in the order added, for add
	slices.Sort(v)
	return v[len(v)/2]
}
