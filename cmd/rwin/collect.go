package main

import (
	"runtime"
	"sync"

	"rwin/analyze"
	"rwin/cmd/rwin/report"
	"rwin/rules"
)

// collector hands the flows of one input to the sink as they finish,
// each evaluated by the rules and derived into a report.Flow once, and
// counts them and their findings. Its add is the analyzer's emit
// function: the *Flow is valid only during the call.
//
// For sinks that write flows in an order of their own (text, JSON),
// workers, one per CPU, evaluate and render copies of the flows in
// batches: a capture's flows mostly finish together when it ends. NDJSON
// takes them in the order they finish, on the analyzer's goroutine; a
// report.SeriesSink (HTML) in that order too, from one worker, with each
// flow's series, recorded for it while the analyzer runs. A
// report.Sequenced sink (JSON) is told that order, which the workers lose.
type collector struct {
	in   int // the input's index, for the sink
	file string
	// ringLater: the input is a ring buffer's file after the first, read
	// alone; noSYN counts its flows that began without a SYN.
	ringLater bool
	noSYN     int
	sink      report.Sink
	series    *analyze.SeriesRecorder // for a report.SeriesSink, else nil
	seqSink   report.Sequenced        // sink, when it is one
	seq       uint64                  // flows finished so far
	own       part                    // when there are no workers
	parts     []part                  // one per worker
	batch     *flowBatch
	work      chan *flowBatch
	wg        sync.WaitGroup
}

// flowBatch is the copies of flows a worker takes at a time, their
// series (for a report.SeriesSink), and the finishing order of the first.
type flowBatch struct {
	flows  []analyze.Flow
	series []*analyze.Series
	first  uint64
}

// part is what one worker keeps: its counts, and the flow it hands on,
// reused (a sink holds a *report.Flow only during the call).
type part struct {
	counts report.Input
	flow   report.Flow
}

// collectBatch is how many flows a worker takes at a time.
const collectBatch = 64

// batches recycles the workers' batches, each collectBatch copies of a flow
// (about 100 KB), so that reading a SYN flood makes no garbage per batch.
var batches = sync.Pool{New: func() any {
	return &flowBatch{flows: make([]analyze.Flow, 0, collectBatch), series: make([]*analyze.Series, 0, collectBatch)}
}}

// newCollector returns the collector of input in for sink; with a
// report.SeriesSink it sets cfg.Series to record the input's series. NDJSON
// (ordered) takes the flows on the analyzer's goroutine.
func newCollector(in int, file string, sink report.Sink, ordered bool, cfg *analyze.Config) *collector {
	c := &collector{in: in, file: file, sink: sink}
	c.seqSink, _ = sink.(report.Sequenced)
	n, queue := runtime.GOMAXPROCS(0), runtime.GOMAXPROCS(0)
	if ss, ok := sink.(report.SeriesSink); ok {
		c.series = analyze.NewSeriesRecorder(ss.SeriesBudget())
		cfg.Series = c.series
		n, queue = 1, 4 // in the order they finish, beside the analyzer
	} else if n == 1 || ordered {
		return c
	}
	c.work = make(chan *flowBatch, queue)
	c.parts = make([]part, n)
	for i := range n {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for b := range c.work {
				for j := range b.flows {
					c.hand(&c.parts[i], &b.flows[j], b.series[j], b.first+uint64(j))
				}
				b.flows, b.series = b.flows[:0], b.series[:0]
				batches.Put(b)
			}
		}()
	}
	return c
}

// add takes one finished flow.
func (c *collector) add(f *analyze.Flow) {
	if c.ringLater && !f.SYN.Seen {
		c.noSYN++
	}
	var s *analyze.Series
	if c.series != nil {
		s = c.series.Take(f.ID)
	}
	seq := c.seq
	c.seq++
	if c.work == nil {
		c.hand(&c.own, f, s, seq)
		return
	}
	if c.batch == nil {
		c.batch = batches.Get().(*flowBatch)
		c.batch.first = seq
	}
	c.batch.flows = append(c.batch.flows, *f)
	c.batch.series = append(c.batch.series, s)
	if len(c.batch.flows) == collectBatch {
		c.work <- c.batch
		c.batch = nil
	}
}

// hand evaluates a flow, the seq-th to finish, counts it and gives it to
// the sink, with its series if recorded.
func (c *collector) hand(p *part, f *analyze.Flow, s *analyze.Series, seq uint64) {
	found := rules.Evaluate(f)
	p.counts.Count(found)
	p.flow = report.NewFlow(c.file, f, found)
	p.flow.Series = s
	if c.ringLater && !f.SYN.Seen {
		p.flow.Notes = []string{"handshake-maybe-in-earlier-file"}
	}
	if c.seqSink != nil {
		c.seqSink.FlowAt(c.in, seq, &p.flow)
		return
	}
	c.sink.Flow(c.in, &p.flow)
}

// done waits for the workers and adds the counts to res.
func (c *collector) done(res *report.Input) {
	if c.work != nil {
		if c.batch != nil {
			c.work <- c.batch
		}
		close(c.work)
		c.wg.Wait()
	}
	res.Merge(&c.own.counts)
	for i := range c.parts {
		res.Merge(&c.parts[i].counts)
	}
}
