package capture

import "fmt"

// Link types beyond Ethernet, loopback, Linux cooked and raw IP: the
// serial, wireless, InfiniBand and vendor headers tshark decodes down to
// IP. Numbers are LINKTYPE_ values (https://www.tcpdump.org/linktypes.html).
const (
	LinkTokenRing   LinkType = 6   // IEEE 802.5 Token Ring, then LLC/SNAP
	LinkARCNetBSD   LinkType = 7   // ARCNET as BSD captures it: source, destination, protocol ID
	LinkPPP         LinkType = 9   // PPP, with or without HDLC address and control bytes
	LinkFDDI        LinkType = 10  // FDDI, then LLC/SNAP
	LinkPPPHDLC     LinkType = 50  // PPP in HDLC-like framing (RFC 1662)
	LinkPPPoE       LinkType = 51  // PPPoE session header, no Ethernet header (LINKTYPE_PPP_ETHER)
	LinkATMLLC      LinkType = 100 // ATM, RFC 1483 LLC/SNAP
	LinkCiscoHDLC   LinkType = 104 // Cisco HDLC: address, control, EtherType
	LinkIEEE80211   LinkType = 105 // IEEE 802.11 frames
	LinkPrism       LinkType = 119 // Prism monitor header, then 802.11
	LinkRadiotap    LinkType = 127 // radiotap header, then 802.11
	LinkARCNetLinux LinkType = 129 // ARCNET as Linux captures it: source, destination, offset, protocol ID
	LinkAVS         LinkType = 163 // AVS monitor header, then 802.11
	LinkPPI         LinkType = 192 // Per-Packet Information header, then the frame of its DLT
	LinkPPPWithDir  LinkType = 204 // direction byte, then PPP
	LinkCHDLCDir    LinkType = 205 // direction byte, then Cisco HDLC
	LinkIPNet       LinkType = 226 // Solaris ipnet: 24-byte header with the address family
	LinkNetAnalyzer LinkType = 240 // Hilscher netANALYZER: 4-byte header, then Ethernet
	LinkNetAnaTrans LinkType = 241 // netANALYZER transparent: header, preamble and SFD, then Ethernet
	LinkIPoIB       LinkType = 242 // IP over InfiniBand (RFC 4391 §6): EtherType, 2 reserved bytes
	LinkPKTAP       LinkType = 258 // Apple PKTAP: metadata header, then the frame of its DLT
)

// Layer names of the link headers in this file.
const (
	layerTokenRing = "token ring"
	layerARCNet    = "arcnet"
	layerFDDI      = "fddi"
	layerCHDLC     = "cisco hdlc"
	layerWLAN      = "802.11"
	layerLLC       = "llc"
	layerRadiotap  = "radiotap"
	layerMonitor   = "monitor header"
	layerPPI       = "ppi"
	layerIPNet     = "ipnet"
	layerIPoIB     = "ipoib"
	layerPKTAP     = "pktap"
	layerNetAna    = "netanalyzer"
)

// Reasons a link header did not lead to IP.
const (
	reasonARCNetProto   = "arcnet protocol id not ip"
	reasonWLANVersion   = "802.11 protocol version not 0"
	reasonWLANNotData   = "802.11 management, control or null frame"
	reasonWLANProtected = "802.11 frame encrypted (protected bit set)"
	reasonWLANAMSDU     = "802.11 a-msdu aggregate not decoded"
	reasonWLANFragment  = "802.11 non-first fragment"
	reasonLLC           = "llc frame without snap (not ip)"
	reasonInnerLink     = "inner link type not decoded"
	reasonRadiotapVer   = "radiotap version not 0"
)

// ARCNET protocol IDs (ATA 878.1 registry, RFC 1051 and RFC 1201).
const (
	arcIP1051 = 0xf0 // RFC 1051: IP directly after the protocol ID
	arcIP1201 = 0xd4 // RFC 1201: split flag and sequence number first
	arcIPv6   = 0xc4 // RFC 2497: IPv6, framed as RFC 1201
)

// link decodes the link types beyond Decode's common ones; any other
// link type is reported as not decoded.
func (d *Decoder) link(lt LinkType, b []byte, end int, seg *Segment) Verdict {
	switch lt {
	case LinkPPP, LinkPPPHDLC:
		return d.pppLink(b, 0, end, seg)
	case LinkPPPWithDir:
		return d.pppLink(b, 1, end, seg)
	case LinkPPPoE:
		return d.pppoe(b, 0, end, 0, seg)
	case LinkCiscoHDLC:
		return d.chdlc(b, 0, end, seg)
	case LinkCHDLCDir:
		return d.chdlc(b, 1, end, seg)
	case LinkIEEE80211:
		return d.wlan(b, 0, end, 0, 0, seg)
	case LinkRadiotap:
		return d.radiotap(b, end, seg)
	case LinkPrism, LinkAVS:
		// Prism: message code, then its length (little-endian); AVS:
		// version, then the header length (big-endian).
		if len(b) < 8 {
			return d.fail(VerdictTruncated, layerMonitor, 0, reasonCut)
		}
		hl := int(le32(b[4:]))
		if lt == LinkAVS {
			hl = int(be32(b[4:]))
		}
		if hl < 8 || hl > len(b) {
			return d.fail(VerdictTruncated, layerMonitor, 4, reasonCut)
		}
		return d.wlan(b, hl, end, 0, 0, seg)
	case LinkPPI, LinkPKTAP:
		return d.metaHeader(lt, b, end, seg)
	case LinkARCNetBSD, LinkARCNetLinux:
		return d.arcnet(lt, b, end, seg)
	case LinkIPoIB:
		if len(b) < 4 {
			return d.fail(VerdictTruncated, layerIPoIB, 0, reasonCut)
		}
		return d.etherType(b, 4, end, be16(b), 0, layerIPoIB, seg)
	case LinkIPNet:
		// Version, family, hardware type, packet length, interface
		// and zone IDs: 24 bytes. Families: IPH_AF_INET 2, IPH_AF_INET6 26.
		if len(b) < 24 {
			return d.fail(VerdictTruncated, layerIPNet, 0, reasonCut)
		}
		switch b[1] {
		case 2:
			return d.ipv4(b, 24, end, 0, seg)
		case 26:
			return d.ipv6(b, 24, end, 0, seg)
		}
		return d.fail(VerdictNotIP, layerIPNet, 1, reasonFamily)
	case LinkNetAnalyzer:
		return d.ethernet(b, 4, end, 0, seg)
	case LinkNetAnaTrans:
		return d.ethernet(b, 12, end, 0, seg)
	case LinkFDDI:
		// Frame control, destination and source: 13 bytes.
		return d.llc(b, 13, end, 0, layerFDDI, seg)
	case LinkTokenRing:
		// Access and frame control, destination, source; a source
		// with its top bit set is followed by routing information
		// whose length is in its first byte's low 5 bits.
		if len(b) < 15 {
			return d.fail(VerdictTruncated, layerTokenRing, 0, reasonCut)
		}
		off := 14
		if b[8]&0x80 != 0 {
			off += int(b[14] & 0x1f)
		}
		return d.llc(b, off, end, 0, layerTokenRing, seg)
	case LinkATMLLC:
		return d.llc(b, 0, end, 0, layerLLC, seg)
	}
	return d.fail(VerdictLinkType, layerLink, 0, reasonLinkType)
}

// pppLink decodes a PPP link frame at off. Some routers' "PPP" captures
// hold Cisco HDLC frames (address 0x0f unicast, 0x8f broadcast), which
// tshark recognizes the same way.
func (d *Decoder) pppLink(b []byte, off, end int, seg *Segment) Verdict {
	if off < len(b) && (b[off] == 0x0f || b[off] == 0x8f) {
		return d.chdlc(b, off, end, seg)
	}
	return d.ppp(b, off, end, 0, layerPPP, seg)
}

// chdlc decodes a Cisco HDLC header at off: address, control, EtherType.
func (d *Decoder) chdlc(b []byte, off, end int, seg *Segment) Verdict {
	if off+4 > len(b) {
		return d.fail(VerdictTruncated, layerCHDLC, off, reasonCut)
	}
	return d.etherType(b, off+4, end, be16(b[off+2:]), 0, layerCHDLC, seg)
}

// arcnet decodes an ARCNET header: source and destination IDs, on Linux a
// two-byte offset, then the protocol ID; RFC 1201 framing adds a split
// flag (and, for an exception packet, four more bytes) and a sequence
// number before the datagram.
func (d *Decoder) arcnet(lt LinkType, b []byte, end int, seg *Segment) Verdict {
	off := 2
	if lt == LinkARCNetLinux {
		off = 4
	}
	if off+1 > len(b) {
		return d.fail(VerdictTruncated, layerARCNet, 0, reasonCut)
	}
	proto := b[off]
	off++
	switch proto {
	case arcIP1051:
		return d.ipv4(b, off, end, 0, seg)
	case arcIP1201, arcIPv6:
		if off+1 > len(b) {
			return d.fail(VerdictTruncated, layerARCNet, off, reasonCut)
		}
		if b[off] == 0xff {
			off += 4
		}
		off += 3
		if proto == arcIPv6 {
			return d.ipv6(b, off, end, 0, seg)
		}
		return d.ipv4(b, off, end, 0, seg)
	}
	return d.fail(VerdictNotIP, layerARCNet, off-1, reasonARCNetProto)
}

// radiotap steps over a radiotap header (its length is at byte 2,
// little-endian) to the 802.11 frame. When the Flags field says the
// driver padded the 802.11 header to 32 bits, the frame is read with that
// padding; finding Flags means walking the present bitmaps and the
// 8-byte TSFT field that may come first.
func (d *Decoder) radiotap(b []byte, end int, seg *Segment) Verdict {
	if len(b) < 8 {
		return d.fail(VerdictTruncated, layerRadiotap, 0, reasonCut)
	}
	if b[0] != 0 {
		return d.fail(VerdictMalformed, layerRadiotap, 0, reasonRadiotapVer)
	}
	hl := int(le16(b[2:]))
	if hl < 8 || hl > len(b) {
		return d.fail(VerdictTruncated, layerRadiotap, 2, reasonCut)
	}
	present := le32(b[4:])
	q := 8
	for w := present; w&(1<<31) != 0; q += 4 {
		if q+4 > hl {
			return d.fail(VerdictMalformed, layerRadiotap, q, reasonPastLength)
		}
		w = le32(b[q:])
	}
	padded := false
	if present&2 != 0 { // Flags
		if present&1 != 0 { // TSFT, 8-byte aligned
			q = (q+7)&^7 + 8
		}
		padded = q < hl && b[q]&0x20 != 0
	}
	var framing wlanFraming
	if padded {
		framing = wlanPadded
	}
	return d.wlan(b, hl, end, 0, framing, seg)
}

// wlanFraming says how an 802.11 frame deviates from the standard layout.
type wlanFraming uint8

const (
	// wlanSwapped: the frame control bytes come in the other order.
	wlanSwapped wlanFraming = 1 << iota
	// wlanPadded: the header is padded to a multiple of 4 bytes.
	wlanPadded
)

// wlan decodes an IEEE 802.11 data frame header at off (IEEE 802.11-2020
// §9.2): frame control, duration, three addresses, sequence control, a
// fourth address between two distribution systems, QoS control for QoS
// subtypes and HT control when the Order bit is set on them. The body
// starts with LLC/SNAP. swapped reads the frame control bytes in the
// other order, as Cisco's CAPWAP sends them; when the bytes as given are
// not a data frame but swapped they are, they are read swapped anyway
// (and the other way round).
func (d *Decoder) wlan(b []byte, off, end, depth int, framing wlanFraming, seg *Segment) Verdict {
	if off+2 > len(b) {
		return d.fail(VerdictTruncated, layerWLAN, off, reasonCut)
	}
	fc, flags := b[off], b[off+1]
	isData := func(fc byte) bool { return fc&0x0f == 0x08 } // version 0, type 2
	swapped := framing&wlanSwapped != 0
	if swapped && !isData(flags) || !swapped && !isData(fc) && isData(flags) {
		swapped = !swapped
	}
	if swapped {
		fc, flags = flags, fc
	}
	if fc&0x03 != 0 {
		return d.fail(VerdictMalformed, layerWLAN, off, reasonWLANVersion)
	}
	subtype := fc >> 4
	if !isData(fc) || subtype&0x4 != 0 {
		return d.fail(VerdictNotIP, layerWLAN, off, reasonWLANNotData)
	}
	hl := 24
	if flags&0x03 == 0x03 { // to and from DS: four addresses
		hl += 6
	}
	qos := subtype&0x8 != 0
	if qos {
		hl += 2
		if flags&0x80 != 0 {
			hl += 4
		}
	}
	if v, ok := d.span(layerWLAN, off, hl, len(b), end); !ok {
		return v
	}
	if flags&0x40 != 0 {
		return d.fail(VerdictEncap, layerWLAN, off+1, reasonWLANProtected)
	}
	if qos && b[off+hl-2-boolInt(flags&0x80 != 0)*4]&0x80 != 0 {
		return d.fail(VerdictEncap, layerWLAN, off+hl-2, reasonWLANAMSDU)
	}
	if framing&wlanPadded != 0 {
		hl = (hl + 3) &^ 3
	}
	// A fragment number other than 0 means no LLC header follows,
	// unless one does: Cisco's CAPWAP frames carry other values in the
	// sequence control field, and tshark decodes their bodies too.
	if le16(b[off+22:])&0x0f != 0 && !isSNAP(b, off+hl) {
		return d.fail(VerdictFragment, layerWLAN, off+22, reasonWLANFragment)
	}
	return d.llc(b, off+hl, end, depth, layerWLAN, seg)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// llc decodes an IEEE 802.2 LLC header with a SNAP extension (RFC 1042:
// DSAP and SSAP 0xaa, control 3, an OUI, then an EtherType). Other LLC
// frames (spanning tree, NetBIOS) are not IP.
func (d *Decoder) llc(b []byte, off, end, depth int, layer string, seg *Segment) Verdict {
	if off+8 > len(b) {
		return d.fail(VerdictTruncated, layerLLC, off, reasonCut)
	}
	if !isSNAP(b, off) {
		return d.fail(VerdictNotIP, layer, off, reasonLLC)
	}
	return d.etherType(b, off+8, end, be16(b[off+6:]), depth, layerLLC, seg)
}

// isSNAP reports whether an LLC/SNAP header starts at off: DSAP and SSAP
// 0xaa, control 3 and room for the OUI and EtherType.
func isSNAP(b []byte, off int) bool {
	return off+8 <= len(b) && b[off] == 0xaa && b[off+1] == 0xaa && b[off+2] == 0x03
}

// metaHeader steps over PPI's and PKTAP's metadata headers, each of which
// gives its own length and the link type of the frame behind it, and
// decodes that frame. PPI's length is little-endian at byte 2 and its DLT
// at byte 4; PKTAP's length is at byte 0 and its DLT at byte 4 (both in
// the host's order, little-endian on every Mac). Offsets in issues and the
// payload offset stay relative to the whole frame.
func (d *Decoder) metaHeader(lt LinkType, b []byte, end int, seg *Segment) Verdict {
	layer := layerPPI
	if lt == LinkPKTAP {
		layer = layerPKTAP
	}
	if len(b) < 8 {
		return d.fail(VerdictTruncated, layer, 0, reasonCut)
	}
	hl := int(le16(b[2:]))
	if lt == LinkPKTAP {
		hl = int(le32(b))
	}
	inner := LinkType(le32(b[4:]))
	if hl < 8 || hl > len(b) {
		return d.fail(VerdictTruncated, layer, 0, reasonCut)
	}
	switch inner {
	case LinkEthernet:
		return d.ethernet(b, hl, end, 0, seg)
	case LinkIEEE80211:
		return d.wlan(b, hl, end, 0, 0, seg)
	case LinkNull, LinkLoop:
		return d.loopback(b, hl, end, seg)
	case LinkRaw, LinkRawAlt12, LinkRawAlt14:
		return d.ip(b, hl, end, 0, seg)
	case LinkPPP:
		return d.pppLink(b, hl, end, seg)
	}
	return d.fail(VerdictLinkType, layer, 4, reasonInnerLink)
}

// String names a link type as libpcap does (LINKTYPE_ without the
// prefix) where rwin knows it, with its number, e.g. "USB_LINUX (189)".
func (l LinkType) String() string {
	if n, ok := linkNames[l]; ok {
		return fmt.Sprintf("%s (%d)", n, uint16(l))
	}
	return fmt.Sprintf("link type %d", uint16(l))
}

// linkNames are the LINKTYPE_ names of the link types rwin decodes and of
// common ones it does not (the ones that carry no IP, or only compressed).
var linkNames = map[LinkType]string{
	LinkNull: "NULL", LinkEthernet: "ETHERNET", LinkTokenRing: "IEEE802_5", LinkARCNetBSD: "ARCNET_BSD",
	LinkPPP: "PPP", LinkFDDI: "FDDI", LinkRawAlt12: "RAW", LinkRawAlt14: "RAW", LinkPPPHDLC: "PPP_HDLC",
	LinkPPPoE: "PPP_ETHER", LinkATMLLC: "ATM_RFC1483", LinkRaw: "RAW", LinkCiscoHDLC: "C_HDLC",
	LinkIEEE80211: "IEEE802_11", LinkLoop: "LOOP", LinkLinuxSLL: "LINUX_SLL", LinkPrism: "IEEE802_11_PRISM",
	LinkRadiotap: "IEEE802_11_RADIOTAP", LinkARCNetLinux: "ARCNET_LINUX", LinkAVS: "IEEE802_11_AVS",
	LinkPPI: "PPI", LinkPPPWithDir: "PPP_WITH_DIR", LinkCHDLCDir: "C_HDLC_WITH_DIR", LinkIPNet: "IPNET",
	LinkIPv4: "IPV4", LinkIPv6: "IPV6", LinkNFLog: "NFLOG", LinkNetAnalyzer: "NETANALYZER",
	LinkNetAnaTrans: "NETANALYZER_TRANSPARENT", LinkIPoIB: "IPOIB", LinkPKTAP: "PKTAP",
	LinkEtherMPkt: "ETHERNET_MPACKET", LinkLinuxSLL2: "LINUX_SLL2",
	8: "SLIP", 107: "FRELAY", 138: "APPLE_IP_OVER_IEEE1394", 139: "MTP2_WITH_PHDR",
	143: "DOCSIS", 147: "USER0", 187: "BLUETOOTH_HCI_H4", 189: "USB_LINUX", 195: "IEEE802_15_4_WITHFCS",
	197: "ERF", 201: "BLUETOOTH_HCI_H4_WITH_PHDR", 215: "IEEE802_15_4_NONASK_PHY", 220: "USB_LINUX_MMAPPED",
	230: "IEEE802_15_4_NOFCS", 249: "USBPCAP", 251: "BLUETOOTH_LE_LL", 253: "NETLINK", 254: "BLUETOOTH_LINUX_MONITOR",
	263: "IEEE802_15_4_TAP", 272: "NORDIC_BLE", 279: "ZBOSS_NCP",
}
