package capture

// Tunnels and shims between a link layer and IP: GRE and what it carries
// (ERSPAN mirrors, Aruba 802.11, PPTP's PPP), the UDP tunnels of cloud and
// mobile networks (VXLAN, GENEVE, GRE in UDP, GTP-U, L2TP, CAPWAP), PPPoE,
// PPP and MPLS. Each decoder takes the offset of its header and the end of
// the packet that encloses it, records itself in Segment.Encap and hands
// the payload on; every path back to IP passes through transport, whose
// depth bound keeps hostile nesting finite.

// Layer names of the tunnels and shims.
const (
	layerUDP    = "udp"
	layerGRE    = "gre"
	layerERSPAN = "erspan"
	layerVXLAN  = "vxlan"
	layerGENEVE = "geneve"
	layerGTPU   = "gtp-u"
	layerL2TP   = "l2tp"
	layerCAPWAP = "capwap"
	layerPPPoE  = "pppoe"
	layerPPP    = "ppp"
	layerMPLS   = "mpls"
)

// Reasons a tunnel or shim did not lead to TCP.
const (
	reasonUDPPort        = "udp port of no tunnel rwin decodes"
	reasonGREVersion     = "gre version neither 0 nor 1"
	reasonGRERouting     = "gre source routing (rfc 1701) not decoded"
	reasonGREProto       = "gre payload type not decoded"
	reasonERSPANVersion  = "erspan version not decoded"
	reasonERSPANFrame    = "erspan frame type neither ethernet nor ip"
	reasonGENEVEVersion  = "geneve version not 0"
	reasonGENEVEProto    = "geneve protocol type not ipv4, ipv6 or ethernet"
	reasonGTPVersion     = "gtp version not 1 (gtp' or gtpv2-c)"
	reasonGTPMessage     = "gtp message not a g-pdu (signalling)"
	reasonGTPExtLength   = "gtp extension header length 0"
	reasonL2TPVersion    = "l2tp version not 2"
	reasonL2TPControl    = "l2tp control message"
	reasonCAPWAPPreamble = "capwap dtls (encrypted) or unknown preamble"
	reasonCAPWAPBinding  = "capwap native frame not 802.11"
	reasonHeaderLength   = "header length field too small"
	reasonCAPWAPFragment = "capwap non-first fragment"
	reasonPPPoEVersion   = "pppoe version or type not 1"
	reasonPPPoECode      = "pppoe code not session data"
	reasonPPPProto       = "ppp protocol not ipv4 or ipv6 (link control)"
	reasonPPPCompressed  = "ppp compressed or encrypted (ccp, mppe)"
	reasonMPLSPayload    = "mpls payload not ipv4 or ipv6 (pseudowire)"
)

// Well-known UDP ports of the tunnels rwin follows. tshark decodes the
// same ports by default; a tunnel on another port stays UDP, as it does
// there.
const (
	portL2TP   = 1701 // RFC 2661
	portGTPU   = 2152 // 3GPP TS 29.281
	portGREUDP = 4754 // RFC 8086
	portVXLAN  = 4789 // RFC 7348
	portCAPWAP = 5247 // RFC 5415 data channel
	portGENEVE = 6081 // RFC 8926
)

// Protocol types carried in GRE beyond the EtherTypes of IP.
const (
	greProtoERSPAN2 = 0x88be // ERSPAN type I (no sequence number) or II
	greProtoERSPAN3 = 0x22eb // ERSPAN type III
	greProtoPPP     = 0x880b // PPP, in PPTP's enhanced GRE (RFC 2637)
	greProtoAruba   = 0x8200 // first of Aruba's 802.11 types (0x8200…0x8370 by 0x10, and 0x9000)
	greProtoAruba9  = 0x9000
)

// PPP protocol numbers (RFC 1661 §2, IANA "PPP DLL Protocol Numbers").
const (
	pppIPv4 = 0x0021
	pppIPv6 = 0x0057
	pppMPLS = 0x0281
	pppCCP  = 0x00fd // compressed datagram (and MPPE, RFC 3078)
	pppCCPL = 0x00fb // compressed datagram on a single link
)

const (
	udpHeaderLen     = 8
	greBaseHeaderLen = 4 // flags and version, protocol type
)

// udp follows a UDP datagram (RFC 768) at off into the tunnel its port
// names. The lower port is tried first, as tshark does: the tunnel's
// well-known port is the low one, the other a hash of the inner flow.
func (d *Decoder) udp(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off+udpHeaderLen > len(b) {
		return d.fail(VerdictTruncated, layerUDP, off, reasonCut)
	}
	if l := int(be16(b[off+4:])); l >= udpHeaderLen { // 0 in IPv6 jumbograms
		end = min(off+l, end)
	}
	if off+udpHeaderLen > end {
		return d.fail(VerdictMalformed, layerUDP, off, reasonPastLength)
	}
	lo, hi := be16(b[off:]), be16(b[off+2:])
	if hi < lo {
		lo, hi = hi, lo
	}
	p := off + udpHeaderLen
	for _, port := range [2]uint16{lo, hi} {
		switch port {
		case portVXLAN:
			// RFC 7348 §5: flags, reserved, VNI, reserved; then Ethernet.
			if p+8 > len(b) {
				return d.fail(VerdictTruncated, layerVXLAN, p, reasonCut)
			}
			seg.Encap |= EncapVXLAN
			return d.ethernet(b, p+8, end, depth, seg)
		case portGENEVE:
			return d.geneve(b, p, end, depth, seg)
		case portGREUDP:
			seg.Encap |= EncapGREUDP
			return d.gre(b, p, end, depth, seg)
		case portGTPU:
			return d.gtpu(b, p, end, depth, seg)
		case portL2TP:
			return d.l2tp(b, p, end, depth, seg)
		case portCAPWAP:
			return d.capwap(b, p, end, depth, seg)
		}
	}
	return d.fail(VerdictNotTCP, layerUDP, off, reasonUDPPort)
}

// geneve decodes a GENEVE header (RFC 8926 §3.4): 8 bytes plus options
// whose length is in 4-byte units, then the protocol type's payload.
func (d *Decoder) geneve(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off+8 > len(b) {
		return d.fail(VerdictTruncated, layerGENEVE, off, reasonCut)
	}
	if b[off]>>6 != 0 {
		return d.fail(VerdictEncap, layerGENEVE, off, reasonGENEVEVersion)
	}
	hl := 8 + int(b[off]&0x3f)*4
	if v, ok := d.span(layerGENEVE, off, hl, len(b), end); !ok {
		return v
	}
	seg.Encap |= EncapGENEVE
	switch be16(b[off+2:]) {
	case etherTypeTEB:
		return d.ethernet(b, off+hl, end, depth, seg)
	case etherTypeIPv4:
		return d.ipv4(b, off+hl, end, depth, seg)
	case etherTypeIPv6:
		return d.ipv6(b, off+hl, end, depth, seg)
	}
	return d.fail(VerdictEncap, layerGENEVE, off+2, reasonGENEVEProto)
}

// span checks that a header of hl bytes at off fits the enclosing packet
// (else malformed) and the captured bytes (else truncated).
func (d *Decoder) span(layer string, off, hl, captured, end int) (Verdict, bool) {
	if off+hl > end {
		return d.fail(VerdictMalformed, layer, off, reasonPastLength), false
	}
	if off+hl > captured {
		return d.fail(VerdictTruncated, layer, off, reasonCut), false
	}
	return VerdictTCP, true
}

// gre decodes a GRE header at off: RFC 2784 with RFC 2890's key and
// sequence number, and version 1, PPTP's enhanced GRE (RFC 2637 §4.1),
// which adds an acknowledgment number and carries PPP.
func (d *Decoder) gre(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off+greBaseHeaderLen > len(b) {
		return d.fail(VerdictTruncated, layerGRE, off, reasonCut)
	}
	flags := be16(b[off:])
	if ver := flags & 0x0007; ver > 1 {
		return d.fail(VerdictEncap, layerGRE, off, reasonGREVersion)
	}
	if flags&0x4000 != 0 {
		return d.fail(VerdictEncap, layerGRE, off, reasonGRERouting)
	}
	hl := greBaseHeaderLen
	for _, bit := range [...]uint16{0x8000, 0x2000, 0x1000, 0x0080} { // checksum, key, sequence, acknowledgment (v1)
		if flags&bit != 0 {
			hl += 4
		}
	}
	if v, ok := d.span(layerGRE, off, hl, len(b), end); !ok {
		return v
	}
	p := off + hl
	switch proto := be16(b[off+2:]); {
	case proto == etherTypeIPv4:
		return d.ipv4(b, p, end, depth, seg)
	case proto == etherTypeIPv6:
		return d.ipv6(b, p, end, depth, seg)
	case proto == etherTypeTEB:
		return d.ethernet(b, p, end, depth, seg)
	case proto == etherTypeMPLS, proto == etherTypeMPLSMC:
		return d.mpls(b, p, end, depth, seg)
	case proto == greProtoPPP:
		return d.ppp(b, p, end, depth, layerGRE, seg)
	case proto == greProtoERSPAN2:
		if flags&0x1000 == 0 {
			// Type I has no ERSPAN header, and no GRE sequence
			// number, which is how tshark tells it from type II.
			seg.Encap |= EncapERSPAN
			return d.ethernet(b, p, end, depth, seg)
		}
		return d.erspan(b, p, end, depth, 2, seg)
	case proto == greProtoERSPAN3:
		return d.erspan(b, p, end, depth, 3, seg)
	case proto == greProtoAruba9, proto >= greProtoAruba && proto <= greProtoAruba+0x170 && proto&0xf == 0:
		// Aruba access points tunnel their clients' 802.11 frames to
		// the controller with these types.
		seg.Encap |= EncapWLAN
		return d.wlan(b, p, end, depth, 0, seg)
	}
	return d.fail(VerdictEncap, layerGRE, off+2, reasonGREProto)
}

// erspan decodes the ERSPAN type II header (8 bytes, version 1) or type
// III header (12 bytes, version 2, plus an 8-byte platform sub-header when
// its O bit is set) in front of a mirrored frame.
func (d *Decoder) erspan(b []byte, off, end, depth, typ int, seg *Segment) Verdict {
	hl := 8
	if typ == 3 {
		hl = 12
	}
	if off+hl > len(b) {
		return d.fail(VerdictTruncated, layerERSPAN, off, reasonCut)
	}
	ver := b[off] >> 4
	if ver != uint8(typ-1) {
		return d.fail(VerdictEncap, layerERSPAN, off, reasonERSPANVersion)
	}
	frameType := uint8(0) // Ethernet
	if typ == 3 {
		// Word 3: SGT (16), P, FT (5), hardware ID (6), D, Gra (2), O.
		frameType = b[off+10] >> 2 & 0x1f
		if b[off+11]&1 != 0 {
			hl += 8
		}
	}
	if v, ok := d.span(layerERSPAN, off, hl, len(b), end); !ok {
		return v
	}
	seg.Encap |= EncapERSPAN
	switch frameType {
	case 0:
		return d.ethernet(b, off+hl, end, depth, seg)
	case 2:
		return d.ip(b, off+hl, end, depth, seg)
	}
	return d.fail(VerdictEncap, layerERSPAN, off+10, reasonERSPANFrame)
}

// gtpu decodes a GTPv1-U header (3GPP TS 29.281 §5.1): 8 bytes, 4 more
// when any of the E, S or PN flags is set, then a chain of extension
// headers whose length is in 4-byte units and whose last byte names the
// next. Only G-PDUs (message type 255) carry user IP packets.
func (d *Decoder) gtpu(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off+8 > len(b) {
		return d.fail(VerdictTruncated, layerGTPU, off, reasonCut)
	}
	flags := b[off]
	if flags>>5 != 1 || flags&0x10 == 0 {
		return d.fail(VerdictEncap, layerGTPU, off, reasonGTPVersion)
	}
	if b[off+1] != 0xff {
		return d.fail(VerdictNotTCP, layerGTPU, off+1, reasonGTPMessage)
	}
	// The length field counts the bytes after the mandatory 8.
	end = min(off+8+int(be16(b[off+2:])), end)
	p := off + 8
	if flags&0x07 != 0 {
		if v, ok := d.span(layerGTPU, p, 4, len(b), end); !ok {
			return v
		}
		next := b[p+3]
		p += 4
		for flags&0x04 != 0 && next != 0 {
			if p >= len(b) {
				return d.fail(VerdictTruncated, layerGTPU, p, reasonExtCut)
			}
			l := int(b[p]) * 4
			if l == 0 {
				return d.fail(VerdictMalformed, layerGTPU, p, reasonGTPExtLength)
			}
			if v, ok := d.span(layerGTPU, p, l, len(b), end); !ok {
				return v
			}
			next = b[p+l-1]
			p += l
		}
	}
	seg.Encap |= EncapGTPU
	return d.ip(b, p, end, depth, seg)
}

// l2tp decodes an L2TPv2 data message header (RFC 2661 §3.1), whose
// optional length, sequence and offset fields the flags announce, then the
// PPP frame it carries.
func (d *Decoder) l2tp(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off+6 > len(b) {
		return d.fail(VerdictTruncated, layerL2TP, off, reasonCut)
	}
	flags := be16(b[off:])
	if flags&0x000f != 2 {
		return d.fail(VerdictEncap, layerL2TP, off, reasonL2TPVersion)
	}
	if flags&0x8000 != 0 {
		return d.fail(VerdictNotTCP, layerL2TP, off, reasonL2TPControl)
	}
	p := off + 2
	if flags&0x4000 != 0 { // length
		p += 2
	}
	p += 4                 // tunnel and session IDs
	if flags&0x0800 != 0 { // Ns, Nr
		p += 4
	}
	if flags&0x0200 != 0 { // offset size, then that much padding
		if p+2 > len(b) {
			return d.fail(VerdictTruncated, layerL2TP, p, reasonCut)
		}
		p += 2 + int(be16(b[p:]))
	}
	if v, ok := d.span(layerL2TP, off, p-off, len(b), end); !ok {
		return v
	}
	seg.Encap |= EncapL2TP
	return d.ppp(b, p, end, depth, layerL2TP, seg)
}

// capwap decodes a CAPWAP data channel header (RFC 5415 §4.3): a preamble
// byte, then HLEN (in 4-byte words), RID, WBID and the T and F flags. With
// T set the payload is the binding's native frame (802.11 for WBID 1),
// otherwise an 802.3 frame.
func (d *Decoder) capwap(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off+8 > len(b) {
		return d.fail(VerdictTruncated, layerCAPWAP, off, reasonCut)
	}
	if b[off] != 0 { // version 0, type 0; type 1 is a DTLS record
		return d.fail(VerdictEncap, layerCAPWAP, off, reasonCAPWAPPreamble)
	}
	w := be32(b[off:])
	hl := int(w>>19&0x1f) * 4
	if hl < 8 {
		return d.fail(VerdictMalformed, layerCAPWAP, off+1, reasonHeaderLength)
	}
	if v, ok := d.span(layerCAPWAP, off, hl, len(b), end); !ok {
		return v
	}
	if w&0x80 != 0 && be16(b[off+6:])>>3 != 0 {
		return d.fail(VerdictFragment, layerCAPWAP, off+6, reasonCAPWAPFragment)
	}
	seg.Encap |= EncapCAPWAP
	if w&0x100 == 0 {
		return d.ethernet(b, off+hl, end, depth, seg)
	}
	if w>>9&0x1f != 1 {
		return d.fail(VerdictEncap, layerCAPWAP, off+2, reasonCAPWAPBinding)
	}
	seg.Encap |= EncapWLAN
	// Cisco access points send the 802.11 frame control bytes swapped
	// (tshark's CAPWAP "swap frame control" preference, on by default).
	return d.wlan(b, off+hl, end, depth, wlanSwapped, seg)
}

// pppoe decodes a PPPoE session header (RFC 2516 §4): version and type
// (1, 1), code 0, session ID and the length of the PPP frame that follows.
func (d *Decoder) pppoe(b []byte, off, end, depth int, seg *Segment) Verdict {
	if off+6 > len(b) {
		return d.fail(VerdictTruncated, layerPPPoE, off, reasonCut)
	}
	if b[off] != 0x11 {
		return d.fail(VerdictEncap, layerPPPoE, off, reasonPPPoEVersion)
	}
	if b[off+1] != 0 {
		return d.fail(VerdictNotIP, layerPPPoE, off+1, reasonPPPoECode)
	}
	end = min(off+6+int(be16(b[off+4:])), end)
	seg.Encap |= EncapPPPoE
	return d.ppp(b, off+6, end, depth, layerPPPoE, seg)
}

// ppp decodes a PPP frame at off: the HDLC address and control bytes
// (0xff 0x03) when present, then a protocol field of two bytes, or one
// when protocol-field compression left it odd (RFC 1661 §6.5). layer names
// what carried it.
func (d *Decoder) ppp(b []byte, off, end, depth int, layer string, seg *Segment) Verdict {
	if off+2 > len(b) {
		return d.fail(VerdictTruncated, layerPPP, off, reasonCut)
	}
	if b[off] == 0xff && b[off+1] == 0x03 {
		// 0xff cannot begin a protocol field (its low bit is set,
		// which marks the last byte), so this is always framing.
		off += 2
		if off+1 > len(b) {
			return d.fail(VerdictTruncated, layerPPP, off, reasonCut)
		}
	}
	proto, p := uint16(b[off]), off+1
	if proto&1 == 0 {
		if off+2 > len(b) {
			return d.fail(VerdictTruncated, layerPPP, off, reasonCut)
		}
		proto, p = be16(b[off:]), off+2
	}
	switch proto {
	case pppIPv4:
		return d.ipv4(b, p, end, depth, seg)
	case pppIPv6:
		return d.ipv6(b, p, end, depth, seg)
	case pppMPLS:
		return d.mpls(b, p, end, depth, seg)
	case pppCCP, pppCCPL:
		return d.fail(VerdictEncap, layerPPP, off, reasonPPPCompressed)
	}
	return d.fail(VerdictNotIP, layerPPP, off, reasonPPPProto)
}

// mpls steps over an MPLS label stack (RFC 3032 §2.1: 4 bytes an entry,
// the bottom one marked by its S bit) to the IP packet under it, whose
// version nibble says which. Anything else is a pseudowire (RFC 4385's
// control word starts with 0), which rwin does not decode.
func (d *Decoder) mpls(b []byte, off, end, depth int, seg *Segment) Verdict {
	seg.Encap |= EncapMPLS
	for {
		if off+4 > len(b) {
			return d.fail(VerdictTruncated, layerMPLS, off, reasonCut)
		}
		off += 4
		if b[off-2]&1 != 0 {
			break
		}
	}
	if off < len(b) && b[off]>>4 != 4 && b[off]>>4 != 6 {
		return d.fail(VerdictEncap, layerMPLS, off, reasonMPLSPayload)
	}
	return d.ip(b, off, end, depth, seg)
}
