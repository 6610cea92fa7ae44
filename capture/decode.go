package capture

import (
	"math/bits"
	"net/netip"
)

// Verdict says what Decode made of a frame.
type Verdict uint8

// Verdicts of Decode. Only VerdictTCP fills a Segment; the others are
// counted by the caller, and VerdictTruncated/VerdictMalformed carry an
// Issue worth a warning. Every verdict but VerdictTCP leaves an Issue that
// says where and why.
const (
	VerdictTCP       Verdict = iota // a TCP segment was decoded into the Segment
	VerdictNotIP                    // a frame of another network protocol (ARP, LLDP, …)
	VerdictNotTCP                   // IP carrying another transport (UDP, ICMP, …), or TCP quoted in ICMP
	VerdictFragment                 // a non-first IP fragment: no TCP header in it
	VerdictTruncated                // the snaplen cut the frame before the fixed TCP header ended
	VerdictMalformed                // a header contradicts itself (bad IHL, data offset < 5, …)
	VerdictLinkType                 // the link type is not one rwin decodes
	VerdictEncap                    // inside a tunnel or shim rwin does not decode (encrypted, unknown payload type, …)
)

// DecodeIssue locates why a frame was not decoded, for one-line warnings.
type DecodeIssue struct {
	Layer  string // "ethernet", "ipv4", "ipv6", "tcp", …: a constant, never built per packet
	Offset int    // byte offset in the frame where decoding stopped
	Reason string // a constant phrase, e.g. "data offset below 5"
}

// Decoder decodes link, IP and TCP headers into a Segment without
// allocating. Use one per goroutine.
//
// It decodes by hand rather than with gopacket's DecodingLayerParser: that
// is about twice as fast here (BenchmarkDecodeIPv4, BenchmarkDecodeIPv6),
// and above all it keeps a segment whose TCP options the snaplen cut (a
// 96-byte snaplen cuts the timestamps and SACK blocks of an IPv6 ACK),
// where DecodingLayerParser drops the whole layer.
//
// Lengths come from the headers, bounded by the frame's length on the wire
// (Packet.OrigLen), never from the captured length: a segment cut by the
// snaplen still reports its true payload. Two rules go beyond the RFCs:
//   - an IPv4 total length or IPv6 payload length of 0 means the packet runs
//     to the end of the frame on the wire. That covers RFC 2675 jumbograms
//     (whose real length is in a hop-by-hop option) and the TSO/GSO and
//     BIG TCP super-frames that Linux hands to packet taps with the length
//     field left at 0;
//   - a length field larger than the frame on the wire is cut to the frame,
//     as Wireshark does, rather than trusted.
type Decoder struct {
	issue DecodeIssue
	// moreFragments: an IP header decoded so far is a first fragment with
	// more to come, so what it carries ends before the datagram does.
	moreFragments bool
}

// Issue returns why the last Decode did not return VerdictTCP: the layer,
// the byte offset in the frame and a constant reason. It is the zero value
// after a VerdictTCP.
func (d *Decoder) Issue() DecodeIssue { return d.issue }

// Layer names for DecodeIssue.Layer.
const (
	layerLink     = "link"
	layerEthernet = "ethernet"
	layerVLAN     = "vlan"
	layerLoopback = "loopback"
	layerSLL      = "sll"
	layerSLL2     = "sll2"
	layerNFLog    = "nflog"
	layerMPacket  = "mpacket"
	layerIP       = "ip"
	layerIPv4     = "ipv4"
	layerIPv6     = "ipv6"
	layerTCP      = "tcp"
)

// Reasons for DecodeIssue.Reason.
const (
	reasonLinkType       = "link type not decoded"
	reasonCut            = "header cut by snaplen"
	reasonOptionsCut     = "options cut by snaplen"
	reasonExtCut         = "extension header cut by snaplen"
	reasonLength8023     = "802.3 length frame, not ethernet ii"
	reasonEtherType      = "ethertype not ipv4 or ipv6"
	reasonTooManyTags    = "more vlan tags than rwin decodes"
	reasonFamily         = "address family not ipv4 or ipv6"
	reasonTLVLength      = "tlv length below 4"
	reasonNoPayloadTLV   = "no payload tlv"
	reasonSMD            = "mpacket is not a frame start (verify, respond or continuation)"
	reasonVersion        = "version neither 4 nor 6"
	reasonVersion4       = "version not 4"
	reasonVersion6       = "version not 6"
	reasonIHL            = "header length below 20"
	reasonTotalLength    = "total length below header length"
	reasonPastLength     = "header runs past the enclosing length"
	reasonExtPastPayload = "extension header runs past payload length"
	reasonFragment       = "non-first fragment"
	reasonICMP           = "icmp (a quoted tcp header is not a segment)"
	reasonNotTCP         = "transport not tcp"
	reasonTooDeep        = "tunnels nested deeper than rwin decodes"
	reasonDataOffset     = "data offset below 5"
	reasonHeaderPastIP   = "header longer than ip payload"
	reasonSplitHeader    = "header split across ip fragments (not reassembled)"
)

// EtherTypes (IEEE 802 numbers) rwin follows.
const (
	etherTypeIPv4    = 0x0800
	etherTypeIPv6    = 0x86dd
	etherTypeVLAN    = 0x8100 // IEEE 802.1Q customer tag
	etherTypeQinQ    = 0x88a8 // IEEE 802.1ad service tag
	etherTypeQinQOld = 0x9100 // pre-standard QinQ service tag, still in switch configs
	etherTypeTEB     = 0x6558 // transparent Ethernet bridging: Ethernet in GRE (RFC 1701)
	etherTypePPPoE   = 0x8864 // PPPoE session stage (RFC 2516)
	etherTypeMPLS    = 0x8847 // MPLS unicast (RFC 3032)
	etherTypeMPLSMC  = 0x8848 // MPLS multicast (RFC 5332)
	etherTypeMinimum = 0x0600 // below it the field is an IEEE 802.3 length, not a type
)

// Header sizes, and the bounds that keep hostile frames from nesting
// without end.
const (
	ethernetHeaderLen = 14
	ipv4HeaderLen     = 20
	ipv6HeaderLen     = 40
	tcpHeaderLen      = 20
	sllHeaderLen      = 16
	sll2HeaderLen     = 20
	mpacketHeaderLen  = 8 // 7-byte preamble and the SMD byte (IEEE 802.3 clause 99)
	nflogHeaderLen    = 4 // family, version, resource id
	maxVLANTags       = 8 // more than any real QinQ stack
	maxIPHeaders      = 8 // the outer header plus tunnels
)

// NFLOG TLV types (Linux nfnetlink_log.h). The two top bits of a type are
// netlink's nested and byte-order flags.
const (
	nflogTLVPayload  = 9 // NFULA_PAYLOAD
	nflogTLVTypeMask = 0x3fff
)

// Address families of the BSD loopback headers. AF_INET6 differs between
// the BSDs.
const (
	loopFamilyIPv4    = 2  // AF_INET everywhere
	loopFamilyIPv6BSD = 24 // AF_INET6 on NetBSD and OpenBSD
	loopFamilyIPv6Fre = 28 // AF_INET6 on FreeBSD and DragonFly
	loopFamilyIPv6Mac = 30 // AF_INET6 on macOS
)

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
const (
	ipProtoHopByHop = 0
	ipProtoICMP     = 1
	ipProtoIPv4     = 4 // IP in IP, RFC 2003
	ipProtoTCP      = 6
	ipProtoIPv6     = 41 // IPv6 in IP, RFC 4213
	ipProtoRouting  = 43
	ipProtoFragment = 44
	ipProtoUDP      = 17
	ipProtoGRE      = 47
	ipProtoMPLSinIP = 137 // MPLS in IP, RFC 4023
	ipProtoAH       = 51
	ipProtoICMPv6   = 58
	ipProtoDstOpts  = 60
)

// Decode decodes p into seg (overwriting it) and says what it found. Only
// VerdictTCP leaves a meaningful Segment; for the other verdicts Issue says
// where and why decoding stopped. seg.Packet and seg.Time come from p.
func (d *Decoder) Decode(p *Packet, seg *Segment) Verdict {
	*seg = Segment{Packet: p.Index, Time: p.Time, Untimed: p.Untimed}
	d.issue = DecodeIssue{}
	d.moreFragments = false
	b := p.Data
	// end is the frame's length on the wire: the bound for every length
	// field. A record claiming fewer bytes than it holds is damaged; then
	// the captured bytes are the better bound.
	end := max(p.OrigLen, len(b))
	switch p.Link {
	case LinkEthernet:
		return d.ethernet(b, 0, end, 0, seg)
	case LinkNull, LinkLoop:
		return d.loopback(b, 0, end, seg)
	case LinkLinuxSLL:
		// The protocol type sits at bytes 14–15 (after packet type,
		// ARPHRD type, address length and an 8-byte address field).
		if len(b) < sllHeaderLen {
			return d.fail(VerdictTruncated, layerSLL, 0, reasonCut)
		}
		return d.etherType(b, sllHeaderLen, end, be16(b[14:]), 0, layerSLL, seg)
	case LinkLinuxSLL2:
		// SLL2 moved the protocol type to the front (bytes 0–1).
		if len(b) < sll2HeaderLen {
			return d.fail(VerdictTruncated, layerSLL2, 0, reasonCut)
		}
		return d.etherType(b, sll2HeaderLen, end, be16(b), 0, layerSLL2, seg)
	case LinkRaw, LinkRawAlt12, LinkRawAlt14:
		return d.ip(b, 0, end, 0, seg)
	case LinkIPv4:
		return d.ipv4(b, 0, end, 0, seg)
	case LinkIPv6:
		return d.ipv6(b, 0, end, 0, seg)
	case LinkNFLog:
		return d.nflog(b, end, seg)
	case LinkEtherMPkt:
		return d.mpacket(b, end, seg)
	}
	return d.link(p.Link, b, end, seg)
}

// fail records why decoding stopped and returns v.
func (d *Decoder) fail(v Verdict, layer string, off int, reason string) Verdict {
	d.issue = DecodeIssue{Layer: layer, Offset: off, Reason: reason}
	return v
}

// ethernet decodes an Ethernet II header at off.
func (d *Decoder) ethernet(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off+ethernetHeaderLen > len(b) {
		return d.fail(VerdictTruncated, layerEthernet, off, reasonCut)
	}
	et := be16(b[off+12:])
	if et < etherTypeMinimum {
		// IEEE 802.3 with an LLC header: STP, NetBIOS, IPX — never the
		// IP that hosts send.
		return d.fail(VerdictNotIP, layerEthernet, off+12, reasonLength8023)
	}
	return d.etherType(b, off+ethernetHeaderLen, end, et, depth, layerEthernet, seg)
}

// etherType follows an EtherType whose payload starts at off, stepping over
// 802.1Q and 802.1ad tags (each 4 bytes: TCI, then the next type). SLL
// headers reach here too: some drivers leave the VLAN tag in the frame.
// layer names the header the type came from, for the issue.
func (d *Decoder) etherType(b []byte, off, end int, et uint16, depth int, layer string, seg *Segment) Verdict {
	for tags := 0; et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQOld; tags++ {
		if tags == maxVLANTags {
			return d.fail(VerdictMalformed, layerVLAN, off, reasonTooManyTags)
		}
		if off+4 > len(b) {
			return d.fail(VerdictTruncated, layerVLAN, off, reasonCut)
		}
		seg.Encap |= EncapVLAN
		et = be16(b[off+2:])
		off += 4
	}
	switch et {
	case etherTypeIPv4:
		return d.ipv4(b, off, end, depth, seg)
	case etherTypeIPv6:
		return d.ipv6(b, off, end, depth, seg)
	case etherTypePPPoE:
		return d.pppoe(b, off, end, depth, seg)
	case etherTypeMPLS, etherTypeMPLSMC:
		return d.mpls(b, off, end, depth, seg)
	}
	return d.fail(VerdictNotIP, layer, off, reasonEtherType)
}

// loopback decodes the 4-byte address family of BSD null (DLT_NULL, in the
// capturing host's byte order) and OpenBSD loop (DLT_LOOP, network order).
// Both byte orders are accepted for both: a family fits in 16 bits, so a
// value with high bits set was written in the other order. AF_INET6 differs
// between the BSDs, hence three IPv6 values.
func (d *Decoder) loopback(b []byte, off, end int, seg *Segment) Verdict {
	if off+4 > len(b) {
		return d.fail(VerdictTruncated, layerLoopback, off, reasonCut)
	}
	fam := le32(b[off:])
	if fam>>16 != 0 {
		fam = bits.ReverseBytes32(fam)
	}
	switch fam {
	case loopFamilyIPv4:
		return d.ipv4(b, off+4, end, 0, seg)
	case loopFamilyIPv6BSD, loopFamilyIPv6Fre, loopFamilyIPv6Mac:
		return d.ipv6(b, off+4, end, 0, seg)
	}
	return d.fail(VerdictNotIP, layerLoopback, off, reasonFamily)
}

// nflog decodes a Linux NFLOG record (LINKTYPE_NFLOG): a 4-byte header then
// TLVs whose 16-bit length (header included) and type are in the capturing
// host's byte order — little-endian on every host that runs NFLOG captures
// in practice — each padded to 4 bytes. The NFULA_PAYLOAD TLV holds the IP
// packet; records without it (copy mode "none") are not IP.
func (d *Decoder) nflog(b []byte, end int, seg *Segment) Verdict {
	if len(b) < nflogHeaderLen {
		return d.fail(VerdictTruncated, layerNFLog, 0, reasonCut)
	}
	off := nflogHeaderLen
	for off+4 <= len(b) {
		l := int(le16(b[off:]))
		typ := le16(b[off+2:]) & nflogTLVTypeMask
		if l < 4 {
			return d.fail(VerdictMalformed, layerNFLog, off, reasonTLVLength)
		}
		if typ == nflogTLVPayload {
			return d.ip(b, off+4, min(off+l, end), 0, seg)
		}
		off += (l + 3) &^ 3
	}
	if off < end {
		return d.fail(VerdictTruncated, layerNFLog, off, reasonCut)
	}
	return d.fail(VerdictNotIP, layerNFLog, off, reasonNoPayloadTLV)
}

// mpacket decodes an IEEE 802.3br mPacket (LINKTYPE_ETHERNET_MPACKET): a
// 7-byte preamble and a start mPacket delimiter, then an Ethernet frame for
// express frames (SMD-E) and the first fragment of preemptable ones
// (SMD-S0…S3). Continuation fragments (SMD-C) and verify/respond mPackets
// carry no Ethernet header.
func (d *Decoder) mpacket(b []byte, end int, seg *Segment) Verdict {
	if len(b) < mpacketHeaderLen {
		return d.fail(VerdictTruncated, layerMPacket, 0, reasonCut)
	}
	switch b[7] {
	case 0xd5, 0xe6, 0x4c, 0x7f, 0xb3: // SMD-E, SMD-S0…S3
		return d.ethernet(b, mpacketHeaderLen, end, 0, seg)
	}
	return d.fail(VerdictNotIP, layerMPacket, 7, reasonSMD)
}

// ip decodes an IP header whose version comes from its first nibble.
func (d *Decoder) ip(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off >= len(b) {
		return d.fail(VerdictTruncated, layerIP, off, reasonCut)
	}
	switch b[off] >> 4 {
	case 4:
		return d.ipv4(b, off, end, depth, seg)
	case 6:
		return d.ipv6(b, off, end, depth, seg)
	}
	return d.fail(VerdictNotIP, layerIP, off, reasonVersion)
}

// ipv4 decodes an IPv4 header (RFC 791) at off; end bounds the packet.
func (d *Decoder) ipv4(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off+ipv4HeaderLen > len(b) {
		return d.fail(VerdictTruncated, layerIPv4, off, reasonCut)
	}
	if b[off]>>4 != 4 {
		return d.fail(VerdictMalformed, layerIPv4, off, reasonVersion4)
	}
	ihl := int(b[off]&0x0f) * 4
	if ihl < ipv4HeaderLen {
		return d.fail(VerdictMalformed, layerIPv4, off, reasonIHL)
	}
	ipEnd := end
	if tl := int(be16(b[off+2:])); tl != 0 {
		if tl < ihl {
			return d.fail(VerdictMalformed, layerIPv4, off+2, reasonTotalLength)
		}
		ipEnd = min(off+tl, end)
	}
	if off+ihl > ipEnd {
		return d.fail(VerdictMalformed, layerIPv4, off, reasonPastLength)
	}
	if off+ihl > len(b) {
		return d.fail(VerdictTruncated, layerIPv4, off+ipv4HeaderLen, reasonOptionsCut)
	}
	frag := be16(b[off+6:])
	seg.IPv6 = false
	seg.TTL = b[off+8]
	seg.IPID = be16(b[off+4:])
	seg.DF = frag&0x4000 != 0
	seg.Src = netip.AddrFrom4([4]byte(b[off+12 : off+16]))
	seg.Dst = netip.AddrFrom4([4]byte(b[off+16 : off+20]))
	d.moreFragments = d.moreFragments || frag&0x2000 != 0 // an outer header's counts too: it cut this one
	if frag&0x1fff != 0 {
		// Only the first fragment (offset 0, MF set or not) holds the
		// TCP header; rwin does not reassemble.
		return d.fail(VerdictFragment, layerIPv4, off+6, reasonFragment)
	}
	return d.transport(b, off+ihl, ipEnd, b[off+9], depth, layerIPv4, seg)
}

// ipv6 decodes an IPv6 header (RFC 8200) and its extension headers at off;
// end bounds the packet.
func (d *Decoder) ipv6(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off+ipv6HeaderLen > len(b) {
		return d.fail(VerdictTruncated, layerIPv6, off, reasonCut)
	}
	if b[off]>>4 != 6 {
		return d.fail(VerdictMalformed, layerIPv6, off, reasonVersion6)
	}
	ipEnd := end
	if pl := int(be16(b[off+4:])); pl != 0 {
		ipEnd = min(off+ipv6HeaderLen+pl, end)
	}
	if off+ipv6HeaderLen > ipEnd {
		return d.fail(VerdictMalformed, layerIPv6, off, reasonPastLength)
	}
	seg.IPv6 = true
	seg.TTL = b[off+7]
	seg.IPID = 0
	seg.DF = false
	seg.Src = netip.AddrFrom16([16]byte(b[off+8 : off+24]))
	seg.Dst = netip.AddrFrom16([16]byte(b[off+24 : off+40]))
	nh := b[off+6]
	pos := off + ipv6HeaderLen
	// Each extension header is at least 8 bytes and must be captured
	// whole, so the walk ends within len(b)/8 steps.
	for {
		var hl int
		switch nh {
		case ipProtoHopByHop, ipProtoRouting, ipProtoDstOpts:
			if pos+2 > len(b) {
				return d.fail(VerdictTruncated, layerIPv6, pos, reasonExtCut)
			}
			hl = (int(b[pos+1]) + 1) * 8
		case ipProtoFragment:
			hl = 8
		case ipProtoAH:
			// RFC 4302 §2.2: the length is in 4-byte units, minus 2.
			if pos+2 > len(b) {
				return d.fail(VerdictTruncated, layerIPv6, pos, reasonExtCut)
			}
			hl = (int(b[pos+1]) + 2) * 4
		default:
			// ESP (50) and no-next-header (59) end here as not TCP.
			return d.transport(b, pos, ipEnd, nh, depth, layerIPv6, seg)
		}
		if pos+hl > ipEnd {
			return d.fail(VerdictMalformed, layerIPv6, pos, reasonExtPastPayload)
		}
		if pos+hl > len(b) {
			return d.fail(VerdictTruncated, layerIPv6, pos, reasonExtCut)
		}
		if nh == ipProtoFragment {
			if be16(b[pos+2:])&0xfff8 != 0 {
				return d.fail(VerdictFragment, layerIPv6, pos, reasonFragment)
			}
			d.moreFragments = d.moreFragments || b[pos+3]&1 != 0
		}
		nh = b[pos]
		pos += hl
	}
}

// transport dispatches on the IP protocol of a payload at off..end: TCP,
// or a tunnel to the inner IP header (the innermost header is the one the
// Segment reports, as tshark's oracle does). layer names the IP header the
// protocol came from, which tells 6in4 from IP in IP.
func (d *Decoder) transport(b []byte, off, end int, proto uint8, depth int, layer string, seg *Segment) Verdict {
	switch proto {
	case ipProtoTCP:
		return d.tcp(b, off, end, seg)
	case ipProtoICMP, ipProtoICMPv6:
		return d.fail(VerdictNotTCP, layer, off, reasonICMP)
	case ipProtoIPv4, ipProtoIPv6, ipProtoGRE, ipProtoUDP, ipProtoMPLSinIP:
	default:
		return d.fail(VerdictNotTCP, layer, off, reasonNotTCP)
	}
	// Every tunnel passes through here, so bounding the IP headers bounds
	// the nesting of every kind of tunnel.
	if depth+1 >= maxIPHeaders {
		return d.fail(VerdictMalformed, layer, off, reasonTooDeep)
	}
	depth++
	outer6 := layer == layerIPv6
	switch proto {
	case ipProtoIPv4:
		seg.Encap |= pick(outer6, Encap4in6, EncapIPIP)
		return d.ipv4(b, off, end, depth, seg)
	case ipProtoIPv6:
		seg.Encap |= pick(outer6, Encap6in6, Encap6in4)
		return d.ipv6(b, off, end, depth, seg)
	case ipProtoGRE:
		seg.Encap |= EncapGRE
		return d.gre(b, off, end, depth, seg)
	case ipProtoMPLSinIP:
		return d.mpls(b, off, end, depth, seg)
	}
	return d.udp(b, off, end, depth, seg)
}

// pick returns a if cond holds, else b.
func pick(cond bool, a, b Encap) Encap {
	if cond {
		return a
	}
	return b
}

// tcp decodes a TCP header (RFC 9293 §3.1) at off; end is the end of the IP
// payload. The fixed 20 bytes must be captured; options the snaplen cut are
// parsed as far as they go and the Segment is marked Truncated.
func (d *Decoder) tcp(b []byte, off, end int, seg *Segment) Verdict {
	if off+tcpHeaderLen > len(b) {
		return d.fail(VerdictTruncated, layerTCP, off, reasonCut)
	}
	h := b[off : off+tcpHeaderLen]
	seg.SrcPort = be16(h[0:])
	seg.DstPort = be16(h[2:])
	seg.Seq = Seq(be32(h[4:]))
	seg.Ack = Seq(be32(h[8:]))
	// The AE bit (AccECN, formerly NS) is the low bit of byte 12.
	seg.Flags = Flags(h[13]) | Flags(h[12]&1)<<8
	seg.Window = be16(h[14:])
	seg.Checksum = be16(h[16:])
	hdrLen := int(h[12]>>4) * 4
	seg.HeaderLen = hdrLen
	if hdrLen < tcpHeaderLen {
		return d.fail(VerdictMalformed, layerTCP, off+12, reasonDataOffset)
	}
	if off+hdrLen > end {
		if d.moreFragments {
			// Not damage: the header goes on in the next fragment,
			// which rwin does not reassemble.
			return d.fail(VerdictFragment, layerTCP, off+12, reasonSplitHeader)
		}
		return d.fail(VerdictMalformed, layerTCP, off+12, reasonHeaderPastIP)
	}
	seg.Payload = end - off - hdrLen
	seg.PayloadOffset = off + hdrLen
	optEnd := min(off+hdrLen, len(b))
	parseOptions(b[off+tcpHeaderLen:optEnd], hdrLen-tcpHeaderLen, &seg.Opts) // seg was zeroed
	seg.Truncated = optEnd < off+hdrLen
	return VerdictTCP
}

func le16(b []byte) uint16 {
	_ = b[1]
	return uint16(b[0]) | uint16(b[1])<<8
}

func le32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
