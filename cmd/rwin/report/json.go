package report

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

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
// without building it, so memory does not grow with the flows. Inputs are
// written one after the other, each one's flows in ID order within the
// reorder bound; records come from several goroutines, so every method
// locks. It is the JSON Sink.
type jsonStream struct {
	mu        sync.Mutex
	w         *bufio.Writer
	written   int         // records in the document so far
	next      uint64      // the current input's lowest flow ID not yet written
	held      encodedHeap // records finished ahead of next
	heldBytes int         // their size
	limit     int         // on heldBytes: jsonReorderBytes
	indented  []byte      // scratch
	err       error       // the first write error
}

// NewJSON returns the sink of --format json, writing to w. Its inputs must
// come one after the other: the document lists each input's flows together.
func NewJSON(w io.Writer) Sink {
	s := &jsonStream{w: bufio.NewWriterSize(w, 64<<10), next: 1, limit: jsonReorderBytes}
	fmt.Fprintf(s.w, "{\n  \"schema\": %d,\n  \"flows\": [", SchemaVersion)
	return s
}

// Flow encodes the flow's record and writes it in order. The encoding,
// most of the cost, runs outside the lock: flows come from several
// goroutines. Records are held compact and indented as they are written.
func (s *jsonStream) Flow(_ int, f *Flow) {
	r := f.Record()
	rec, err := json.Marshal(&r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = cmp.Or(s.err, err)
		return
	}
	s.add(f.Facts.ID, rec)
}

// add takes the encoded record of the current input's flow id. The
// caller holds s.mu.
func (s *jsonStream) add(id uint64, rec json.RawMessage) {
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
	s.indented = appendIndented(s.indented[:0], rec, "    ")
	_, s.err = s.w.Write(s.indented)
}

// EndInput writes what is held of the current input, whose flows have
// all finished; the next input's IDs start again at 1.
func (s *jsonStream) EndInput(int, *Input) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.held) > 0 {
		s.writeHeld()
	}
	s.next = 1
}

// Close writes the summary and the end of the document, flushes, and
// returns the first error.
func (s *jsonStream) Close(run *Run) error {
	summary := run.Summary()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.held) > 0 { // an input that was not ended
		s.writeHeld()
	}
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

// NDJSON is the sink of --format ndjson: one line per flow as flows
// finish, so a pipeline can act on them as they come and a capture of any
// size is reported in constant memory, then a last summary line. The
// first write error stops it.
type NDJSON struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *json.Encoder
	err error
}

// NewNDJSON returns the sink of --format ndjson, writing to w.
func NewNDJSON(w io.Writer) *NDJSON {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &NDJSON{w: bw, enc: json.NewEncoder(bw)}
}

// Flow writes the flow's record.
func (s *NDJSON) Flow(_ int, f *Flow) { s.write(f.Record()) }

func (s *NDJSON) write(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.enc.Encode(v)
	}
}

// EndInput does nothing: every flow is written already.
func (s *NDJSON) EndInput(int, *Input) {}

// Close writes the summary record, flushes, and returns the first error.
func (s *NDJSON) Close(run *Run) error {
	s.write(run.Summary())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.w.Flush()
	}
	return s.err
}

// Flush writes the records buffered so far, for a reader that acts on each
// as it comes (rwin live).
func (s *NDJSON) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.w.Flush()
	}
	return s.err
}

// appendIndented appends src, compact JSON as json.Marshal writes it, as
// json.Indent(dst, src, prefix, "  ") would: the same bytes, without
// Indent's validating scanner, which cost --format json more than the
// encoding itself (BenchmarkSinks). Empty objects and arrays stay "{}" and "[]".
func appendIndented(dst, src []byte, prefix string) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
		for range depth {
			dst = append(dst, "  "...)
		}
	}
	inString, escaped := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			dst = append(dst, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			dst = append(dst, c)
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
