package pathdiff

import (
	"math"

	"rwin/analyze"
	"rwin/capture"
)

// diffMerge is the second pass: both captures on one time line, each
// through its own flow table with the merge as its Observer.
type diffMerge struct {
	plans []pairPlan
	// pairOf maps each capture's flows (by ID − 1) to their pair's
	// index, -1 when unpaired.
	pairOf [2][]int32
	// states holds the pairs in progress, by pair index; live lists them.
	states map[int]*pairState
	live   []*pairState
	series [2]*analyze.SeriesRecorder
	sink   Sink
	// span is each capture's time span on the merged line.
	span      [2][2]int64
	shift     [2]int64 // subtracted from capture i's times to align with A
	clock     int64
	lastSweep int64
	peak      int // most pairs in progress at once
}

// mergeSide is the merge observing one capture's flow table.
type mergeSide struct {
	m *diffMerge
	i analyze.Capture
}

// Segment hands a segment of a paired flow to its pair (Observer).
func (o mergeSide) Segment(id uint64, seg *capture.Segment) {
	m, i := o.m, o.i
	n := m.pairOf[i][id-1]
	if n < 0 {
		return
	}
	ps := m.state(int(n))
	src := seg.SrcEndpoint()
	if !ps.xSet[i] {
		ps.x[i], ps.xSet[i] = src, true
	}
	at := seg.Time - m.shift[i]
	m.clock = max(m.clock, at)
	ps.segment(m, i, src == ps.x[i], seg, at)
}

// state returns the state of pair n, putting the pair in progress if it
// is not yet.
func (m *diffMerge) state(n int) *pairState {
	ps := m.states[n]
	if ps == nil {
		ps = m.plans[n].state(n)
		m.states[n] = ps
		ps.live = len(m.live)
		m.live = append(m.live, ps)
		m.peak = max(m.peak, len(m.live))
	}
	return ps
}

// finished takes a flow capture i's table finished: an unpaired one goes
// to the sink at once, a paired one when its pair's other flow has
// finished too.
func (m *diffMerge) finished(i analyze.Capture, f *analyze.Flow) {
	var series *analyze.Series
	if m.series[i] != nil {
		series = m.series[i].Take(f.ID)
	}
	n := m.pairOf[i][f.ID-1]
	if n < 0 {
		if m.sink.Unpaired != nil {
			m.sink.Unpaired(i, Flow{Flow: f, Series: series})
		}
		return
	}
	// Without a segment filed yet (its flows held only copies of other
	// segments) the pair starts here, all plan.
	ps := m.state(int(n))
	ps.series[i], ps.done[i] = series, true
	if !ps.done[1-i] {
		// The table reuses f once this returns: keep a copy until the
		// other flow finishes (only then, so that a pair in progress
		// costs no flow's worth of memory).
		keep := *f
		ps.flows[i] = &keep
		return
	}
	ps.flows[i] = f
	ps.expire(m, math.MaxInt64)
	ps.finish()
	compareHandshakes(&ps.pair, ps.flows[0], ps.flows[1])
	if m.sink.Pair != nil {
		m.sink.Pair(ps.n, &ps.pair, Flow{ps.flows[0], ps.series[0]}, Flow{ps.flows[1], ps.series[1]})
	}
	delete(m.states, ps.n)
	last := m.live[len(m.live)-1]
	m.live[ps.live], last.live = last, ps.live
	m.live = m.live[:len(m.live)-1]
}

// diffSecondPass analyzes both captures again on one time line and
// matches the paired flows' segments across them.
func diffSecondPass(open [2]analyze.Opener, cfg Config, h *Head, plans []pairPlan, align int64, sink Sink) error {
	m := &diffMerge{plans: plans, states: make(map[int]*pairState), sink: sink}
	m.shift[analyze.CaptureB] = align
	for i := range 2 {
		sum := &h.Summaries[i]
		m.span[i] = [2]int64{sum.FirstTime - m.shift[i], sum.LastTime - m.shift[i]}
		m.pairOf[i] = make([]int32, h.Flows[i])
		for j := range m.pairOf[i] {
			m.pairOf[i][j] = -1
		}
	}
	for n := range plans {
		m.pairOf[analyze.CaptureA][plans[n].a] = int32(n)
		m.pairOf[analyze.CaptureB][plans[n].b] = int32(n)
	}
	var st [2]*analyze.Stepper
	var more [2]bool
	for _, i := range analyze.Captures {
		src, err := open[i]()
		if err != nil {
			return err
		}
		defer src.Close()
		c := cfg.Config
		c.Series, c.Observer = nil, mergeSide{m, i}
		if cfg.Series != nil {
			m.series[i] = analyze.NewSeriesRecorder(cfg.Series)
			c.Series = m.series[i]
		}
		st[i] = analyze.NewStepper(src, c, func(f *analyze.Flow) { m.finished(i, f) })
		more[i] = st[i].Read()
	}
	at := func(i int) int64 { return st[i].Packet.Time - m.shift[i] }
	for more[0] || more[1] {
		i := analyze.CaptureA
		if !more[0] || more[1] && at(1) < at(0) {
			i = analyze.CaptureB
		}
		st[i].File()
		if m.clock-m.lastSweep >= pendingSweep {
			m.lastSweep = m.clock
			for _, ps := range m.live {
				ps.expire(m, m.clock)
			}
		}
		more[i] = st[i].Read()
	}
	defer func() { h.PeakPairs = m.peak }()
	for i := range 2 {
		sum := st[i].Close()
		// The first pass read the same bytes; an error now means the file
		// changed under us.
		if sum.Err != nil && h.Summaries[i].Err == nil {
			h.Summaries[i].Err = sum.Err
		}
	}
	return nil
}
