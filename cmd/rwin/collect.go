package main

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"encoding/json"
	"io"
	"runtime"
	"slices"
	"sync"

	"rwin/analyze"
	"rwin/rules"
)

// maxListed bounds the flows the text report lists per input. Beyond it
// the table keeps the flows with the most severe findings, then those that
// completed a handshake or carried data (the connections behind a SYN
// flood), the earliest first among equals, and says how many it left out:
// a SYN flood of ten million flows would otherwise hold every row in
// memory until the end. --format ndjson lists every flow in constant
// memory.
var maxListed = 100_000 // a variable for tests

// collector keeps what the report of one input needs as its flows finish,
// in memory that does not grow with the flows where the format allows:
//   - text: each flow's table row (and -v detail) rendered at once, a few
//     hundred bytes instead of the ~8 KB record and flow copy, at most
//     maxListed of them;
//   - ndjson: each record written to the output as the flow finishes;
//   - json: each record encoded at once and written in flow-ID order,
//     held back only while an older flow is in progress (see jsonStream).
//
// Its add is the analyzer's emit function: the *Flow is valid only during
// the call. For text and JSON, whose flows are sorted at the end anyway,
// workers (one per CPU) evaluate and render copies of the flows in
// batches: a capture's flows mostly finish together when it ends, and
// rendering them one by one kept one CPU busy for a fifth of rwin read's
// time while the other idled (pprof on the benchmark capture).
type collector struct {
	file string
	// ringLater: the input is a ring buffer's file after the first, read
	// alone; noSYN counts its flows that began without a SYN.
	ringLater bool
	noSYN     int
	o         *readOptions
	res       *fileResult
	own       collected // ndjson, or when there is one CPU
	batch     []analyze.Flow
	work      chan []analyze.Flow
	free      chan []analyze.Flow
	parts     []*collected // one per worker
	wg        sync.WaitGroup
}

// collected is what one worker, or the collector itself, gathered.
type collected struct {
	flows    int
	severity [rules.Error + 1]int
	// The flows listed: in chunks, appended without copying, until
	// maxListed are; from then on in one heap (see list).
	chunks   [][]listedFlow
	nlisted  int
	listed   listHeap
	heaped   bool
	unlisted int
	err      error // --format json: a record that could not be encoded
}

// listedFlow is one flow of the text report.
type listedFlow struct {
	id     uint64
	rank   int    // see rankOf
	row    string // table cells, tab-separated
	detail string // -v: the detail block
}

// collectBatch is how many flows a worker takes at a time.
const collectBatch = 64

func newCollector(file string, o *readOptions, res *fileResult) *collector {
	c := &collector{file: file, o: o, res: res}
	if n := runtime.GOMAXPROCS(0); n > 1 && o.format != "ndjson" {
		c.work = make(chan []analyze.Flow, n)
		c.free = make(chan []analyze.Flow, 2*n+1)
		for range n {
			k := &collected{}
			c.parts = append(c.parts, k)
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				for b := range c.work {
					for i := range b {
						k.add(c, &b[i])
						b[i].Release() // rendered: see analyze.Flow.Release
					}
					select {
					case c.free <- b[:0]:
					default:
					}
				}
			}()
		}
	}
	return c
}

// add takes one finished flow.
func (c *collector) add(f *analyze.Flow) {
	if c.ringLater && !f.SYN.Seen {
		c.noSYN++
	}
	if c.work == nil {
		c.own.add(c, f)
		f.Release()
		return
	}
	if c.batch == nil {
		select {
		case c.batch = <-c.free:
		default:
			c.batch = make([]analyze.Flow, 0, collectBatch)
		}
	}
	c.batch = append(c.batch, *f)
	if len(c.batch) == collectBatch {
		c.work <- c.batch
		c.batch = nil
	}
}

func (k *collected) add(c *collector, f *analyze.Flow) {
	found := rules.Evaluate(f)
	k.flows++
	for _, x := range found {
		k.severity[x.Severity]++
	}
	switch c.o.format {
	case "ndjson":
		c.o.stream.write(c.record(f, found))
	case "json":
		r := c.record(f, found)
		b, err := json.Marshal(&r)
		if err != nil {
			k.err = cmp.Or(k.err, err)
			return
		}
		c.o.json.add(f.ID, b)
	default:
		k.list(c, f, found)
	}
}

// record derives a flow's record, noting a handshake that may lie in a
// ring buffer's earlier file.
func (c *collector) record(f *analyze.Flow, found []rules.Finding) flowRecord {
	r := newFlowRecord(c.file, f, found)
	if c.ringLater && !f.SYN.Seen {
		r.HandshakeNotes = append(r.HandshakeNotes, "handshake-maybe-in-earlier-file")
	}
	return r
}

// list renders a flow's row, unless maxListed more important flows are
// already listed.
func (k *collected) list(c *collector, f *analyze.Flow, found []rules.Finding) {
	lf := listedFlow{id: f.ID, rank: rankOf(f, found)}
	if k.nlisted == maxListed {
		if !k.heaped {
			k.listed = slices.Concat(k.chunks...)
			k.chunks = nil
			heap.Init(&k.listed)
			k.heaped = true
		}
		k.unlisted++
		if !lf.before(&k.listed[0]) {
			return
		}
		heap.Pop(&k.listed)
	}
	lf.row = flowRow(c.o.palette, f, found)
	if c.o.verbose {
		var b bytes.Buffer
		r := c.record(f, found)
		writeDetail(&b, c.o.palette, &r)
		lf.detail = b.String()
	}
	if k.heaped {
		heap.Push(&k.listed, lf)
		return
	}
	// In chunks rather than one slice: growing a slice of every row,
	// copying it at each step, was a sixth of rwin read's page faults
	// on the benchmark capture (perf record -e page-faults).
	if n := len(k.chunks); n == 0 || len(k.chunks[n-1]) == listChunk {
		k.chunks = append(k.chunks, make([]listedFlow, 0, listChunk))
	}
	last := &k.chunks[len(k.chunks)-1]
	*last = append(*last, lf)
	k.nlisted++
}

// listChunk is how many listed flows a chunk holds.
const listChunk = 1024

// listedChunks returns the flows k listed, in some order.
func (k *collected) listedChunks() [][]listedFlow {
	if k.heaped {
		return [][]listedFlow{k.listed}
	}
	return k.chunks
}

// rankOf orders flows for listing: by their most severe finding, then
// whether they amounted to a connection.
func rankOf(f *analyze.Flow, found []rules.Finding) int {
	rank := 0
	if len(found) > 0 {
		rank = 2 * (int(found[0].Severity) + 1) // found is most severe first
	}
	if f.Handshake == analyze.HandshakeComplete || f.Client.DataPackets+f.Server.DataPackets > 0 {
		rank++
	}
	return rank
}

// done waits for the workers and moves what was collected into the
// result, in flow-ID order.
func (c *collector) done() {
	if c.work != nil {
		if len(c.batch) > 0 {
			c.work <- c.batch
		}
		close(c.work)
		c.wg.Wait()
	}
	res := c.res
	res.severity = map[string]int{}
	parts := append(c.parts, &c.own)
	for _, k := range parts {
		res.flows += k.flows
		for sev, n := range k.severity {
			res.severity[rules.Severity(sev).String()] += n
		}
		res.unlisted += k.unlisted
		res.outErr = cmp.Or(res.outErr, k.err)
	}
	var dropped int
	res.listed, dropped = listedInOrder(parts)
	res.unlisted += dropped
	if c.o.json != nil {
		c.o.json.endInput()
	}
}

// listedInOrder gathers the flows the workers listed, in ID order, and
// how many beyond maxListed it left out (each worker kept up to
// maxListed). When every flow of an ID range was listed, as unless
// maxListed was reached, each goes straight to its place: sorting 38,700
// rows took 5 ms at the end of rwin read, when only one CPU has work. The
// rows stay where the workers put them; the order is of pointers.
func listedInOrder(parts []*collected) ([]*listedFlow, int) {
	var chunks [][]listedFlow
	for _, k := range parts {
		chunks = append(chunks, k.listedChunks()...)
	}
	n, lo, hi := 0, ^uint64(0), uint64(0)
	for _, c := range chunks {
		n += len(c)
		for i := range c {
			lo, hi = min(lo, c[i].id), max(hi, c[i].id)
		}
	}
	rows := make([]*listedFlow, n)
	if n > 0 && n <= maxListed && hi-lo == uint64(n-1) {
		for _, c := range chunks {
			for i := range c {
				rows[c[i].id-lo] = &c[i]
			}
		}
		return rows, 0
	}
	rows = rows[:0]
	for _, c := range chunks {
		for i := range c {
			rows = append(rows, &c[i])
		}
	}
	dropped := 0
	if len(rows) > maxListed {
		slices.SortFunc(rows, func(a, b *listedFlow) int {
			if a.before(b) {
				return -1
			}
			return 1
		})
		dropped = len(rows) - maxListed
		rows = rows[:maxListed]
	}
	slices.SortFunc(rows, func(a, b *listedFlow) int { return cmpID(a.id, b.id) })
	return rows, dropped
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// before reports whether a is listed in preference to b: higher rank
// first, then the flow that started first.
func (a *listedFlow) before(b *listedFlow) bool {
	return a.rank > b.rank || a.rank == b.rank && a.id < b.id
}

// listHeap is a heap of listed flows with the one listed least readily on
// top, the first to go when a more important flow arrives.
type listHeap []listedFlow

func (h listHeap) Len() int           { return len(h) }
func (h listHeap) Less(i, j int) bool { return h[j].before(&h[i]) }
func (h listHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *listHeap) Push(x any)        { *h = append(*h, x.(listedFlow)) }
func (h *listHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// flowStream writes the NDJSON records of flows as they finish, for every
// input being read at once, then the summary. The first write error stops
// it and is reported at the end.
type flowStream struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *json.Encoder
	err error
}

func newFlowStream(w io.Writer) *flowStream {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &flowStream{w: bw, enc: json.NewEncoder(bw)}
}

func (s *flowStream) write(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.enc.Encode(v)
	}
}

// close writes the summary record, flushes, and returns the first error.
func (s *flowStream) close(summary any) error {
	s.write(summary)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.w.Flush()
	}
	return s.err
}
