// Package analyze reconstructs TCP connections from decoded segments: it
// keeps a bounded table of bidirectional flows, follows each handshake, and
// records per direction what the packets say about windows, bytes in flight,
// RTT and protocol oddities. It records facts; the rules package judges them.
package analyze

import (
	"net/netip"
	"time"

	"rwin/capture"
)

// Tri is a fact that may be unknown: Unknown is never the same as No.
type Tri int8

// Values of Tri.
const (
	Unknown Tri = iota
	No
	Yes
)

func (t Tri) String() string {
	switch t {
	case No:
		return "no"
	case Yes:
		return "yes"
	}
	return "unknown"
}

// triOf turns a known boolean into a Tri.
func triOf(b bool) Tri {
	if b {
		return Yes
	}
	return No
}

// Basis says where a window-scale shift, and so an effective window, comes
// from.
type Basis uint8

// Values of Basis.
const (
	// BasisUnknown: the handshake was not captured and the data proves no
	// shift; effective windows cannot be computed.
	BasisUnknown Basis = iota
	// BasisNegotiated: the handshake in the capture settles the shift.
	BasisNegotiated
	// BasisInferred: no handshake, but bytes in flight exceeded the
	// unscaled window, which proves a minimum shift (a lower bound).
	BasisInferred
)

func (b Basis) String() string {
	switch b {
	case BasisNegotiated:
		return "negotiated"
	case BasisInferred:
		return "inferred"
	}
	return "unknown"
}

// Handshake summarizes how much of the connection set-up was captured.
type Handshake uint8

// Values of Handshake.
const (
	// HandshakeNone: neither SYN nor SYN-ACK captured (flow seen mid-stream).
	HandshakeNone Handshake = iota
	// HandshakeSYNOnly: the SYN was captured, no SYN-ACK (refused, filtered,
	// unanswered, or an asymmetric capture).
	HandshakeSYNOnly
	// HandshakeSYNACKOnly: a SYN-ACK without its SYN.
	HandshakeSYNACKOnly
	// HandshakeNoFinalACK: SYN and SYN-ACK, but the client's ACK of the
	// SYN-ACK was not seen.
	HandshakeNoFinalACK
	// HandshakeComplete: SYN, SYN-ACK and the ACK that completes it.
	HandshakeComplete
	// HandshakeSimultaneous: both sides sent a SYN (RFC 9293 §3.5).
	HandshakeSimultaneous
)

func (h Handshake) String() string {
	switch h {
	case HandshakeSYNOnly:
		return "syn-only"
	case HandshakeSYNACKOnly:
		return "synack-only"
	case HandshakeNoFinalACK:
		return "no-final-ack"
	case HandshakeComplete:
		return "complete"
	case HandshakeSimultaneous:
		return "simultaneous-open"
	}
	return "none"
}

// RoleSource says how client and server were told apart.
type RoleSource uint8

// Values of RoleSource.
const (
	RoleFromSYN         RoleSource = iota // the SYN's sender is the client
	RoleFromSYNACK                        // the SYN-ACK's receiver is the client
	RoleFromPort                          // no handshake: the well-known port is the server
	RoleFromFirstPacket                   // no handshake, no telling port: the first sender is the client
)

func (r RoleSource) String() string {
	switch r {
	case RoleFromSYN:
		return "syn"
	case RoleFromSYNACK:
		return "synack"
	case RoleFromPort:
		return "port"
	}
	return "first-packet"
}

// HandshakeSegment is a SYN or SYN-ACK as captured. Valid only when Seen.
type HandshakeSegment struct {
	Packet uint64
	Time   int64 // ns since the epoch
	ISN    capture.Seq
	Ack    capture.Seq
	Flags  capture.Flags
	// Window is the raw window field; RFC 7323 §2.2: never scaled on a SYN.
	Window uint16
	TTL    uint8
	// Seen sits among the small fields, where it takes no padding: three
	// of these are in every live flow.
	Seen bool
	IPID uint16
	// Payload is the number of data bytes the SYN carried (TFO, or a
	// crafted packet).
	Payload int
	Opts    capture.Options
}

// sameOptions reports whether two handshake segments announced the same
// negotiable options (layout, MSS, shift, SACK-permitted, timestamps).
func sameOptions(a, b *capture.Options) bool {
	const negotiable = capture.HasMSS | capture.HasWScale | capture.HasSACKPerm | capture.HasTimestamp
	if a.Has&negotiable != b.Has&negotiable || a.Layout != b.Layout {
		return false
	}
	return (!a.Carries(capture.HasMSS) || a.MSS == b.MSS) &&
		(!a.Carries(capture.HasWScale) || a.WScale == b.WScale)
}

// Negotiation is what the handshake settled. Every field may be Unknown
// when the handshake was not (wholly) captured.
type Negotiation struct {
	// ScalingFrom says which handshake segments settled Scaling.
	ScalingFrom ScalingBasis
	// Scaling is Yes when both SYN and SYN-ACK carried window scale
	// (RFC 7323 §2.2), No when either lacked it.
	Scaling Tri
	// SACK is Yes when both carried SACK-permitted (RFC 2018 §2).
	SACK Tri
	// Timestamps is Yes when both carried timestamps (RFC 7323 §3.2).
	Timestamps Tri
}

// ScalingBasis says how the capture settled whether window scaling is on.
type ScalingBasis uint8

// Values of ScalingBasis.
const (
	// ScalingUnsettled: Negotiation.Scaling is Unknown.
	ScalingUnsettled ScalingBasis = iota
	// ScalingFromHandshake: the SYN and the SYN-ACK that answered it.
	ScalingFromHandshake
	// ScalingFromSYNACK: the SYN-ACK alone. RFC 7323 §2.2 lets a SYN-ACK
	// carry window scale only when the SYN did, so with the option it
	// proves scaling on (and gives the server's shift, not the client's),
	// without it proves scaling off both ways.
	ScalingFromSYNACK
	// ScalingFromSYN: the SYN alone, without the option, which turns
	// scaling off whatever the answer; the peer answered (it sent
	// packets), but its SYN-ACK was not captured.
	ScalingFromSYN
)

func (b ScalingBasis) String() string {
	switch b {
	case ScalingFromHandshake:
		return "handshake"
	case ScalingFromSYNACK:
		return "synack"
	case ScalingFromSYN:
		return "syn"
	}
	return "unknown"
}

// Shift is the window-scale shift that applies to the windows one endpoint
// advertises.
type Shift struct {
	Basis Basis
	// Value is the shift as applied (announced value capped at 14; 0 when
	// scaling is off). Valid unless Basis is BasisUnknown; with
	// BasisInferred it is a lower bound.
	Value capture.Shift
	// Announced is the shift the endpoint put on the wire, before the cap
	// (valid when AnnouncedSeen).
	Announced     capture.Shift
	AnnouncedSeen bool
}

// Endpoint is everything recorded about one side of a flow: the segments it
// sent and the windows it advertised.
type Endpoint struct {
	Addr netip.AddrPort

	// Packets and Bytes count every segment it sent and their payload.
	Packets, Bytes uint64
	// DataPackets counts segments with payload.
	DataPackets uint64
	// RetransPackets and RetransBytes count data segments that did not
	// advance its highest sequence number (retransmissions, or reordering
	// before the capture point).
	RetransPackets, RetransBytes uint64
	// UniqueBytes is how far its highest sequence number advanced: data
	// delivered at least once past the capture point.
	UniqueBytes uint64
	// FirstData and LastData bound its timed data segments in time (ns);
	// valid when DataPackets > UntimedData.
	FirstData, LastData int64

	// Shift applies to the windows this endpoint advertises.
	Shift Shift
	// UntimedData counts its data segments the capture gave no timestamp
	// (pcapng Simple Packet Blocks): with any, no rate is known. (Here, it
	// fills the padding after Shift.)
	UntimedData uint32
	// Window summarizes the raw window fields it advertised on non-SYN,
	// non-RST segments; scale with Shift to get the effective window.
	Window WindowStats

	// ZeroWindows counts non-SYN, non-RST segments with a zero window;
	// ZeroEpisodes counts the runs of them, ZeroTime their total
	// duration; FirstZeroPacket locates the first.
	ZeroWindows, ZeroEpisodes uint64
	ZeroTime                  time.Duration
	FirstZeroPacket           uint64

	// MaxInFlight is the most bytes it had sent and not yet seen
	// acknowledged, measured at the capture point.
	MaxInFlight uint32
	// InferredShift is the smallest shift of the PEER's window that
	// explains the bytes this endpoint had in flight; meaningful when the
	// handshake is missing. InferredPacket is the segment that proved it.
	InferredShift  capture.Shift
	InferredPacket uint64
	// AtWindowPackets counts data segments that left less than one MSS of
	// the peer's effective window free: the sender was window-limited.
	// Valid when the peer's shift is negotiated.
	AtWindowPackets uint64
	// OverWindowPackets counts data segments that put more in flight than
	// the peer's effective window allowed; MaxOverWindow is the largest
	// excess in bytes and FirstOverPacket the first such segment. A sender
	// applying a shift the capture does not show (a SYN proxy that dropped
	// WS from its SYN-ACK) looks like this.
	OverWindowPackets uint64
	MaxOverWindow     uint32
	FirstOverPacket   uint64
	// RetransBeyondUnscaled counts retransmitted segments that ended beyond
	// the peer's window field taken unscaled (ack + window<<0) but inside
	// the scaled window: the loss pattern of a middlebox that tracks the
	// flow as unscaled. FirstBeyondPacket is the first of them.
	RetransBeyondUnscaled uint64
	FirstBeyondPacket     uint64

	// RTT holds ACK-clocked samples: time from one of its data segments to
	// the peer's ACK covering it, at the capture point (Karn's rule: no
	// sample across a retransmission). It measures the capture point's
	// distance to the peer.
	RTT RTTStats

	// UnscaledJudged counts its new data segments sent while the peer's
	// negotiated shift was above 0 and the sender had had time to see one
	// of the peer's (scaled) windows: captured at least one capture-point
	// round trip toward the sender after the peer's first window. Those
	// are the segments on which a sender that reads the window field
	// unscaled behaves differently from one that applies the shift. Of
	// them, BeyondUnscaledPackets put more in flight than the window field
	// taken unscaled (the sender used the scaling), and FillUnscaledPackets
	// filled it exactly, to the byte; FirstFillUnscaledPacket is the first
	// of these. A sender that
	// never goes beyond and keeps filling the unscaled window reads the
	// peer's windows as if the shift were 0 (RFC 7323 §2.3): the shift was
	// rewritten on the way, or a device enforces the unscaled window.
	UnscaledJudged          uint64
	BeyondUnscaledPackets   uint64
	FillUnscaledPackets     uint64
	FirstFillUnscaledPacket uint64
	// MaxBeyondRun is the longest run of RetransBeyondUnscaled segments
	// with no progress of the peer's acknowledgment in between: the same
	// data lost again and again, as behind a firewall that drops what
	// lies beyond the unscaled window.
	MaxBeyondRun uint32
	// RetransSentBeyond and RetransSentWithin split its retransmissions
	// (while the peer's negotiated shift was above 0) by where the data
	// was first sent: past the peer's window field taken unscaled, or
	// inside it. Set against BeyondUnscaledPackets and the new segments
	// sent within (UnscaledJudged − BeyondUnscaledPackets), they give the
	// loss rate on each side of the unscaled edge. A device enforcing the
	// unscaled window loses only the data beyond it, also when the flow
	// keeps moving because every ACK moves the edge.
	RetransSentBeyond, RetransSentWithin uint64

	// MaxStall is the longest time it had data outstanding while the
	// peer's acknowledgment did not advance, measured at the capture
	// point. StallPacket is where that wait began (the data segment, or
	// the ACK after which data was still outstanding); StallToEnd reports
	// that the wait lasted until the flow's last packet. Waits behind a
	// zero window are included: the rules tell them apart.
	MaxStall    time.Duration
	StallPacket uint64
	StallToEnd  bool
	// TTL of its first and last segment; TTLChanged reports any change.
	// (Beside StallToEnd, where they take no room of their own.)
	FirstTTL, LastTTL uint8
	TTLChanged        bool

	// UnseenBytes is how far its last sequence number (on any later
	// segment, e.g. a pure ACK) lies beyond the highest data the capture
	// saw from it: data it sent that never passed the capture point
	// (lost before it, or dropped by the capture). UnseenPacket is the
	// segment that shows it. Valid when UnseenBytes > 0.
	UnseenBytes  uint32
	UnseenPacket uint64

	// ForeignTSEcr counts its segments whose timestamp echo lies far
	// (more than 2^16 ticks) outside the timestamp values the peer was
	// seen to send: it echoes another clock than the peer's, as a client
	// does that got its SYN-ACK from a SYN proxy (RFC 7323 §3.2: TSecr
	// echoes the peer's TSval). FirstForeignTSEcr is the first.
	ForeignTSEcr, FirstForeignTSEcr uint64

	// FIN and RST say whether it closed or reset the connection; the
	// packet numbers locate the first of each. Only a reset the peer
	// accepts counts (RFC 9293 §3.10.7, RFC 5961 §3): in SYN-SENT one
	// that acknowledges the SYN, later one whose sequence number lies in
	// the peer's receive window. IgnoredRSTs counts the others (a reset
	// answering a stale segment, a blind injection), FirstIgnoredRST
	// locates the first; they end nothing.
	FINPacket, RSTPacket         uint64
	IgnoredRSTs, FirstIgnoredRST uint64
	// Duplicates counts copies of its segments recorded twice by the
	// capture (pktmon's per-component copies, a doubled SPAN session, a
	// capture merged with an overlapping one): identical headers moments
	// after the original. They are counted here only, in no other figure.
	Duplicates uint64

	// AfterHandshake is its first segment without SYN or RST. A SYN
	// proxy answers the handshake with its own TTL, timestamp clock and
	// options; the real server's later segments then disagree with the
	// SYN-ACK.
	AfterHandshake SegmentMark

	// Protocol oddities, counted with the first packet that showed each.
	WScaleOnNonSYN, FirstWScaleOnNonSYN    uint64
	SACKUnnegotiated, FirstSACKUnneg       uint64
	TSUnnegotiated, FirstTSUnneg           uint64
	OptionIssues, FirstOptionIssuePacket   uint64
	FirstOptionIssue                       capture.OptIssue
	TruncatedHeaders, FirstTruncatedPacket uint64
}

// SegmentMark keeps a few header fields of one segment as evidence. Valid
// when Seen.
type SegmentMark struct {
	Packet uint64
	Time   int64 // ns since the epoch
	// TSVal is its timestamp value, valid when HasTS.
	TSVal uint32
	TTL   uint8
	HasTS bool
	Seen  bool
}

// Flow is one TCP connection (one incarnation of a 4-tuple) as the capture
// showed it. It is a plain value handed to the rules and the output.
type Flow struct {
	// ID numbers flows in the order they were first seen, from 1.
	ID uint64
	// Client opened the connection (see Roles for how that was decided).
	Client, Server Endpoint
	// Service is the well-known name of the server port ("rdp", "smb", …),
	// empty when the port has none.
	Service string

	// First and Last are the flow's first and last packet numbers and
	// timestamps (ns). Start and End are valid when Timed.
	FirstPacket, LastPacket uint64
	Start, End              int64

	// SYN is the first SYN the client sent; AnsweredSYN the SYN the
	// SYN-ACK answered (the latest SYN before it, which may be a retry with
	// other options, or a SYN captured just after its SYN-ACK), not Seen
	// when no SYN-ACK answered one. SYNACK is the first SYN-ACK; in a
	// simultaneous open it holds the server's SYN.
	SYN, AnsweredSYN, SYNACK HandshakeSegment
	// SYNs and SYNACKs count every SYN and SYN-ACK.
	SYNs, SYNACKs int
	// HandshakeACKPacket is the client's ACK that completed the handshake.
	HandshakeACKPacket uint64
	// ServerRTT is SYN→SYN-ACK and ClientRTT SYN-ACK→ACK at the capture
	// point, each valid when > 0: the path's two halves as seen from
	// where the capture was taken. Karn's rule holds (RFC 6298 §3): no
	// half is measured across a retransmitted SYN or SYN-ACK unless the
	// timestamp echo tells which copy was answered.
	ServerRTT, ClientRTT time.Duration

	// Encap is every encapsulation the flow's segments were found inside
	// (VLAN, MPLS, PPPoE, GRE, VXLAN, GENEVE, …); copies of one flow seen
	// through several tunnels name them all.
	Encap capture.Encap

	// The small fields share one word.
	Roles     RoleSource
	Handshake Handshake
	// SYNChanged and SYNACKChanged say retries carried other options than
	// the first.
	SYNChanged, SYNACKChanged bool
	SYNACKAckMismatch         bool // the SYN-ACK did not acknowledge the SYN's ISN+1
	// Evicted is true when the flow table was full and this flow, the
	// least recently active, was finished early.
	Evicted bool
	// Timed says a packet of the flow carried a timestamp. A flow of only
	// pcapng Simple Packet Blocks has none: its start and duration are
	// unknown, not the epoch and 0.
	Timed      bool
	Negotiated Negotiation
	// Observed is the Observer's own word for the flow (see Observer),
	// zero until the Observer sets it.
	Observed uint32
}

// RTT returns the handshake round-trip time through the capture point,
// or 0 when the handshake did not give both halves.
func (f *Flow) RTT() time.Duration {
	if f.ServerRTT > 0 && f.ClientRTT > 0 {
		return f.ServerRTT + f.ClientRTT
	}
	return 0
}

// PathRTT returns the best round-trip estimate through the capture
// point: the handshake's two halves, else the sum of the two data legs'
// smallest ACK-clocked samples; 0 when neither is known.
func (f *Flow) PathRTT() time.Duration {
	if rtt := f.RTT(); rtt > 0 {
		return rtt
	}
	if f.Client.RTT.Samples > 0 && f.Server.RTT.Samples > 0 {
		return f.Client.RTT.Min + f.Server.RTT.Min
	}
	return 0
}

// Peer returns the other endpoint of the flow.
func (f *Flow) Peer(e *Endpoint) *Endpoint {
	if e == &f.Client {
		return &f.Server
	}
	return &f.Client
}

// RTTStats summarizes RTT samples.
type RTTStats struct {
	Samples  uint64
	Min, Max time.Duration
	Sum      time.Duration
}

func (r *RTTStats) add(d time.Duration) {
	if d < 0 {
		return
	}
	if r.Samples == 0 || d < r.Min {
		r.Min = d
	}
	if d > r.Max {
		r.Max = d
	}
	r.Samples++
	r.Sum += d
}

// Mean returns the average sample, or 0 without samples.
func (r RTTStats) Mean() time.Duration {
	if r.Samples == 0 {
		return 0
	}
	return r.Sum / time.Duration(r.Samples)
}
