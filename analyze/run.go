package analyze

import (
	"errors"
	"fmt"
	"io"

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
	Filtered   uint64 // rejected by the BPF filter
	NotIP      uint64 // ARP, LLDP, …
	NotTCP     uint64 // UDP, ICMP, …
	Fragments  uint64 // non-first IP fragments
	Truncated  uint64 // the snaplen cut the fixed TCP header
	Malformed  uint64 // headers that contradict themselves
	LinkType   uint64 // link types rwin does not decode
	TruncOpts  uint64 // TCP segments whose options the snaplen cut
	FirstTime  int64  // earliest frame timestamp, ns
	LastTime   int64  // latest frame timestamp, ns
	Analyzer   Stats
	Warnings   []string // the first per-packet warnings, one line each
	MoreWarned uint64   // warnings beyond those kept
	// Err is the error that ended reading early, if any: it wraps
	// capture.ErrTruncated when the capture was cut short.
	Err error
}

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
func Run(src capture.Source, keep func(*capture.Packet) bool, cfg Config, emit func(*Flow)) Summary {
	sum := Summary{Source: src.Name()}
	a := New(cfg, emit)
	var (
		dec capture.Decoder
		pkt capture.Packet
		seg capture.Segment
	)
	for {
		err := src.Next(&pkt)
		if err != nil {
			if err != io.EOF {
				sum.Err = err
			}
			break
		}
		sum.add(&pkt, keep, &dec, &seg, a)
	}
	a.Flush()
	sum.Analyzer = a.Stats()
	return sum
}

// add counts, decodes and analyzes one packet read from the source.
func (s *Summary) add(pkt *capture.Packet, keep func(*capture.Packet) bool, dec *capture.Decoder, seg *capture.Segment, a *Analyzer) {
	s.Packets++
	if s.Packets == 1 || pkt.Time < s.FirstTime {
		s.FirstTime = pkt.Time
	}
	s.LastTime = max(s.LastTime, pkt.Time)
	if keep != nil && !keep(pkt) {
		s.Filtered++
		return
	}
	switch dec.Decode(pkt, seg) {
	case capture.VerdictTCP:
		s.TCP++
		if seg.Truncated {
			s.TruncOpts++
		}
		a.Add(seg)
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
			s.warn("%s: packet %d: link type %d is not supported; such packets are skipped", s.Source, pkt.Index, pkt.Link)
		}
		s.LinkType++
	}
}

func (s *Summary) warnIssue(name string, p *capture.Packet, is capture.DecodeIssue, what string) {
	s.warn("%s: packet %d: %s %s at byte %d: %s", name, p.Index, is.Layer, what, is.Offset, is.Reason)
}
