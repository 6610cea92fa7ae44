package pathdiff

import (
	"time"

	"net/netip"

	"rwin/analyze"
	"rwin/capture"
)

// The second pass reads each capture on its own goroutine: decoding and
// the flow table are most of its work, and the two captures' tables are
// independent. A sideReader records, packet by packet, what its table did
// to the paired flows (their segments, and the flows it finished) and
// hands the record to the merge in batches; the merge replays the two
// records on one time line.

// Batches: at most sideBatchPackets packets and sideBatchEvents events
// each, sideBatches of them in flight per capture, recycled, so the
// readers run ahead of the merge in bounded memory and without
// allocating per packet. The events of one packet may span batches: the
// table finishes every flow left at the end of a capture at once (a
// 100,000-SYN flood's whole table), and each finished flow is a copy.
const (
	sideBatchPackets = 1024
	sideBatchEvents  = 1024
	sideBatches      = 4
)

// sideBatch is a run of packets of one capture and what they caused.
type sideBatch struct {
	marks []packetMark
	// evs holds the events of the marks, in order: marks[k].n of them
	// each.
	evs []sideEvent
}

// packetMark is one packet read: when it comes on the merged time line
// and how many events filing it caused. The closing mark stands for the
// end of the capture and holds the flows its table finished then. A
// mark with more holds more events of the packet before it, in the next
// batch.
type packetMark struct {
	at      int64
	n       int32
	closing bool
	more    bool
}

// sideEvent is a segment of a paired flow or a finished flow.
type sideEvent struct {
	n     int32 // the pair, -1 for an unpaired flow
	fromX bool  // the segment's sender sent its flow's first segment
	fin   bool
	seg   pendingSeg
	// flow is a copy of the finished flow, from flowCopies.
	flow   *analyze.Flow
	series *analyze.Series
}

// sideReader reads one capture for the second pass.
type sideReader struct {
	src    capture.Source
	st     *analyze.Stepper
	series *analyze.SeriesRecorder
	pairOf []int32       // the pair of each flow (by ID − 1), -1 when unpaired
	shift  time.Duration // subtracted from the capture's times to align with A
	// x holds the endpoint that sent the first segment of each paired
	// flow in progress (see flowDigest.x).
	x    flowSlots[netip.AddrPort]
	b    *sideBatch
	out  chan *sideBatch
	free chan *sideBatch
	done chan struct{}
	// stopped: the merge returned early, the rest is dropped.
	stopped bool
	// sum is the capture's summary; the merge reads it once out is
	// closed.
	sum analyze.Summary
}

func newSideReader(src capture.Source, cfg Config, i analyze.Capture, pairOf []int32, shift time.Duration) *sideReader {
	r := &sideReader{src: src, pairOf: pairOf, shift: shift,
		b: new(sideBatch), out: make(chan *sideBatch, sideBatches), free: make(chan *sideBatch, sideBatches+2),
		done: make(chan struct{})}
	c := cfg.Config
	c.Series, c.Observer = nil, r
	if cfg.Series != nil {
		r.series = analyze.NewSeriesRecorder(cfg.Series)
		c.Series = r.series
	}
	r.st = analyze.NewStepper(src, c, r.finished)
	return r
}

// run reads the capture to its end, or until stop.
func (r *sideReader) run() {
	defer close(r.out)
	for r.st.Read() && !r.stopped {
		if len(r.b.marks) == sideBatchPackets {
			r.flush()
		}
		r.b.marks = append(r.b.marks, packetMark{at: r.st.Packet.Time - int64(r.shift)})
		r.st.File()
	}
	r.b.marks = append(r.b.marks, packetMark{closing: true})
	r.sum = r.st.Close()
	r.flush()
}

// flush hands the batch to the merge and starts another; once the merge
// has stopped it drops the batch.
func (r *sideReader) flush() {
	if !r.stopped {
		select {
		case r.out <- r.b:
		case <-r.done:
			r.stopped = true
		}
	}
	if r.stopped {
		r.b.marks, r.b.evs = r.b.marks[:0], r.b.evs[:0]
		return
	}
	select {
	case r.b = <-r.free:
	default:
		r.b = new(sideBatch)
	}
}

// stop tells run to give up (the merge returns early).
func (r *sideReader) stop() { close(r.done) }

// event appends an event to the packet being filed.
func (r *sideReader) event() *sideEvent {
	if len(r.b.evs) == sideBatchEvents {
		last := r.b.marks[len(r.b.marks)-1]
		r.b.marks[len(r.b.marks)-1].more = true
		r.flush()
		r.b.marks = append(r.b.marks, packetMark{at: last.at, closing: last.closing})
	}
	r.b.marks[len(r.b.marks)-1].n++
	r.b.evs = append(r.b.evs, sideEvent{})
	return &r.b.evs[len(r.b.evs)-1]
}

// Segment records a segment of a paired flow (Observer).
func (r *sideReader) Segment(f *analyze.Flow, seg *capture.Segment) {
	n := r.pairOf[f.ID-1]
	if n < 0 {
		return
	}
	src := seg.SrcEndpoint()
	x, fresh := r.x.of(f)
	if fresh {
		*x = src
	}
	ev := r.event()
	ev.n, ev.fromX = n, src == *x
	ev.seg = pendingOf(seg, seg.Time-int64(r.shift))
}

// finished records a flow the table finished, paired or not.
func (r *sideReader) finished(f *analyze.Flow) {
	ev := r.event()
	ev.n, ev.fin = r.pairOf[f.ID-1], true
	if r.series != nil {
		ev.series = r.series.Take(f.ID)
	}
	// The table reuses f once this returns.
	ev.flow = flowCopies.Get().(*analyze.Flow)
	*ev.flow = *f
	r.x.release(f)
}

// sideCursor is the merge's place in one capture's record.
type sideCursor struct {
	r      *sideReader
	b      *sideBatch
	mi, ei int
}

// peek returns the next packet of the capture, nil past its end.
func (c *sideCursor) peek() *packetMark {
	for c.b == nil || c.mi == len(c.b.marks) {
		if c.b != nil {
			// The merge is done with the batch: drop its pointers and hand
			// it back.
			clear(c.b.evs)
			c.b.marks, c.b.evs = c.b.marks[:0], c.b.evs[:0]
			select {
			case c.r.free <- c.b:
			default:
			}
		}
		b, ok := <-c.r.out
		if !ok {
			c.b = nil
			return nil
		}
		c.b, c.mi, c.ei = b, 0, 0
	}
	return &c.b.marks[c.mi]
}

// take replays the next packet of capture i (peek's) into the merge.
func (c *sideCursor) take(m *diffMerge, i analyze.Capture) {
	for {
		mk := c.b.marks[c.mi]
		c.mi++
		for range mk.n {
			ev := &c.b.evs[c.ei]
			c.ei++
			if ev.fin {
				m.finished(i, ev.n, ev.flow, ev.series)
			} else {
				m.segment(i, ev.n, ev.fromX, &ev.seg)
			}
		}
		if !mk.more || c.peek() == nil {
			return
		}
	}
}
