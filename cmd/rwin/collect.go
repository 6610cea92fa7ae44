package main

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"encoding/json"
	"io"
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
const maxListed = 100_000

// collector keeps what the report of one input needs as its flows finish,
// in memory that does not grow with the flows where the format allows:
//   - text: each flow's table row (and -v detail) rendered at once, a few
//     hundred bytes instead of the ~8 KB record and flow copy, at most
//     maxListed of them;
//   - ndjson: each record written to the output as the flow finishes;
//   - json: each record encoded at once, for the one sorted document.
//
// It is the analyzer's emit function: the *Flow is valid only during the
// call.
type collector struct {
	file   string
	o      *readOptions
	listed listHeap
	json   []encodedFlow
	err    error // --format json: a record that could not be encoded
	res    *fileResult
}

// listedFlow is one flow of the text report.
type listedFlow struct {
	id     uint64
	rank   int    // see rankOf
	row    string // table cells, tab-separated
	detail string // -v: the detail block
}

// encodedFlow is one flow record of --format json, encoded.
type encodedFlow struct {
	id  uint64
	rec json.RawMessage
}

func newCollector(file string, o *readOptions, res *fileResult) *collector {
	res.severity = map[string]int{"info": 0, "warn": 0, "error": 0}
	return &collector{file: file, o: o, res: res}
}

// add takes one finished flow.
func (c *collector) add(f *analyze.Flow) {
	found := rules.Evaluate(f)
	c.res.flows++
	for _, x := range found {
		c.res.severity[x.Severity.String()]++
	}
	switch c.o.format {
	case "ndjson":
		c.o.stream.write(newFlowRecord(c.file, f, found))
	case "json":
		r := newFlowRecord(c.file, f, found)
		b, err := json.Marshal(&r)
		if err != nil {
			c.err = cmp.Or(c.err, err)
			return
		}
		c.json = append(c.json, encodedFlow{f.ID, b})
	default:
		c.list(f, found)
	}
}

// list renders a flow's row, unless maxListed more important flows are
// already listed.
func (c *collector) list(f *analyze.Flow, found []rules.Finding) {
	lf := listedFlow{id: f.ID, rank: rankOf(f, found)}
	if len(c.listed) == maxListed {
		c.res.unlisted++
		if !lf.before(&c.listed[0]) {
			return
		}
		heap.Pop(&c.listed)
	}
	lf.row = flowRow(c.o.palette, f, found)
	if c.o.verbose {
		var b bytes.Buffer
		r := newFlowRecord(c.file, f, found)
		writeDetail(&b, c.o.palette, &r)
		lf.detail = b.String()
	}
	heap.Push(&c.listed, lf)
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

// done moves what was collected into the result, in flow-ID order.
func (c *collector) done() {
	rows := []listedFlow(c.listed)
	slices.SortFunc(rows, func(a, b listedFlow) int { return cmpID(a.id, b.id) })
	c.res.listed = rows
	slices.SortFunc(c.json, func(a, b encodedFlow) int { return cmpID(a.id, b.id) })
	for _, e := range c.json {
		c.res.records = append(c.res.records, e.rec)
	}
	c.res.outErr = c.err
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
