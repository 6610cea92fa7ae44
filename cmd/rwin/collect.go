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
// takes them in the order they finish, on the analyzer's goroutine.
type collector struct {
	in   int // the input's index, for the sink
	file string
	// ringLater: the input is a ring buffer's file after the first, read
	// alone; noSYN counts its flows that began without a SYN.
	ringLater bool
	noSYN     int
	sink      report.Sink
	own       part   // when there are no workers
	parts     []part // one per worker
	batch     *[]analyze.Flow
	work      chan *[]analyze.Flow
	wg        sync.WaitGroup
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
	b := make([]analyze.Flow, 0, collectBatch)
	return &b
}}

func newCollector(in int, file string, sink report.Sink, ordered bool) *collector {
	c := &collector{in: in, file: file, sink: sink}
	n := runtime.GOMAXPROCS(0)
	if n == 1 || ordered {
		return c
	}
	c.work = make(chan *[]analyze.Flow, n)
	c.parts = make([]part, n)
	for i := range n {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for b := range c.work {
				for j := range *b {
					c.hand(&c.parts[i], &(*b)[j])
				}
				*b = (*b)[:0]
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
	if c.work == nil {
		c.hand(&c.own, f)
		return
	}
	if c.batch == nil {
		c.batch = batches.Get().(*[]analyze.Flow)
	}
	*c.batch = append(*c.batch, *f)
	if len(*c.batch) == collectBatch {
		c.work <- c.batch
		c.batch = nil
	}
}

// hand evaluates a flow, counts it and gives it to the sink.
func (c *collector) hand(p *part, f *analyze.Flow) {
	found := rules.Evaluate(f)
	p.counts.Count(found)
	p.flow = report.NewFlow(c.file, f, found)
	if c.ringLater && !f.SYN.Seen {
		p.flow.Notes = []string{"handshake-maybe-in-earlier-file"}
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
