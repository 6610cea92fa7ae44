package pathdiff

import (
	"math"
	"sync"
	"time"

	"rwin/analyze"
)

// diffMerge is the second pass: both captures on one time line, each
// through its own flow table with the merge as its Observer.
type diffMerge struct {
	// planOf reads the plan of pair n; err is the first it failed.
	planOf func(n int) (pairPlan, error)
	err    error
	// pairOf maps each capture's flows (by ID − 1) to their pair's
	// index, -1 when unpaired.
	pairOf [2][]int32
	// live lists the pairs in progress; at holds, for each pair, its
	// place in live + 1, 0 when it is not in progress.
	at     []int32
	live   []*pairState
	series [2]*analyze.SeriesRecorder
	out    *sinkQueue
	// span is each capture's time span on the merged line.
	span      [2][2]int64
	shift     [2]time.Duration // subtracted from capture i's times to align with A
	clock     int64
	lastSweep int64
	peak      int // most pairs in progress at once
}

// segment hands a segment of pair n, from capture i, to its pair.
func (m *diffMerge) segment(i analyze.Capture, n int32, fromX bool, v *pendingSeg) {
	m.clock = max(m.clock, v.at)
	m.state(int(n)).segment(m, i, fromX, v)
}

// state returns the state of pair n, putting the pair in progress if it
// is not yet.
func (m *diffMerge) state(n int) *pairState {
	if i := m.at[n]; i != 0 {
		return m.live[i-1]
	}
	pl, err := m.planOf(n)
	if err != nil && m.err == nil {
		m.err = err
	}
	ps := pl.state(n)
	ps.live = len(m.live)
	m.live = append(m.live, ps)
	m.at[n] = int32(len(m.live))
	m.peak = max(m.peak, len(m.live))
	return ps
}

// finished takes a flow capture i's table finished, a copy of it that
// the merge owns: an unpaired one goes to the sink at once, a paired one
// when its pair's other flow has finished too. n is the flow's pair, -1
// when unpaired.
func (m *diffMerge) finished(i analyze.Capture, n int32, f *analyze.Flow, series *analyze.Series) {
	if n < 0 {
		m.out.put(sinkCall{c: i, a: Flow{Flow: f, Series: series}})
		return
	}
	// Without a segment filed yet (its flows held only copies of other
	// segments) the pair starts here, all plan.
	ps := m.state(int(n))
	ps.flows[i], ps.series[i], ps.done[i] = f, series, true
	if !ps.done[1-i] {
		return // kept until the other flow finishes
	}
	ps.expire(m, math.MaxInt64)
	ps.finish()
	compareHandshakes(&ps.pair, ps.flows[0], ps.flows[1])
	// ps is dropped here: the sink's goroutine has the pair and its flows.
	m.out.put(sinkCall{n: ps.n, pair: &ps.pair, a: Flow{ps.flows[0], ps.series[0]}, b: Flow{ps.flows[1], ps.series[1]}})
	last := m.live[len(m.live)-1]
	m.live[ps.live], last.live = last, ps.live
	m.at[last.n] = int32(ps.live + 1)
	m.at[ps.n] = 0
	m.live = m.live[:len(m.live)-1]
}

// flowCopies recycles the copies of finished flows the second pass's
// readers hand to the merge.
var flowCopies = sync.Pool{New: func() any { return new(analyze.Flow) }}

// sinkQueue calls the sink on a goroutine of its own, in the order the
// merge finished the pairs and unpaired flows: rendering and writing the
// pairs (the rules, the report) took a third of the CPU time of the
// merge's goroutine, which every segment of both captures passes through.
type sinkQueue struct {
	sink  Sink
	calls chan sinkCall
	done  chan struct{}
}

// sinkCall is one call of the sink: Pair when pair is set, else
// Unpaired(c, a). The flows go back to flowCopies after it.
type sinkCall struct {
	n    int
	pair *analyze.FlowPair
	c    analyze.Capture
	a, b Flow
}

// sinkQueued is how many calls may wait for the sink, each holding one
// or two copies of a finished flow (1.6 KB each).
const sinkQueued = 256

func newSinkQueue(sink Sink) *sinkQueue {
	q := &sinkQueue{sink: sink, calls: make(chan sinkCall, sinkQueued), done: make(chan struct{})}
	go q.run()
	return q
}

func (q *sinkQueue) put(c sinkCall) { q.calls <- c }

func (q *sinkQueue) run() {
	defer close(q.done)
	for c := range q.calls {
		switch {
		case c.pair != nil && q.sink.Pair != nil:
			q.sink.Pair(c.n, c.pair, c.a, c.b)
		case c.pair == nil && q.sink.Unpaired != nil:
			q.sink.Unpaired(c.c, c.a)
		}
		flowCopies.Put(c.a.Flow)
		if c.b.Flow != nil {
			flowCopies.Put(c.b.Flow)
		}
	}
}

// close waits until the sink has had every call.
func (q *sinkQueue) close() {
	close(q.calls)
	<-q.done
}

// diffSecondPass analyzes both captures again on one time line and
// matches the paired flows' segments across them. Each capture is read
// and analyzed on its own goroutine (sideReader), which hands what its
// flow table did to the merge in batches: the merge, on the caller's
// goroutine, takes them packet by packet in the order the one-goroutine
// walk took them (the earlier packet first, A first at a tie), so the
// result is the same, in about half the time on two cores.
//
// pairOf maps each capture's flows (by ID − 1) to their pair, -1 when
// unpaired; planOf reads a pair's plan when its first segment comes.
func diffSecondPass(open [2]analyze.Opener, cfg Config, h *Head, pairOf [2][]int32, planOf func(int) (pairPlan, error),
	align time.Duration, sink Sink) error {
	m := &diffMerge{planOf: planOf, pairOf: pairOf, at: make([]int32, h.Pairs), out: newSinkQueue(sink)}
	// Every call the merge made has reached the sink when the pass
	// returns.
	defer m.out.close()
	m.shift[analyze.CaptureB] = align
	for i := range 2 {
		sum := &h.Summaries[i]
		m.span[i] = [2]int64{sum.FirstTime - int64(m.shift[i]), sum.LastTime - int64(m.shift[i])}
	}
	var sides [2]*sideReader
	for i := range 2 {
		src, err := open[i]()
		if err != nil {
			for _, s := range sides[:i] {
				s.src.Close()
			}
			return err
		}
		sides[i] = newSideReader(src, cfg, analyze.Capture(i), m.pairOf[i], m.shift[i])
	}
	var wg sync.WaitGroup
	for _, s := range sides {
		wg.Go(s.run)
	}
	defer func() {
		for _, s := range sides {
			s.stop()
		}
		wg.Wait()
		for _, s := range sides {
			s.src.Close()
		}
	}()
	var cur [2]sideCursor
	for i := range 2 {
		cur[i] = sideCursor{r: sides[i]}
	}
	for {
		pa, pb := cur[0].peek(), cur[1].peek()
		moreA, moreB := pa != nil && !pa.closing, pb != nil && !pb.closing
		if !moreA && !moreB || m.err != nil {
			break
		}
		i := analyze.CaptureA
		if !moreA || moreB && pb.at < pa.at {
			i = analyze.CaptureB
		}
		cur[i].take(m, i)
		if time.Duration(m.clock-m.lastSweep) >= pendingSweep {
			m.lastSweep = m.clock
			for _, ps := range m.live {
				ps.expire(m, m.clock)
			}
		}
	}
	// The flows still in the tables at the end, A's first.
	for i := range 2 {
		if p := cur[i].peek(); p != nil {
			cur[i].take(m, analyze.Capture(i))
		}
	}
	if m.err != nil {
		return m.err
	}
	h.PeakPairs = m.peak
	for i := range 2 {
		// The first pass read the same bytes; an error now means the file
		// changed under us.
		if err := sides[i].sum.Err; err != nil && h.Summaries[i].Err == nil {
			h.Summaries[i].Err = err
		}
	}
	return nil
}
