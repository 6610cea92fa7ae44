// Package capture turns captured frames into TCP facts: it reads packets from
// capture files and live interfaces, and decodes link, IP and TCP headers and
// TCP options into a compact, allocation-free Segment value.
package capture

import (
	"net/netip"
	"strings"
)

// Seq is a TCP sequence or acknowledgment number. Arithmetic wraps modulo
// 2^32 (RFC 9293 §3.4): compare with LessThan, never with <.
type Seq uint32

// Add returns s advanced by n bytes.
func (s Seq) Add(n uint32) Seq { return s + Seq(n) }

// Sub returns the signed distance s − o, valid while the two are within 2^31
// of each other.
func (s Seq) Sub(o Seq) int32 { return int32(s - o) }

// LessThan reports whether s comes before o in sequence space.
func (s Seq) LessThan(o Seq) bool { return int32(s-o) < 0 }

// Flags holds the TCP control bits. Bit 8 is the AE bit of AccECN
// (formerly NS, RFC 3540), taken from the reserved bits of byte 12.
type Flags uint16

// TCP control bits, RFC 9293 §3.1, RFC 3168, and AccECN.
const (
	FlagFIN Flags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
	FlagAE
)

// Has reports whether all bits of f are set.
func (fl Flags) Has(f Flags) bool { return fl&f == f }

// String renders the flags tcpdump-style, e.g. "SA" for SYN-ACK, "." for a
// bare ACK.
func (fl Flags) String() string {
	var b strings.Builder
	for _, x := range []struct {
		f Flags
		c byte
	}{{FlagSYN, 'S'}, {FlagFIN, 'F'}, {FlagRST, 'R'}, {FlagPSH, 'P'}, {FlagURG, 'U'}, {FlagECE, 'E'}, {FlagCWR, 'W'}, {FlagAE, 'e'}} {
		if fl&x.f != 0 {
			b.WriteByte(x.c)
		}
	}
	if fl&FlagACK != 0 {
		b.WriteByte('.')
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Segment is one decoded TCP segment: what the captured bytes say, nothing
// more. A Segment is filled in place by Decoder.Decode and holds no pointers
// into the packet buffer, so it stays valid after the buffer is reused.
type Segment struct {
	// The fields are ordered so that what the analyzer reads of every
	// segment lies in its first two cache lines (Opts begins with what it
	// reads of the options: the option set, the first problem, the
	// timestamps): on two CPUs each segment is written by the reader and
	// read by the analyzer, and every line the analyzer reads moves
	// between the CPUs.

	// Packet is the 1-based number of the frame in its source.
	Packet uint64
	// Time is the capture timestamp in nanoseconds since the Unix epoch.
	Time int64

	// Src and Dst are the innermost IP header's addresses.
	Src, Dst netip.Addr

	// IPv6 is true for an IPv6 packet, false for IPv4.
	IPv6 bool
	// TTL is the IPv4 TTL or the IPv6 hop limit.
	TTL uint8
	// IPID is the IPv4 identification field; zero for IPv6.
	IPID uint16
	// DF is the IPv4 don't-fragment bit; false for IPv6.
	DF bool

	SrcPort, DstPort uint16
	Seq, Ack         Seq
	Flags            Flags
	// Window is the raw 16-bit window field, before any scaling.
	Window uint16

	// Truncated is true when the capture ended before the end of the TCP
	// header: the fixed header is complete, but some option bytes are
	// missing (Opts.Truncated says the same about the options).
	Truncated bool
	// Untimed is true when the capture gave the packet no timestamp
	// (pcapng Simple Packet Block): Time only repeats the previous
	// packet's, and no duration, RTT or rate may be taken from it.
	Untimed bool
	// Checksum is the TCP checksum field as captured (not verified).
	Checksum uint16

	// Encap names the tunnels and shims the segment was found inside
	// (VLAN tags, MPLS, PPPoE, GRE, VXLAN, …); 0 for none.
	Encap Encap

	// Payload is the TCP payload length computed from the IP length fields,
	// not from the captured length: it is right even when the snaplen cut
	// the payload (or the options) off.
	Payload int

	// Opts are the TCP options that were captured.
	Opts Options

	// HeaderLen is the TCP header length in bytes from the data offset field.
	HeaderLen int
	// PayloadOffset is where the payload starts in the packet's Data; see
	// CapturedPayload for the bytes the snaplen kept.
	PayloadOffset int
}

// IsSYN reports a SYN without ACK: a connection request.
func (s *Segment) IsSYN() bool { return s.Flags&(FlagSYN|FlagACK) == FlagSYN }

// IsSYNACK reports a SYN with ACK: a connection reply.
func (s *Segment) IsSYNACK() bool { return s.Flags&(FlagSYN|FlagACK) == FlagSYN|FlagACK }

// SrcEndpoint returns the sender's address and port.
func (s *Segment) SrcEndpoint() netip.AddrPort { return netip.AddrPortFrom(s.Src, s.SrcPort) }

// DstEndpoint returns the receiver's address and port.
func (s *Segment) DstEndpoint() netip.AddrPort { return netip.AddrPortFrom(s.Dst, s.DstPort) }
