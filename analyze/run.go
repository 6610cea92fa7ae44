package analyze

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"rwin/capture"
)

// maxWarnings bounds the per-packet warnings a Summary keeps; the rest are
// only counted.
const maxWarnings = 10

// Summary is what one source yielded, besides its flows.
type Summary struct {
	// Source names the input (file name, "-" for stdin, interface).
	Source string
	// Packets counts every frame read; TCP those decoded to a segment.
	Packets, TCP uint64
	// Frames not analyzed, by reason.
	Filtered  uint64 // rejected by the BPF filter
	NotIP     uint64 // ARP, LLDP, …
	NotTCP    uint64 // UDP, ICMP, …
	Fragments uint64 // non-first IP fragments
	Truncated uint64 // the snaplen cut the fixed TCP header
	Malformed uint64 // headers that contradict themselves
	LinkType  uint64 // link types rwin does not decode
	Encap     uint64 // inside a tunnel or shim rwin does not decode
	TruncOpts uint64 // TCP segments whose options the snaplen cut
	// Untimed counts packets the capture gave no timestamp (pcapng
	// Simple Packet Blocks); FirstTime and LastTime leave them out.
	Untimed   uint64
	FirstTime int64 // earliest frame timestamp, ns (see MaxTimeStepBack)
	LastTime  int64 // latest frame timestamp, ns
	// StepsBack counts frames whose timestamp is earlier than the frame
	// before: a clock stepped back, or captures merged out of order.
	StepsBack      uint64
	prevTime       int64
	warnedStepBack bool
	Analyzer       Stats
	Warnings       []string // the first per-packet warnings, one line each
	MoreWarned     uint64   // warnings beyond those kept
	// Err is the error that ended reading early, if any: it wraps
	// capture.ErrTruncated when the capture was cut short.
	Err error

	// Unanswered gathers the flows whose SYNs nothing answered by
	// server endpoint: how many clients tried, how often, over how long.
	Unanswered Unanswered
}

// MaxTimeStepBack is how far a packet's timestamp may lie before the
// start of its capture or flow and still move that start back, in ns:
// packets reordered across NIC queues or by -i any are microseconds
// apart, while one stamped by a stepped clock can be decades off (a
// 472,222-hour "duration"), and is warned about instead.
const MaxTimeStepBack = int64(time.Second)

// CutShort reports whether the input ended in the middle of a record.
func (s *Summary) CutShort() bool { return errors.Is(s.Err, capture.ErrTruncated) }

func (s *Summary) warn(format string, args ...any) {
	if len(s.Warnings) >= maxWarnings {
		s.MoreWarned++
		return
	}
	s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
}

// Run reads src to its end, decoding and analyzing every packet, and hands
// each finished flow to emit (see New). keep, if not nil, is a packet
// filter (a compiled BPF expression). Reading stops at the first source
// error, which Summary.Err records; flows read until then are still
// emitted.
//
// With more than one CPU, reading, decoding and hashing each segment's
// flow run on a goroutine of their own, a batch of segments ahead of the
// analyzer, and the flows are analyzed in shards, one per CPU (see
// shardedRun): flows, their order and every counter are the same as on
// one CPU. With Config.Series set, or an idle timeout, the analyzer is
// one, behind the reader (see pipeline).
// emit is called from Run's own goroutine either way.
func Run(src capture.Source, keep func(*capture.Packet) bool, cfg Config, emit func(*Flow)) Summary {
	return run(src, keep, cfg, emit, shardCount(cfg))
}

// run is Run on the given number of shards; 0 runs one table, behind its
// own reader when there is more than one CPU.
func run(src capture.Source, keep func(*capture.Packet) bool, cfg Config, emit func(*Flow), shards int) Summary {
	sum := Summary{Source: src.Name()}
	if shards > 0 {
		sum.shardedRun(src, keep, cfg, emit, shards)
		sum.noTCP()
		return sum
	}
	a := New(cfg, emit)
	if runtime.GOMAXPROCS(0) > 1 {
		sum.pipeline(src, keep, a)
	} else {
		var (
			dec capture.Decoder
			pkt capture.Packet
			seg capture.Segment
		)
		for sum.next(src, &pkt) {
			sum.add(&pkt, keep, &dec, &seg, a)
		}
	}
	a.Flush()
	sum.Analyzer = a.Stats()
	sum.Unanswered = a.Unanswered()
	sum.noTCP()
	return sum
}

// next reads the next packet, recording the error that ends the source.
func (s *Summary) next(src capture.Source, pkt *capture.Packet) bool {
	err := src.Next(pkt)
	if err != nil && err != io.EOF {
		s.Err = err
	}
	return err == nil
}

// Batches of decoded segments between Run's reader and its analyzer: a
// Segment holds no pointer into the packet buffer, so the reader can reuse
// its buffer at once. The reader is the faster side and waits for a free
// batch; with 256-segment batches the wake-ups left the two goroutines
// runnable but waiting for a CPU a third of the time (go tool trace), and
// the pipeline gained nothing. 1,024 segments (229 KB) a batch, four of
// them, is where the benchmark capture's time stopped falling.
const (
	batchSegments = 1024
	batches       = 4
)

type segmentBatch struct {
	segs   [batchSegments]capture.Segment
	hashes [batchSegments]uint64
	n      int
}

// pipeline runs reading, decoding and hashing on a goroutine that hands
// batches of segments to a, in capture order, through a ring of reusable
// batches.
// The reader goroutine alone writes s until it closes full.
func (s *Summary) pipeline(src capture.Source, keep func(*capture.Packet) bool, a *Analyzer) {
	free := make(chan *segmentBatch, batches)
	full := make(chan *segmentBatch, batches)
	for range batches {
		free <- new(segmentBatch)
	}
	seed := a.seed // see segmentHash
	go func() {
		defer close(full)
		var (
			dec capture.Decoder
			pkt capture.Packet
		)
		for b := range free {
			b.n = 0
			more := true
			for more && b.n < batchSegments {
				if more = s.next(src, &pkt); more && s.decode(&pkt, keep, &dec, &b.segs[b.n]) {
					b.n++
				}
			}
			// Hashed once the batch is full, not as each segment is
			// decoded: reading the addresses right after the decoder
			// stored them stalled on store forwarding (BenchmarkRun).
			for i := range b.n {
				b.hashes[i] = segmentHash(&b.segs[i], seed)
			}
			full <- b
			if !more {
				return
			}
		}
	}()
	for b := range full {
		for i := range b.n {
			a.addHashed(&b.segs[i], b.hashes[i])
		}
		free <- b
	}
}

// add counts, decodes and analyzes one packet read from the source.
func (s *Summary) add(pkt *capture.Packet, keep func(*capture.Packet) bool, dec *capture.Decoder, seg *capture.Segment, a *Analyzer) {
	if s.decode(pkt, keep, dec, seg) {
		a.Add(seg)
	}
}

// clock extends the capture's time span by one timed packet. A timestamp
// earlier than the previous packet's is counted (and warned about once if
// the step is long); it moves the start back only by up to MaxTimeStepBack, so that one bad
// clock cannot turn a capture into a span of years.
func (s *Summary) clock(pkt *capture.Packet) {
	switch {
	case s.Packets-s.Untimed == 1:
		s.FirstTime = pkt.Time
	case pkt.Time < s.prevTime:
		// Steps back of microseconds are packets reordered between NIC
		// queues or by -i any: counted, not warned about. A step longer
		// than MaxTimeStepBack is a clock or a merge gone wrong, and it
		// changes the durations rwin reports.
		if back := s.prevTime - pkt.Time; back > MaxTimeStepBack && !s.warnedStepBack {
			s.warnedStepBack = true
			s.warn("%s: packet %d: its timestamp is %v before the previous packet's (a clock stepped back, or captures merged out of order); "+
				"durations leave out steps back of more than %v", s.Source, pkt.Index, time.Duration(back), time.Duration(MaxTimeStepBack))
		}
		s.StepsBack++
		if pkt.Time < s.FirstTime && s.FirstTime-pkt.Time <= MaxTimeStepBack {
			s.FirstTime = pkt.Time
		}
	}
	s.prevTime = pkt.Time
	s.LastTime = max(s.LastTime, pkt.Time)
}

// decode counts one packet read from the source and decodes it into seg,
// reporting whether it is a TCP segment to analyze.
func (s *Summary) decode(pkt *capture.Packet, keep func(*capture.Packet) bool, dec *capture.Decoder, seg *capture.Segment) bool {
	s.Packets++
	if pkt.Untimed {
		s.Untimed++
	} else {
		s.clock(pkt)
	}
	if keep != nil && !keep(pkt) {
		s.Filtered++
		return false
	}
	switch dec.Decode(pkt, seg) {
	case capture.VerdictTCP:
		s.TCP++
		if seg.Truncated {
			s.TruncOpts++
		}
		return true
	case capture.VerdictNotIP:
		s.NotIP++
	case capture.VerdictNotTCP:
		s.NotTCP++
	case capture.VerdictFragment:
		s.Fragments++
	case capture.VerdictTruncated:
		s.Truncated++
		s.warnIssue(s.Source, pkt, dec.Issue(), "cut by the snaplen")
	case capture.VerdictMalformed:
		s.Malformed++
		s.warnIssue(s.Source, pkt, dec.Issue(), "malformed")
	case capture.VerdictLinkType:
		if s.LinkType == 0 {
			s.warn("%s: packet %d: %s is not a link type rwin decodes; such packets are skipped", s.Source, pkt.Index, pkt.Link)
		}
		s.LinkType++
	case capture.VerdictEncap:
		if s.Encap == 0 {
			s.warnIssue(s.Source, pkt, dec.Issue(), "not decoded")
		}
		s.Encap++
	}
	return false
}

// Skipped lists the reasons packets were not analyzed, with their counts,
// in a fixed order and only those that occurred.
func (s *Summary) Skipped() []SkipCount {
	var out []SkipCount
	for _, c := range [...]SkipCount{
		{"filtered", s.Filtered}, {"not IP", s.NotIP}, {"not TCP", s.NotTCP}, {"IP fragments", s.Fragments},
		{"cut before the TCP header", s.Truncated}, {"malformed", s.Malformed},
		{"unsupported link type", s.LinkType}, {"unsupported encapsulation", s.Encap},
	} {
		if c.N > 0 {
			out = append(out, c)
		}
	}
	return out
}

// SkipCount is how many packets were skipped for one reason.
type SkipCount struct {
	Reason string
	N      uint64
}

// noTCP explains a source that held packets but no TCP segment to
// analyze, ahead of the per-packet warnings: the reasons, counted.
func (s *Summary) noTCP() {
	if s.Packets == 0 || s.TCP > 0 {
		return
	}
	var why []string
	for _, c := range s.Skipped() {
		why = append(why, fmt.Sprintf("%d %s", c.N, c.Reason))
	}
	s.Warnings = slices.Insert(s.Warnings, 0, fmt.Sprintf("%s: none of the %d packets is a TCP segment rwin can analyze (%s)",
		s.Source, s.Packets, strings.Join(why, ", ")))
}

func (s *Summary) warnIssue(name string, p *capture.Packet, is capture.DecodeIssue, what string) {
	s.warn("%s: packet %d: %s %s at byte %d: %s", name, p.Index, is.Layer, what, is.Offset, is.Reason)
}
