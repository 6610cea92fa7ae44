package capture

import "errors"

// LinkType is a pcap LINKTYPE_ value (https://www.tcpdump.org/linktypes.html),
// already masked to its low 16 bits.
type LinkType uint16

// Link types rwin decodes.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in host order
	LinkEthernet  LinkType = 1   // Ethernet II, with 802.1Q/802.1ad tags
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, version from the first nibble
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte address family, network order
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1, 16-byte header
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkNFLog     LinkType = 239 // Linux netfilter NFLOG: TLVs around the IP packet
	LinkEtherMPkt LinkType = 274 // IEEE 802.3br mPackets: preamble/SMD then Ethernet
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2, 20-byte header
	LinkRawAlt12  LinkType = 12  // raw IP on some BSDs (DLT_RAW's other number)
	LinkRawAlt14  LinkType = 14  // raw IP on OpenBSD (DLT_RAW's other number)
)

// Packet is one captured frame as a source hands it out. Data is owned by
// the source and is valid only until the next call to Next: copy what must
// outlive it.
type Packet struct {
	// Data holds the captured bytes (at most the snaplen).
	Data []byte
	// OrigLen is the frame's length on the wire.
	OrigLen int
	// Time is the timestamp in nanoseconds since the Unix epoch. For an
	// Untimed packet it repeats the previous packet's (0 before any).
	Time int64
	// Untimed is true when the capture holds no timestamp for the packet
	// (a pcapng Simple Packet Block): its Time is borrowed, and no
	// duration or rate may rest on it.
	Untimed bool
	// Link is the link type of this packet (per interface in pcapng).
	Link LinkType
	// Index is the 1-based number of the packet in its source.
	Index uint64
	// Offset is the byte offset of the packet's record in the file, for
	// error messages; -1 where it has no meaning (live capture).
	Offset int64
}

// Source yields packets one at a time.
type Source interface {
	// Next fills p with the next packet. It returns io.EOF at the clean end
	// of the input, an error wrapping ErrTruncated when the input ends in
	// the middle of a record, and one wrapping ErrMalformed when the
	// container is damaged beyond recovery. Packets read before an error
	// remain valid results.
	Next(p *Packet) error
	// Name says where the packets come from (a file name, "-" for stdin, an
	// interface name), for messages and results.
	Name() string
	// Close releases the source.
	Close() error
}

// Errors callers branch on; match them with errors.Is.
var (
	// ErrTruncated means the input ended inside a header or record: the
	// capture was cut short, and what was read before is still good.
	ErrTruncated = errors.New("capture cut short")
	// ErrMalformed means the input is not a capture rwin can read, or is
	// damaged so that no more packets can be framed.
	ErrMalformed = errors.New("malformed capture")
	// ErrLinkType means a link type rwin does not decode.
	ErrLinkType = errors.New("unsupported link type")
)
