package main

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// runRecord is the --format json document: every flow, then the summary.
// jsonStream writes it piece by piece.
type runRecord struct {
	Schema  int               `json:"schema"`
	Flows   []json.RawMessage `json:"flows"`
	Summary summaryRecord     `json:"summary"`
}

// jsonReorderBytes bounds the flow records --format json holds back to
// write them in flow-ID order. A flow's ID is the order of its first
// packet, and flows finish in another order: a long transfer that started
// first ends last. Records that finished ahead of an older flow still in
// progress wait, up to this many bytes of them; past it the lowest IDs
// are written anyway, and the older flow's record comes later. Every
// fixture and most captures fit: memory does not grow with a capture's
// flows.
const jsonReorderBytes = 16 << 20

// jsonStream writes the one document of --format json as flows finish:
// the text json.Encoder with two-space indentation writes for
//
//	{"schema": N, "flows": [records in flow-ID order], "summary": {…}}
//
// without building it. Holding every record to the end cost about 3.4 KB
// per flow (3.4 GB for a million flows). Inputs are written one after the
// other, each one's flows in ID order within the reorder bound; records
// come from the collector's workers, so every method locks.
type jsonStream struct {
	mu        sync.Mutex
	w         *bufio.Writer
	written   int          // records in the document so far
	next      uint64       // the current input's lowest flow ID not yet written
	held      encodedHeap  // records finished ahead of next
	heldBytes int          // their size
	limit     int          // on heldBytes: jsonReorderBytes
	indented  bytes.Buffer // scratch
	err       error        // the first write error
}

func newJSONStream(w io.Writer) *jsonStream {
	s := &jsonStream{w: bufio.NewWriterSize(w, 64<<10), next: 1, limit: jsonReorderBytes}
	fmt.Fprintf(s.w, "{\n  \"schema\": %d,\n  \"flows\": [", schemaVersion)
	return s
}

// add takes the encoded record of the current input's flow id.
func (s *jsonStream) add(id uint64, rec json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id > s.next {
		heap.Push(&s.held, encodedFlow{id, rec})
		s.heldBytes += len(rec)
		for s.heldBytes > s.limit {
			s.writeHeld()
		}
		return
	}
	s.write(rec) // next, or one older than what the bound let through
	if id == s.next {
		s.next++
	}
	for len(s.held) > 0 && s.held[0].id == s.next {
		s.writeHeld()
	}
}

// writeHeld writes the held record of lowest ID.
func (s *jsonStream) writeHeld() {
	e := heap.Pop(&s.held).(encodedFlow)
	s.heldBytes -= len(e.rec)
	s.write(e.rec)
	s.next = max(s.next, e.id+1)
}

func (s *jsonStream) write(rec json.RawMessage) {
	if s.err != nil {
		return
	}
	if s.written > 0 {
		s.w.WriteByte(',')
	}
	s.written++
	s.w.WriteString("\n    ")
	s.indented.Reset()
	if s.err = json.Indent(&s.indented, rec, "    ", "  "); s.err == nil {
		_, s.err = s.w.Write(s.indented.Bytes())
	}
}

// endInput writes what is held of the current input, whose flows have
// all finished; the next input's IDs start again at 1.
func (s *jsonStream) endInput() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.held) > 0 {
		s.writeHeld()
	}
	s.next = 1
}

// close writes the summary and the end of the document, flushes, and
// returns the first error.
func (s *jsonStream) close(summary summaryRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.written > 0 {
		s.w.WriteString("\n  ")
	}
	s.w.WriteString("],\n  \"summary\": ")
	sum, err := json.MarshalIndent(summary, "  ", "  ")
	if err != nil {
		return err
	}
	s.w.Write(sum)
	s.w.WriteString("\n}\n")
	return s.w.Flush()
}

// encodedFlow is one flow record of --format json, encoded.
type encodedFlow struct {
	id  uint64
	rec json.RawMessage
}

// encodedHeap holds records with the lowest flow ID on top.
type encodedHeap []encodedFlow

func (h encodedHeap) Len() int           { return len(h) }
func (h encodedHeap) Less(i, j int) bool { return h[i].id < h[j].id }
func (h encodedHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *encodedHeap) Push(x any)        { *h = append(*h, x.(encodedFlow)) }
func (h *encodedHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// --format ndjson writes one line per flow as flows finish, so a pipeline
// can act on them as they come and a capture of any size is reported in
// constant memory (see flowStream), then a last summary line.

// summarize builds the closing summary of a run.
func summarize(results []fileResult) summaryRecord {
	s := summaryRecord{Type: "summary", Schema: schemaVersion, Files: []fileSummary{},
		Findings: map[string]int{"info": 0, "warn": 0, "error": 0}}
	for _, r := range results {
		m := &r.sum
		fsum := fileSummary{
			File: r.name, Packets: m.Packets, TCP: m.TCP, Flows: r.flows, Filtered: m.Filtered,
			NotIP: m.NotIP, NotTCP: m.NotTCP, Fragments: m.Fragments, Truncated: m.Truncated,
			Malformed: m.Malformed, LinkType: m.LinkType, Encap: m.Encap, TruncOpts: m.TruncOpts, Untimed: m.Untimed,
			Evicted: m.Analyzer.Evicted, Dups: m.Analyzer.Duplicates, PeakFlows: m.Analyzer.PeakFlows, CutShort: m.CutShort(),
			Warnings:   append([]string{}, m.Warnings...),
			Unanswered: unansweredRecords(&m.Unanswered), UnansweredOther: m.Unanswered.OtherAttempts,
		}
		if r.err != nil {
			fsum.Error = ptr(oneLine(r.err.Error()))
			s.Errors++
		}
		s.Files = append(s.Files, fsum)
		s.Packets += m.Packets
		s.TCP += m.TCP
		s.Flows += r.flows
		s.Skipped += m.Packets - m.TCP
		for sev, n := range r.severity {
			s.Findings[sev] += n
		}
	}
	return s
}
