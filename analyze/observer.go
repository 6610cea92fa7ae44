package analyze

import "rwin/capture"

// Observer watches the flow table file segments into flows. It is how a
// client that keeps per-flow state of its own — the two-capture diff's
// pairing sketches and segment matching — attaches that state to the
// table's flows: by flow ID, so there is one notion of which packets form
// a flow (the table's, with its new-incarnation rule, timers and
// eviction) and one decode per packet. Config.Observer is nil on the fast
// path.
type Observer interface {
	// Segment is called for every segment the table files into a flow,
	// after the flow's state took it, with the flow. A copy of a segment
	// already filed (Stats.Duplicates) is not filed, and not observed.
	// f and seg are valid only during the call; Segment may set
	// f.Observed, which the flow then carries to its next segments and
	// to its end (emit), to find its own state for the flow without a
	// lookup by ID.
	Segment(f *Flow, seg *capture.Segment)
}

// Stepper reads one capture a packet at a time through a flow table, on
// the caller's goroutine: for a caller that walks two captures on one time
// line, or that needs a packet's bytes beside its segment (an Observer
// may read Packet during Segment). Summary counts as Run's does.
type Stepper struct {
	// Packet and Segment are the packet Read last read and, when TCP
	// reports so, its decoded segment. The source owns Packet.Data until
	// the next Read.
	Packet  capture.Packet
	Segment capture.Segment

	sum Summary
	src capture.Source
	a   *Analyzer
	dec capture.Decoder
	tcp bool
}

// NewStepper returns a Stepper over src whose flow table hands finished
// flows to emit (see New).
func NewStepper(src capture.Source, cfg Config, emit func(*Flow)) *Stepper {
	return &Stepper{src: src, a: New(cfg, emit), sum: Summary{Source: src.Name()}}
}

// Read reads and decodes the next packet, reporting false at the end of
// the source (or at an error, which the Summary records).
func (s *Stepper) Read() bool {
	if !s.sum.next(s.src, &s.Packet) {
		s.tcp = false
		return false
	}
	s.tcp = s.sum.decode(&s.Packet, nil, &s.dec, &s.Segment)
	return true
}

// TCP reports whether the packet read holds a TCP segment to file.
func (s *Stepper) TCP() bool { return s.tcp }

// File files the segment read into the flow table; it does nothing when
// the packet is not a TCP segment.
func (s *Stepper) File() {
	if s.tcp {
		s.a.Add(&s.Segment)
	}
}

// Close finishes every flow still in the table and returns the summary.
func (s *Stepper) Close() Summary {
	s.a.Flush()
	s.sum.Analyzer = s.a.Stats()
	s.sum.Unanswered = s.a.Unanswered()
	s.sum.noTCP()
	return s.sum
}
