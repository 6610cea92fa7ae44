package capture

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
)

// udp is a UDP header from src to dst in front of payload (checksum 0,
// which UDP over IPv4 allows).
func udp(src, dst uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, src)
	b = binary.BigEndian.AppendUint16(b, dst)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	return append(append(b, 0, 0), payload...)
}

// overUDP wraps payload in Ethernet, IPv4 and UDP to port dst.
func overUDP(t testing.TB, dst uint16, payload []byte) []byte {
	return eth(t, layers.EthernetTypeIPv4, tunnel4(t, layers.IPProtocolUDP, udp(50123, dst, payload)))
}

// mplsLabel is one label stack entry (label 29, TTL 64).
func mplsLabel(bottom bool) []byte {
	b := []byte{0x00, 0x01, 0xd0, 64}
	if bottom {
		b[2] |= 1
	}
	return b
}

// wlanData is an 802.11 data frame header to the distribution system:
// QoS adds the QoS control field (a = A-MSDU bit); flags are frame
// control's second byte.
func wlanData(qos bool, flags byte) []byte {
	fc := byte(0x08)
	if qos {
		fc = 0x88
	}
	h := cat([]byte{fc, flags, 0, 0}, testMACDst, testMACSrc, testMACDst, []byte{0x10, 0x00})
	if qos {
		h = append(h, 0, 0)
	}
	return h
}

var snapIPv4 = []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}

// encapCases are the tunnels, shims and link types of tunnel.go and
// link.go, built by hand after the RFCs and vendor documents each decoder
// cites.
func encapCases(t testing.TB) []decodeCase {
	v4ack := ip4(t, layers.IPProtocolTCP, tcpSeg(t, ackTCP(), 0))
	v6ack := ip6(t, layers.IPProtocolTCP, tcpSeg(t, ackTCP(), 0))
	ethV4Ack := eth(t, layers.EthernetTypeIPv4, v4ack)
	vxlanHdr := []byte{0x08, 0, 0, 0, 0, 0x12, 0x34, 0}
	geneveOpt := cat([]byte{0x02, 0x00, 0x65, 0x58, 0, 0, 0x2a, 0}, []byte{0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef})
	gtpHdr := func(flags, msg byte, rest []byte) []byte {
		b := []byte{flags, msg}
		b = binary.BigEndian.AppendUint16(b, uint16(len(rest)))
		return cat(b, []byte{0, 0, 0, 1}, rest)
	}
	// Sequence number, N-PDU, next extension 0x85 (PDU session container),
	// then that 4-byte extension, which ends the chain.
	gtpExt := cat([]byte{0, 7, 0, 0x85}, []byte{1, 0x10, 0x09, 0})
	ppp4 := cat([]byte{0xff, 0x03, 0x00, 0x21}, v4ack)
	pppoe := func(code byte, ppp []byte) []byte {
		b := []byte{0x11, code, 0x00, 0x2a}
		return cat(binary.BigEndian.AppendUint16(b, uint16(len(ppp))), ppp)
	}
	capwap := func(t byte, payload []byte) []byte { // HLEN 2 words, WBID 1
		return cat([]byte{0x00, 0x10, 0x02 | t, 0x00, 0, 0, 0, 0}, payload)
	}
	swapped := wlanData(true, 0x01)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	erspan2 := []byte{0x10, 0x32, 0x00, 0x01, 0, 0, 0, 0}
	erspan3 := func(ft, o byte) []byte {
		return []byte{0x20, 0x32, 0x00, 0x01, 0, 0, 0, 0, 0, 0, ft << 2, o}
	}
	radiotap := cat([]byte{0, 0, 24, 0, 0x03, 0, 0, 0}, make([]byte, 8), []byte{0x20}, make([]byte, 7))
	prism := cat([]byte{0x44, 0, 0, 0, 144, 0, 0, 0}, make([]byte, 136))
	avs := cat([]byte{0x80, 0x21, 0x10, 0x01, 0, 0, 0, 64}, make([]byte, 56))
	ppi := func(dlt byte) []byte { return []byte{0, 0, 8, 0, dlt, 0, 0, 0} }
	pktap := cat([]byte{108, 0, 0, 0, 1, 0, 0, 0}, make([]byte, 100))
	arcnet1201 := []byte{0x01, 0x02, 0, 0, arcIP1201, 0x00, 0x00, 0x05}
	tokenRing := cat([]byte{0x10, 0x40}, testMACDst, []byte{0x82, 0, 0, 0, 0, 1}, []byte{0x02, 0x30})

	want4 := func(e Encap) segView { return encapped(wantV4Ack, e) }
	return []decodeCase{
		// UDP tunnels.
		{name: "vxlan carrying ethernet", link: LinkEthernet, frame: overUDP(t, portVXLAN, cat(vxlanHdr, ethV4Ack)), want: want4(EncapVXLAN)},
		{name: "vxlan header cut by snaplen", link: LinkEthernet, frame: overUDP(t, portVXLAN, cat(vxlanHdr, ethV4Ack)), snap: 14 + 20 + 8 + 4, verdict: VerdictTruncated, issue: DecodeIssue{layerVXLAN, 42, reasonCut}},
		{name: "geneve with an option carrying ethernet", link: LinkEthernet, frame: overUDP(t, portGENEVE, cat(geneveOpt, ethV4Ack)), want: want4(EncapGENEVE)},
		{name: "geneve carrying ipv6 without ethernet", link: LinkEthernet, frame: overUDP(t, portGENEVE, cat([]byte{0, 0, 0x86, 0xdd, 0, 0, 1, 0}, v6ack)), want: encapped(wantV6Ack, EncapGENEVE)},
		{name: "geneve version 1", link: LinkEthernet, frame: overUDP(t, portGENEVE, cat(patch(geneveOpt, 0, 0x42), ethV4Ack)), verdict: VerdictEncap, issue: DecodeIssue{layerGENEVE, 42, reasonGENEVEVersion}},
		{name: "geneve options cut by snaplen", link: LinkEthernet, frame: overUDP(t, portGENEVE, cat(geneveOpt, ethV4Ack)), snap: 42 + 12, verdict: VerdictTruncated, issue: DecodeIssue{layerGENEVE, 42, reasonCut}},
		{name: "geneve carrying ipx", link: LinkEthernet, frame: overUDP(t, portGENEVE, cat([]byte{0, 0, 0x81, 0x37, 0, 0, 1, 0}, make([]byte, 30))), verdict: VerdictEncap, issue: DecodeIssue{layerGENEVE, 44, reasonGENEVEProto}},
		{name: "gre in udp carrying ipv4", link: LinkEthernet, frame: overUDP(t, portGREUDP, cat([]byte{0, 0, 0x08, 0x00}, v4ack)), want: want4(EncapGREUDP)},
		{name: "gtp-u g-pdu with a pdu session extension", link: LinkEthernet, frame: overUDP(t, portGTPU, gtpHdr(0x36, 0xff, cat(gtpExt, v4ack))), want: want4(EncapGTPU)},
		{name: "gtp-u g-pdu carrying ipv6", link: LinkEthernet, frame: overUDP(t, portGTPU, gtpHdr(0x30, 0xff, v6ack)), want: encapped(wantV6Ack, EncapGTPU)},
		{name: "gtp-u echo request", link: LinkEthernet, frame: overUDP(t, portGTPU, gtpHdr(0x32, 0x01, []byte{0, 1, 0, 0})), verdict: VerdictNotTCP, issue: DecodeIssue{layerGTPU, 43, reasonGTPMessage}},
		{name: "gtp-u extension header length 0", link: LinkEthernet, frame: overUDP(t, portGTPU, gtpHdr(0x34, 0xff, cat([]byte{0, 0, 0, 0x85}, []byte{0, 0, 0, 0}, v4ack))), verdict: VerdictMalformed, issue: DecodeIssue{layerGTPU, 54, reasonGTPExtLength}},
		{name: "gtp prime", link: LinkEthernet, frame: overUDP(t, portGTPU, gtpHdr(0x0e, 0xff, cat([]byte{0, 0, 0, 0}, v4ack))), verdict: VerdictEncap, issue: DecodeIssue{layerGTPU, 42, reasonGTPVersion}},
		{name: "l2tp data with length field carrying ppp", link: LinkEthernet, frame: overUDP(t, portL2TP, cat([]byte{0x40, 0x02, 0, 0, 0, 1, 0, 2}, ppp4)), want: want4(EncapL2TP)},
		{name: "l2tp control message", link: LinkEthernet, frame: overUDP(t, portL2TP, []byte{0xc8, 0x02, 0, 12, 0, 1, 0, 2, 0, 0, 0, 0}), verdict: VerdictNotTCP, issue: DecodeIssue{layerL2TP, 42, reasonL2TPControl}},
		{name: "capwap 802.11 with cisco's swapped frame control", link: LinkEthernet, frame: overUDP(t, portCAPWAP, capwap(1, cat(swapped, snapIPv4, v4ack))), want: want4(EncapCAPWAP | EncapWLAN)},
		{name: "capwap 802.3 frame", link: LinkEthernet, frame: overUDP(t, portCAPWAP, capwap(0, ethV4Ack)), want: want4(EncapCAPWAP)},
		{name: "capwap dtls record", link: LinkEthernet, frame: overUDP(t, portCAPWAP, cat([]byte{0x01, 0, 0, 0}, make([]byte, 40))), verdict: VerdictEncap, issue: DecodeIssue{layerCAPWAP, 42, reasonCAPWAPPreamble}},
		{name: "capwap non-first fragment", link: LinkEthernet, frame: overUDP(t, portCAPWAP, cat([]byte{0x00, 0x10, 0x03, 0x80, 0, 1, 0, 0x40}, make([]byte, 40))), verdict: VerdictFragment, issue: DecodeIssue{layerCAPWAP, 48, reasonCAPWAPFragment}},

		// GRE payloads.
		{name: "erspan type ii mirror", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0x10, 0, 0x88, 0xbe, 0, 0, 0, 1}, erspan2, ethV4Ack)), want: want4(EncapGRE | EncapERSPAN)},
		{name: "erspan type i mirror without a sequence number", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0, 0, 0x88, 0xbe}, ethV4Ack)), want: want4(EncapGRE | EncapERSPAN)},
		{name: "erspan type iii with platform sub-header", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0x10, 0, 0x22, 0xeb, 0, 0, 0, 1}, erspan3(0, 1), make([]byte, 8), ethV4Ack)), want: want4(EncapGRE | EncapERSPAN)},
		{name: "erspan type iii carrying ip", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0x10, 0, 0x22, 0xeb, 0, 0, 0, 1}, erspan3(2, 0), v4ack)), want: want4(EncapGRE | EncapERSPAN)},
		{name: "erspan type ii header with version 3", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0x10, 0, 0x88, 0xbe, 0, 0, 0, 1}, patch(erspan2, 0, 0x30), ethV4Ack)), verdict: VerdictEncap, issue: DecodeIssue{layerERSPAN, 28, reasonERSPANVersion}},
		{name: "aruba gre carrying 802.11", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0, 0, 0x82, 0x10}, wlanData(false, 0x01), snapIPv4, v4ack)), want: want4(EncapGRE | EncapWLAN)},
		{name: "gre carrying mpls", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0, 0, 0x88, 0x47}, mplsLabel(true), v4ack)), want: want4(EncapGRE | EncapMPLS)},
		{name: "gre with source routing", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0x40, 0, 0x08, 0x00}, v4ack)), verdict: VerdictEncap, issue: DecodeIssue{layerGRE, 20, reasonGRERouting}},
		{name: "pptp enhanced gre carrying ipv4 in ppp", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0x30, 0x81, 0x88, 0x0b, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1}, ppp4)), want: want4(EncapGRE)},
		{name: "pptp ppp compressed by mppe", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0x20, 0x01, 0x88, 0x0b, 0, 8, 0, 0}, []byte{0xfd, 0x90, 0, 0})), verdict: VerdictEncap, issue: DecodeIssue{layerPPP, 28, reasonPPPCompressed}},
		{name: "mpls in ip", link: LinkRaw, frame: tunnel4(t, 137, cat(mplsLabel(true), v4ack)), want: want4(EncapMPLS)},

		// Shims after an EtherType.
		{name: "pppoe session with two-byte ppp protocol", link: LinkEthernet, frame: eth(t, 0x8864, pppoe(0, cat([]byte{0x00, 0x21}, v4ack))), want: want4(EncapPPPoE)},
		{name: "pppoe session with compressed one-byte protocol", link: LinkEthernet, frame: eth(t, 0x8864, pppoe(0, cat([]byte{0x21}, v4ack))), want: want4(EncapPPPoE)},
		{name: "pppoe in qinq", link: LinkEthernet, frame: eth(t, layers.EthernetTypeQinQ, cat(vlanTag(0x8100), vlanTag(0x8864), pppoe(0, cat([]byte{0x00, 0x57}, v6ack)))), want: encapped(wantV6Ack, EncapVLAN|EncapPPPoE)},
		{name: "pppoe session carrying lcp", link: LinkEthernet, frame: eth(t, 0x8864, pppoe(0, []byte{0xc0, 0x21, 1, 1, 0, 4})), verdict: VerdictNotIP, issue: DecodeIssue{layerPPP, 20, reasonPPPProto}},
		{name: "pppoe code not session data", link: LinkEthernet, frame: eth(t, 0x8864, pppoe(0x09, []byte{0, 0})), verdict: VerdictNotIP, issue: DecodeIssue{layerPPPoE, 15, reasonPPPoECode}},
		{name: "pppoe header cut by snaplen", link: LinkEthernet, frame: eth(t, 0x8864, pppoe(0, cat([]byte{0x00, 0x21}, v4ack))), snap: 17, verdict: VerdictTruncated, issue: DecodeIssue{layerPPPoE, 14, reasonCut}},
		{name: "mpls two labels then ipv4", link: LinkEthernet, frame: eth(t, 0x8847, cat(mplsLabel(false), mplsLabel(true), v4ack)), want: want4(EncapMPLS)},
		{name: "mpls pseudowire with a control word", link: LinkEthernet, frame: eth(t, 0x8847, cat(mplsLabel(true), []byte{0, 0, 0, 0}, ethV4Ack)), verdict: VerdictEncap, issue: DecodeIssue{layerMPLS, 18, reasonMPLSPayload}},
		{name: "mpls label stack without bottom cut by snaplen", link: LinkEthernet, frame: eth(t, 0x8847, cat(mplsLabel(false), mplsLabel(false))), snap: 22, verdict: VerdictTruncated, issue: DecodeIssue{layerMPLS, 22, reasonCut}},

		// Link types.
		{name: "ppp link with hdlc address and control", link: LinkPPP, frame: ppp4, want: wantV4Ack},
		{name: "ppp link holding cisco hdlc frames", link: LinkPPP, frame: cat([]byte{0x0f, 0x00, 0x08, 0x00}, v4ack), want: wantV4Ack},
		{name: "ppp link carrying lcp", link: LinkPPP, frame: []byte{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4}, verdict: VerdictNotIP, issue: DecodeIssue{layerPPP, 2, reasonPPPProto}},
		{name: "ppp in hdlc framing with ipv6", link: LinkPPPHDLC, frame: cat([]byte{0xff, 0x03, 0x00, 0x57}, v6ack), want: wantV6Ack},
		{name: "ppp with direction byte", link: LinkPPPWithDir, frame: cat([]byte{0x01}, ppp4), want: wantV4Ack},
		{name: "pppoe link type", link: LinkPPPoE, frame: pppoe(0, cat([]byte{0x00, 0x21}, v4ack)), want: want4(EncapPPPoE)},
		{name: "cisco hdlc ipv6", link: LinkCiscoHDLC, frame: cat([]byte{0x0f, 0x00, 0x86, 0xdd}, v6ack), want: wantV6Ack},
		{name: "cisco hdlc slarp", link: LinkCiscoHDLC, frame: cat([]byte{0x8f, 0x00, 0x80, 0x35}, make([]byte, 20)), verdict: VerdictNotIP, issue: DecodeIssue{layerCHDLC, 4, reasonEtherType}},
		{name: "cisco hdlc with direction byte", link: LinkCHDLCDir, frame: cat([]byte{0x00, 0x0f, 0x00, 0x08, 0x00}, v4ack), want: wantV4Ack},
		{name: "802.11 data frame", link: LinkIEEE80211, frame: cat(wlanData(false, 0x02), snapIPv4, v4ack), want: wantV4Ack},
		{name: "802.11 wds frame with four addresses", link: LinkIEEE80211, frame: cat(wlanData(false, 0x03), testMACSrc, snapIPv4, v4ack), want: wantV4Ack},
		{name: "802.11 protected frame", link: LinkIEEE80211, frame: cat(wlanData(false, 0x41), make([]byte, 40)), verdict: VerdictEncap, issue: DecodeIssue{layerWLAN, 1, reasonWLANProtected}},
		{name: "802.11 beacon", link: LinkIEEE80211, frame: cat([]byte{0x80, 0}, make([]byte, 40)), verdict: VerdictNotIP, issue: DecodeIssue{layerWLAN, 0, reasonWLANNotData}},
		{name: "802.11 null data frame", link: LinkIEEE80211, frame: cat([]byte{0x48, 0x01}, make([]byte, 22)), verdict: VerdictNotIP, issue: DecodeIssue{layerWLAN, 0, reasonWLANNotData}},
		{name: "802.11 non-first fragment", link: LinkIEEE80211, frame: cat(patch(wlanData(false, 0x01), 22, 0x11), make([]byte, 40)), verdict: VerdictFragment, issue: DecodeIssue{layerWLAN, 22, reasonWLANFragment}},
		{name: "802.11 a-msdu", link: LinkIEEE80211, frame: cat(patch(wlanData(true, 0x01), 24, 0x80), make([]byte, 40)), verdict: VerdictEncap, issue: DecodeIssue{layerWLAN, 24, reasonWLANAMSDU}},
		{name: "802.11 llc without snap", link: LinkIEEE80211, frame: cat(wlanData(false, 0x01), []byte{0x42, 0x42, 0x03}, make([]byte, 40)), verdict: VerdictNotIP, issue: DecodeIssue{layerWLAN, 24, reasonLLC}},
		{name: "radiotap with tsft and the data pad flag", link: LinkRadiotap, frame: cat(radiotap, wlanData(true, 0x01), []byte{0, 0}, snapIPv4, v4ack), want: wantV4Ack},
		{name: "radiotap version 1", link: LinkRadiotap, frame: cat(patch(radiotap, 0, 1), wlanData(false, 0x01), snapIPv4, v4ack), verdict: VerdictMalformed, issue: DecodeIssue{layerRadiotap, 0, reasonRadiotapVer}},
		{name: "radiotap length beyond the frame", link: LinkRadiotap, frame: patch(radiotap, 2, 0xff), verdict: VerdictTruncated, issue: DecodeIssue{layerRadiotap, 2, reasonCut}},
		{name: "prism monitor header", link: LinkPrism, frame: cat(prism, wlanData(false, 0x01), snapIPv4, v4ack), want: wantV4Ack},
		{name: "avs monitor header", link: LinkAVS, frame: cat(avs, wlanData(false, 0x01), snapIPv4, v4ack), want: wantV4Ack},
		{name: "ppi carrying 802.11", link: LinkPPI, frame: cat(ppi(105), wlanData(false, 0x01), snapIPv4, v4ack), want: wantV4Ack},
		{name: "ppi carrying ethernet", link: LinkPPI, frame: cat(ppi(1), ethV4Ack), want: wantV4Ack},
		{name: "ppi carrying usb", link: LinkPPI, frame: cat(ppi(189), ethV4Ack), verdict: VerdictLinkType, issue: DecodeIssue{layerPPI, 4, reasonInnerLink}},
		{name: "pktap carrying ethernet", link: LinkPKTAP, frame: cat(pktap, ethV4Ack), want: wantV4Ack},
		{name: "arcnet linux rfc 1051", link: LinkARCNetLinux, frame: cat([]byte{0xbe, 0x50, 0xc3, 0x00, arcIP1051}, v4ack), want: wantV4Ack},
		{name: "arcnet linux rfc 1201", link: LinkARCNetLinux, frame: cat(arcnet1201, v4ack), want: wantV4Ack},
		{name: "arcnet bsd rfc 1201 exception packet", link: LinkARCNetBSD, frame: cat([]byte{0x01, 0x02, arcIP1201, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x05}, v4ack), want: wantV4Ack},
		{name: "arcnet arp", link: LinkARCNetBSD, frame: []byte{0x01, 0x02, 0xd5, 0, 0, 0}, verdict: VerdictNotIP, issue: DecodeIssue{layerARCNet, 2, reasonARCNetProto}},
		{name: "ip over infiniband", link: LinkIPoIB, frame: cat([]byte{0x08, 0x00, 0, 0}, v4ack), want: wantV4Ack},
		{name: "ip over infiniband arp", link: LinkIPoIB, frame: cat([]byte{0x08, 0x06, 0, 0}, make([]byte, 28)), verdict: VerdictNotIP, issue: DecodeIssue{layerIPoIB, 4, reasonEtherType}},
		{name: "solaris ipnet ipv6", link: LinkIPNet, frame: cat([]byte{2, 26}, make([]byte, 22), v6ack), want: wantV6Ack},
		{name: "netanalyzer", link: LinkNetAnalyzer, frame: cat(make([]byte, 4), ethV4Ack), want: wantV4Ack},
		{name: "netanalyzer transparent", link: LinkNetAnaTrans, frame: cat(make([]byte, 4), bytes.Repeat([]byte{0x55}, 7), []byte{0xd5}, ethV4Ack), want: wantV4Ack},
		{name: "fddi with snap", link: LinkFDDI, frame: cat([]byte{0x50}, testMACDst, testMACSrc, snapIPv4, v4ack), want: wantV4Ack},
		{name: "token ring with source routing", link: LinkTokenRing, frame: cat(tokenRing, snapIPv4, v4ack), want: wantV4Ack},
		{name: "atm rfc 1483 llc/snap", link: LinkATMLLC, frame: cat(snapIPv4, v4ack), want: wantV4Ack},
	}
}

func TestLinkTypeNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		link LinkType
		want string
	}{
		{"decoded link type", LinkIPoIB, "IPOIB (242)"},
		{"known link type rwin does not decode", 189, "USB_LINUX (189)"},
		{"unknown number", 4242, "link type 4242"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.link.String()) })
	}
}

func TestEncapNames(t *testing.T) {
	assert.Equal(t, "none", Encap(0).String())
	assert.Nil(t, Encap(0).Names())
	assert.Equal(t, []string{"vlan", "vxlan"}, (EncapVXLAN | EncapVLAN).Names())
	assert.Equal(t, "gre+erspan", (EncapGRE | EncapERSPAN).String())
	assert.Len(t, encapNames, 16, "one name per Encap bit")
}
