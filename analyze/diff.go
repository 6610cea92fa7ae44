package analyze

import (
	"fmt"
	"time"

	"rwin/capture"
)

// A capture from one end of a flow can only suspect a middlebox; captures
// from both ends prove what the path did. Package pathdiff pairs the flows
// of two captures (also across NAT and sequence rewriting), then compares
// each pair segment by segment: handshake options added, removed,
// NOP-filled or rewritten, window fields rewritten, sequence offsets, hops
// between the capture points, and segments that left one capture point
// and never reached the other. The values it reports are defined here,
// beside the flows they compare, for the rules and the report to read.

// Capture names one of a diff's two captures; CaptureA and CaptureB
// index per-capture arrays.
type Capture int8

// Values of Capture.
const (
	CaptureA Capture = 0
	CaptureB Capture = 1
	// CaptureUnknown: the captures do not say which one is nearer an end.
	CaptureUnknown Capture = -1
)

// Captures are a diff's two captures, in index order, for loops.
var Captures = [2]Capture{CaptureA, CaptureB}

// Other returns the other capture (CaptureUnknown stays).
func (c Capture) Other() Capture {
	if c == CaptureUnknown {
		return c
	}
	return 1 - c
}

// Opener opens a capture. A diff reads each capture twice (pairing, then
// comparing), so it must return a fresh Source on every call: a file, not
// standard input.
type Opener func() (capture.Source, error)

// DiffSide is what one capture yielded.
type DiffSide struct {
	Summary Summary
	// Flows are the analyzer's flows, in order of ID.
	Flows []Flow
	// Pair holds, per flow, the index of its pair in DiffResult.Pairs, or
	// -1 when the flow was seen only in this capture.
	Pair []int
}

// DiffResult is everything a diff found (pathdiff.Diff).
type DiffResult struct {
	Sides [2]DiffSide
	Pairs []FlowPair
	// ClockOffset is B's clock minus A's, measured on ClockPairs
	// pairs of high confidence (halfway between the two directions' time
	// differences, so symmetric one-way delays cancel); valid when
	// ClockPairs > 0.
	ClockOffset time.Duration
	ClockPairs  int
}

// PacketRef locates a packet in one capture; Packet 0 means none.
type PacketRef struct {
	Packet uint64
	Time   int64 // ns since the epoch
}

// PacketPair is a segment as captured in A and in B: the evidence of a
// difference. Either side is zero when the segment is missing there.
type PacketPair struct{ A, B PacketRef }

// SignalCount is how much of one pairing signal two flows share: sampled
// segments for timestamps, IP ID and payload; 1 or 2 ISNs; 1 for the
// 4-tuple and timing.
type SignalCount struct {
	Signal PairSignal
	Count  int
}

// FlowPair is one connection seen in both captures and what the path did
// to it. Directions and roles follow A's flow.
type FlowPair struct {
	// A and B index the flows in DiffResult.Sides[i].Flows: each is
	// the flow's ID − 1 in its capture.
	A, B int
	// Score (0–1) and Confidence say how sure the pairing is; Signals are
	// what matched.
	Score      float64
	Confidence PairConfidence
	Signals    []SignalCount
	// Swapped is true when B's flow has client and server the other way
	// round (neither capture held the handshake, and the roles were
	// guessed differently).
	Swapped bool
	// ClientSide is the capture nearer the client (CaptureA, CaptureB or
	// CaptureUnknown), from which copy of each direction was seen first.
	ClientSide Capture
	// Dirs compares the client's segments and the server's, indexed by
	// Direction.
	Dirs [2]DirDiff
	// SYN compares the client's SYN the SYN-ACK answered; SYNACK the
	// server's first SYN-ACK.
	SYN, SYNACK HandshakeDiff
	// NAT is true when the two captures show other addresses or ports.
	NAT bool
}

// DirDiff compares one direction of a paired flow: the segments one end
// sent, as each capture saw them.
type DirDiff struct {
	// Compared is false when the pairing gave no sequence offset for this
	// direction, so its segments could not be matched one by one.
	Compared bool
	// Upstream is the capture nearer the sender (CaptureUnknown when the
	// timing and TTLs do not say).
	Upstream Capture
	// SeqOffset is B's sequence number minus A's for the same byte: 0
	// unless a middlebox randomizes sequence numbers.
	SeqOffset capture.Seq
	// Delay is the one-way delay between the capture points, valid
	// when DelayOK (needs the clock offset).
	Delay   time.Duration
	DelayOK bool
	// Hops is the TTL (hop limit) at the upstream capture minus at the
	// downstream one, over matched segments: the routers between the
	// capture points. HopsVary reports segments with another difference.
	Hops     int
	HopsOK   bool
	HopsVary bool
	// Matched counts segments found in both captures; Resegmented the
	// overlaps of data matched by sequence range instead, where one
	// capture's packet holds pieces of the other's (segmentation offload
	// at a capture point: TSO or GSO at a sender, LRO or GRO at a
	// receiver).
	Matched, Resegmented uint64
	// Only counts segments seen only in capture i, while the other
	// capture was recording; OnlyData and OnlyBytes those with payload.
	// In the upstream capture they vanished on the path; in the
	// downstream one the path made them.
	Only, OnlyData, OnlyBytes [2]uint64
	FirstOnly                 [2]PacketRef
	// Outside counts unmatched segments whose copy would have fallen
	// outside the other capture's time span; Overflow those given up
	// because the matching window (8,192 segments) was full. Neither
	// says anything about the path.
	Outside, Overflow uint64
	// WindowRewrites counts matched non-SYN segments whose window field
	// differs; the first pair and its two values are kept.
	WindowRewrites     uint64
	FirstWindowRewrite PacketPair
	WindowA, WindowB   uint16
	// TSRewrites counts matched non-SYN segments whose TSval differs;
	// IPIDRewrites those whose IPv4 ID differs.
	TSRewrites     uint64
	FirstTSRewrite PacketPair
	IPIDRewrites   uint64
	// OptionChanges counts matched non-SYN segments that carry other
	// options; the first pair and both option sets are kept.
	OptionChanges     uint64
	FirstOptionChange PacketPair
	OptsA, OptsB      capture.OptSet
	// Unscaled tests the unscaled-window firewall on this direction's
	// data.
	Unscaled UnscaledCheck
}

// UnscaledCheck sorts the data segments of a direction by where they
// ended relative to the receiver's last acknowledgment plus its window
// field taken unscaled — the edge a middlebox that ignores window scaling
// enforces — and counts which of them vanished between the capture
// points. Data beyond the edge vanishing while data within it arrives is
// that middlebox at work (the Vista-era RDP/SMB hang). Valid when the
// direction's Upstream is known.
//
// The two captures see the receiver's ACKs at different times, and a
// middlebox between them at a time in between: a segment is within when
// it ended within the edge both captures had seen when it left the
// sender's, beyond when it ended past both, and between otherwise (the
// receiver's ACKs still in flight moved the edge across it, so where the
// middlebox put the edge is unknown).
type UnscaledCheck struct {
	BeyondSent, BeyondLost   uint64
	WithinSent, WithinLost   uint64
	BetweenSent, BetweenLost uint64
	// FirstBeyondLost pairs the first vanished segment beyond the edge
	// (in the upstream capture) with the receiver's ACK that set the edge
	// (as captured; in the downstream capture when it saw one).
	FirstBeyondLost PacketPair
	// Window is that ACK's window field and Excess how many bytes past
	// ack + Window the segment ended.
	Window uint16
	Excess uint32
	// MinBeyondLost is the smallest vanished segment beyond the edge and
	// MaxWithinDelivered the largest that arrived within it (payload
	// bytes): when a segment at least as large arrived, size (an MTU
	// black hole) does not explain the loss.
	MinBeyondLost, MaxWithinDelivered int
}

// OptionChange says how a handshake option differs between the copies.
type OptionChange uint8

// Option changes.
const (
	OptionRemoved OptionChange = iota // sent, not received
	OptionAdded                       // received, not sent
	OptionValue                       // both, with another value
)

func (c OptionChange) String() string {
	switch c {
	case OptionAdded:
		return "added"
	case OptionValue:
		return "changed"
	}
	return "removed"
}

// OptionDiff is one option that differs between the sent and the
// received copy of a SYN or SYN-ACK.
type OptionDiff struct {
	Kind   uint8
	Change OptionChange
	// Sent and Received are the values (MSS, shift, TSval) where the kind
	// has one and the copy carries it.
	Sent, Received uint32
	// NOPs: removed, and the path wrote NOPs over its bytes (the layout
	// gained as many NOPs as the option had bytes), as iptables
	// TCPOPTSTRIP does; otherwise the header was repacked.
	NOPs bool
}

// HandshakeDiff compares the copies of a SYN or SYN-ACK.
type HandshakeDiff struct {
	// Compared: the segment is in both captures.
	Compared bool
	// SentIn is the capture holding the sender's copy (the upstream one of
	// its direction; A when unknown).
	SentIn Capture
	// Pair locates both copies.
	Pair PacketPair
	// Options lists the options that differ, in kind order.
	Options []OptionDiff
	// LayoutSent and LayoutReceived are the option layouts.
	LayoutSent, LayoutReceived string
	// WindowSent and WindowReceived are the (never scaled) window fields.
	WindowSent, WindowReceived uint16
	// TTLSent and TTLReceived are the IP TTLs or hop limits.
	TTLSent, TTLReceived uint8
	// Originated: the received copy cannot have been forwarded from the
	// sent one — its TTL is higher, or its hop count differs from the
	// rest of its direction's — so a middlebox answered in the sender's
	// name (a SYN proxy).
	Originated bool
	// ISNOffset is the received ISN minus the sent one.
	ISNOffset capture.Seq
}

// PairSignal names a kind of evidence that two flows, one in each capture,
// are the same connection. Each survives some middleboxes and not others:
// a NAT rewrites addresses and ports but keeps timestamps, IP IDs and
// payload; a sequence-randomizing firewall rewrites sequence numbers only;
// a SYN proxy answers the handshake with its own ISN and timestamps.
type PairSignal uint8

// Pairing signals.
const (
	// SignalTimestamps: segments with the same TSval (RFC 7323 §3), length
	// and flags in both captures. Survives NAT and sequence rewriting.
	SignalTimestamps PairSignal = iota
	// SignalIPID: segments with the same non-zero IPv4 identification,
	// length and flags. Linux numbers the segments of a connection from a
	// random start; survives NAT unless the NAT scrubs IDs.
	SignalIPID
	// SignalPayload: segments whose first payload bytes and length match.
	// Common content (a protocol's fixed header) is not distinctive, so
	// it counts for less, and tokens shared by many flows are ignored.
	SignalPayload
	// SignalISN: the SYN's or SYN-ACK's initial sequence number is the
	// same: no sequence rewriting and, short of a collision, one
	// connection.
	SignalISN
	// SignalTuple: the same addresses and ports (no NAT between the
	// capture points).
	SignalTuple
	// SignalTiming: the flow's time offset between the captures agrees
	// with the clock offset measured on the surest pairs.
	SignalTiming
	numSignals
)

func (s PairSignal) String() string {
	switch s {
	case SignalTimestamps:
		return "timestamps"
	case SignalIPID:
		return "ip-id"
	case SignalPayload:
		return "payload"
	case SignalISN:
		return "isn"
	case SignalTuple:
		return "4-tuple"
	}
	return "timing"
}

// PairConfidence grades a pairing.
type PairConfidence uint8

// Pairing confidences. Only a High pairing is firm enough for findings
// with confidence proven.
const (
	PairLow    PairConfidence = iota // plausible; nothing contradicts it
	PairMedium                       // likely: weak signals only, or few strong ones
	PairHigh                         // several independent strong signals agree
)

func (c PairConfidence) String() string {
	switch c {
	case PairMedium:
		return "medium"
	case PairHigh:
		return "high"
	}
	return "low"
}

// String renders a packet pair as "A 12 ⇄ B 15", for messages.
func (pp PacketPair) String() string {
	side := func(name string, r PacketRef) string {
		if r.Packet == 0 {
			return name + " -"
		}
		return fmt.Sprintf("%s %d", name, r.Packet)
	}
	return side("A", pp.A) + " ⇄ " + side("B", pp.B)
}

// Sender returns the endpoint that sends direction d (ClientToServer or
// ServerToClient) as capture c's flow records it; a and b are the pair's
// flows.
func (p *FlowPair) Sender(d Direction, c Capture, a, b *Flow) *Endpoint {
	f := a
	if c == CaptureB {
		f = b
		if p.Swapped {
			d = d.Reverse()
		}
	}
	return f.Sender(d)
}

// Near returns the capture nearer the sender of direction d, or
// CaptureUnknown.
func (p *FlowPair) Near(d Direction) Capture {
	switch {
	case p.ClientSide == CaptureUnknown:
		return CaptureUnknown
	case d == ClientToServer:
		return p.ClientSide
	}
	return p.ClientSide.Other()
}
