package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// jsonReorderBytes bounds the flow records --format json holds back to
// write them in flow-ID order. A flow's ID is the order of its first
// packet, and flows finish in another order: a long transfer that started
// first ends last. Records that finished ahead of an older flow still in
// progress wait, up to this many bytes of them (counted compact); past it
// the lowest IDs are written anyway, and the older flow's record comes
// later. Every fixture fits: memory does not grow with a capture's flows.
// The bound keeps --format json's peak RSS within 1.5 times NDJSON's on a
// capture whose first flow lasts to the end (make bench).
const jsonReorderBytes = 8 << 20

// jsonInFlight bounds how far FlowAt lets a flow run ahead of the oldest
// one still being encoded: the records in between wait, at most this many,
// and a goroutine with a flow further ahead waits its turn.
const jsonInFlight = 512

// jsonStream writes the one document of --format json as flows finish:
// the text json.Encoder with two-space indentation writes for
//
//	{"schema": N, "flows": [records in flow-ID order], "summary": {…}}
//
// without building it, so memory does not grow with the flows. Inputs are
// written one after the other, each one's flows in ID order within the
// reorder bound. Records come from several goroutines, so every method
// locks; FlowAt first puts them back in the order the flows finished, so
// that where the bound lets a record through early depends on that order
// alone, never on which goroutine encoded faster: the document is the
// same on any number of CPUs. Under the lock a record's place in the
// document is settled; a goroutine of the stream's own indents what is
// not indented yet and writes, so that the records held back, most of a
// flood's, are not indented one at a time while every encoder waits for
// the lock. It is the JSON Sink.
type jsonStream struct {
	mu sync.Mutex
	// turn wakes the FlowAt calls waiting for seq to come near theirs.
	turn    *sync.Cond
	written int // records in the document so far
	// seq is the current input's next flow in finishing order (FlowAt);
	// early holds the encoded records ahead of it, at seq%jsonInFlight.
	seq   uint64
	early [jsonInFlight]*jsonRecord
	next  uint64 // the current input's lowest flow ID not yet written
	// nextHint is next for the encoding goroutines, which read it without
	// the lock to guess whether their record will be held (see encode).
	nextHint  atomic.Uint64
	held      encodedHeap // records finished ahead of next
	heldBytes int         // their size
	limit     int         // on heldBytes: jsonReorderBytes
	err       error       // the first encoding error
	// queue takes the records, in the document's order, to the writer
	// (writeRecords), which closes wrote once queue is closed and drained.
	queue chan jsonWrite
	wrote chan struct{}
	// The writer's own.
	w        *bufio.Writer
	werr     error  // the first write error
	indented []byte // scratch
}

// jsonWrite is the next record of the document: a pooled record, whose
// out holds it indented when indented is set, else its compact bytes in
// buf; or, when r is nil, a held record's compact bytes. One with synced
// set is no record: the writer closes it (see Sync).
type jsonWrite struct {
	r       *jsonRecord
	compact []byte
	synced  chan struct{}
}

// jsonQueue is how many records may wait for the writer.
const jsonQueue = 128

// NewJSON returns the sink of --format json, writing to w. Its inputs must
// come one after the other: the document lists each input's flows together.
func NewJSON(w io.Writer) Sink {
	s := &jsonStream{w: bufio.NewWriterSize(w, 64<<10), next: 1, limit: jsonReorderBytes,
		queue: make(chan jsonWrite, jsonQueue), wrote: make(chan struct{})}
	s.nextHint.Store(1)
	s.turn = sync.NewCond(&s.mu)
	fmt.Fprintf(s.w, "{\n  \"schema\": %d,\n  \"flows\": [", SchemaVersion)
	go s.writeRecords()
	return s
}

// Sequenced is a Sink that writes flows in an order of its own, and wants
// to know the order they finished in to stay the same whatever the
// goroutines that hand them: FlowAt numbers each input's flows from 0 in
// that order, without gaps. The reader calls it instead of Flow.
type Sequenced interface {
	Sink
	FlowAt(in int, seq uint64, f *Flow)
}

// jsonRecord is one flow's record, encoded compact by a goroutine of its
// own, and indented as the document has it when it is likely to be
// written at once; pooled, so that the records written as they come cost
// no allocation.
type jsonRecord struct {
	id       uint64
	buf      bytes.Buffer
	enc      *json.Encoder
	out      []byte
	indented bool // out holds buf indented
}

var jsonRecords = sync.Pool{New: func() any {
	r := new(jsonRecord)
	r.enc = json.NewEncoder(&r.buf)
	return r
}}

// jsonFailed stands in early for a record that could not be encoded.
var jsonFailed = new(jsonRecord)

// encode encodes f's record as json.Marshal does (Encode with its
// newline dropped) and, when indent is set, indented as the document's
// flows are. Indenting here, on the goroutine that evaluated the flow,
// keeps it off the one goroutine that writes the document; a record the
// reorder buffer will hold is held compact, and indenting it here too
// would be work thrown away.
func encode(f *Flow, indent bool) (*jsonRecord, error) {
	r := jsonRecords.Get().(*jsonRecord)
	r.id = f.Facts.ID
	r.buf.Reset()
	rec := f.Record()
	if err := r.enc.Encode(&rec); err != nil {
		jsonRecords.Put(r)
		return nil, err
	}
	r.buf.Truncate(r.buf.Len() - 1)
	r.indented = indent
	if indent {
		r.out = appendIndented(r.out[:0], r.buf.Bytes(), jsonFlowIndent)
	}
	return r, nil
}

// Flow encodes the flow's record and writes it in order, taking flows in
// the order the calls come (rwin live hands them from one goroutine).
// The encoding, most of the cost, runs outside the lock.
func (s *jsonStream) Flow(_ int, f *Flow) {
	r, err := encode(f, s.soon(f.Facts.ID))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = cmp.Or(s.err, err)
		return
	}
	s.add(r)
}

// FlowAt encodes the flow's record outside the lock, then takes the
// current input's flows in their finishing order seq: a record that comes
// early waits for those before it.
func (s *jsonStream) FlowAt(_ int, seq uint64, f *Flow) {
	r, err := encode(f, s.soon(f.Facts.ID))
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq >= s.seq+jsonInFlight {
		s.turn.Wait()
	}
	if err != nil {
		s.err = cmp.Or(s.err, err)
		r = jsonFailed
	}
	s.early[seq%jsonInFlight] = r
	if seq != s.seq {
		return
	}
	for {
		slot := &s.early[s.seq%jsonInFlight]
		r := *slot
		if r == nil {
			break
		}
		*slot = nil
		s.seq++
		if r != jsonFailed {
			s.add(r)
		}
	}
	s.turn.Broadcast()
}

// soon guesses, without the lock, whether flow id's record will be
// written as soon as it comes rather than held: whether it is among the
// next flows in ID order. A wrong guess costs time, never a byte of the
// document.
func (s *jsonStream) soon(id uint64) bool { return id < s.nextHint.Load()+jsonInFlight }

// add takes the encoded record of one of the current input's flows, and
// r with it: it goes back to the pool once written, or at once when add
// holds a copy. The caller holds s.mu.
func (s *jsonStream) add(r *jsonRecord) {
	id := r.id
	if id > s.next {
		rec := r.buf.Bytes()
		s.held.push(encodedFlow{id, bytes.Clone(rec)})
		s.heldBytes += len(rec)
		jsonRecords.Put(r)
		for s.heldBytes > s.limit {
			s.writeHeld()
		}
		return
	}
	// next, or one older than what the bound let through
	s.write(jsonWrite{r: r})
	if id == s.next {
		s.setNext(s.next + 1)
	}
	for len(s.held) > 0 && s.held[0].id == s.next {
		s.writeHeld()
	}
}

// writeHeld writes the held record of lowest ID.
func (s *jsonStream) writeHeld() {
	e := s.held.pop()
	s.heldBytes -= len(e.rec)
	s.write(jsonWrite{compact: e.rec})
	s.setNext(max(s.next, e.id+1))
}

func (s *jsonStream) setNext(id uint64) {
	s.next = id
	s.nextHint.Store(id)
}

// write queues the next element of "flows" for the writer. The caller
// holds s.mu.
func (s *jsonStream) write(rec jsonWrite) {
	s.written++
	s.queue <- rec
}

// writeRecords is the writer: it writes the queued records, each one
// indented, as the elements of "flows", until the queue is closed.
func (s *jsonStream) writeRecords() {
	defer close(s.wrote)
	n := 0
	for rec := range s.queue {
		if rec.synced != nil {
			close(rec.synced)
			continue
		}
		if s.werr == nil {
			var indented []byte
			switch {
			case rec.r == nil:
				s.indented = appendIndented(s.indented[:0], rec.compact, jsonFlowIndent)
				indented = s.indented
			case rec.r.indented:
				indented = rec.r.out
			default:
				s.indented = appendIndented(s.indented[:0], rec.r.buf.Bytes(), jsonFlowIndent)
				indented = s.indented
			}
			if n > 0 {
				s.w.WriteByte(',')
			}
			s.w.WriteString("\n" + jsonFlowIndent)
			_, s.werr = s.w.Write(indented)
		}
		n++
		if rec.r != nil {
			jsonRecords.Put(rec.r)
		}
	}
}

// Background is a Sink that writes on a goroutine of its own.
type Background interface {
	Sink
	// Sync returns once the sink's goroutine has written, to its buffer,
	// every flow handed over before the call: it then writes nothing
	// until the next flow, and the writer under it may be swapped (rwin
	// live's -o file, opened anew after logrotate renamed it).
	Sync()
}

// Sync waits for the writer to take every record queued so far
// (Background).
func (s *jsonStream) Sync() {
	synced := make(chan struct{})
	s.mu.Lock()
	s.queue <- jsonWrite{synced: synced}
	s.mu.Unlock()
	<-synced
}

// jsonFlowIndent starts each line of a flow record: the records are
// elements of "flows", two levels into the document.
const jsonFlowIndent = "    "

// EndInput writes what is held of the current input, whose flows have
// all finished; the next input's IDs and finishing order start again.
func (s *jsonStream) EndInput(int, *Input) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.held) > 0 {
		s.writeHeld()
	}
	s.setNext(1)
	s.seq = 0
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
	close(s.queue)
	<-s.wrote
	if err := cmp.Or(s.err, s.werr); err != nil {
		return err
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

// encodedFlow is one flow record of --format json, encoded compact.
type encodedFlow struct {
	id  uint64
	rec []byte
}

// encodedHeap is a binary heap of records with the lowest flow ID on
// top; typed, as container/heap's any would cost an allocation a record.
type encodedHeap []encodedFlow

func (h *encodedHeap) push(e encodedFlow) {
	*h = append(*h, e)
	q := *h
	for i := len(q) - 1; i > 0; {
		up := (i - 1) / 2
		if q[up].id <= q[i].id {
			break
		}
		q[up], q[i] = q[i], q[up]
		i = up
	}
}

func (h *encodedHeap) pop() encodedFlow {
	q := *h
	top, n := q[0], len(q)-1
	q[0] = q[n]
	q[n] = encodedFlow{}
	q = q[:n]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < n && q[l].id < q[least].id {
			least = l
		}
		if r < n && q[r].id < q[least].id {
			least = r
		}
		if least == i {
			break
		}
		q[i], q[least] = q[least], q[i]
		i = least
	}
	*h = q
	return top
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
// encoding itself (BenchmarkSinks). Empty objects and arrays stay "{}"
// and "[]". One pass over src: the bytes between two places that take a
// line break or a space (numbers, literals, whole strings, keys with
// their colon) are copied as one run.
func appendIndented(dst, src []byte, prefix string) []byte {
	// newline[:1+len(prefix)+2*depth] starts a line at depth.
	var buf [128]byte
	newline := append(append(buf[:0], '\n'), prefix...)
	for len(newline) < cap(newline) {
		newline = append(newline, ' ')
	}
	line := func(depth int) []byte {
		n := 1 + len(prefix) + 2*max(depth, 0) // depth < 0 only for input json.Marshal would not write
		if n > len(newline) {
			newline = append(newline, bytes.Repeat([]byte{' '}, n-len(newline))...)
		}
		return newline[:n]
	}
	depth, run := 0, 0 // run: where the bytes not yet copied start
	for i := 0; i < len(src); i++ {
		c := src[i]
		if !jsonStructural[c] {
			continue
		}
		switch c {
		case '"':
			// The string, escapes included, joins the run: i stops on
			// its closing quote, or past the end when it does not close.
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case ':':
			dst = append(append(dst, src[run:i+1]...), ' ')
			run = i + 1
		case ',':
			dst = append(append(dst, src[run:i+1]...), line(depth)...)
			run = i + 1
		case '{', '[':
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				i++ // empty: both join the run
				continue
			}
			depth++
			dst = append(append(dst, src[run:i+1]...), line(depth)...)
			run = i + 1
		case '}', ']':
			depth--
			dst = append(append(dst, src[run:i]...), line(depth)...)
			run = i // the bracket starts the next run
		}
	}
	return append(dst, src[min(run, len(src)):]...)
}

// jsonStructural marks the bytes appendIndented acts on outside strings.
var jsonStructural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true, ',': true, ':': true}
