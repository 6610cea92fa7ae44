package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Addresses of the test segments (RFC 5737 and RFC 3849 documentation
// ranges), and of the tunnel endpoints around them.
var (
	testV4Src  = net.IP{192, 0, 2, 1}
	testV4Dst  = net.IP{198, 51, 100, 2}
	testV6Src  = net.ParseIP("2001:db8::1")
	testV6Dst  = net.ParseIP("2001:db8::2")
	tunnelV4   = [2]net.IP{{203, 0, 113, 1}, {203, 0, 113, 2}}
	tunnelV6   = [2]net.IP{net.ParseIP("2001:db8:ffff::1"), net.ParseIP("2001:db8:ffff::2")}
	testMACSrc = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	testMACDst = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

// serialize lays out gopacket layers with their lengths fixed. Checksums
// are left as set: Decode does not verify them.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...))
	return bytes.Clone(buf.Bytes())
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// patch returns a copy of b with the bytes at off replaced.
func patch(b []byte, off int, with ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[off:], with)
	return c
}

func tcpOpt(kind layers.TCPOptionKind, data ...byte) layers.TCPOption {
	return layers.TCPOption{OptionType: kind, OptionData: data}
}

var (
	optNOP  = tcpOpt(layers.TCPOptionKindNop)
	optTS   = tcpOpt(layers.TCPOptionKindTimestamps, 0, 0, 0, 1, 0, 0, 0, 2)
	optSACK = tcpOpt(layers.TCPOptionKindSACK, 0, 0, 0x03, 0xe8, 0, 0, 0x04, 0x1a, 0, 0, 0x04, 0x4c, 0, 0, 0x04, 0x7e)
)

// ackTCP is the segment most cases carry: an ACK with timestamps.
func ackTCP() *layers.TCP {
	return &layers.TCP{
		SrcPort: 50000, DstPort: 3389, Seq: 1000, Ack: 2000, ACK: true, Window: 501, Checksum: 0xbeef,
		Options: []layers.TCPOption{optNOP, optNOP, optTS},
	}
}

// synTCP is a Linux SYN: mss,sok,ts,nop,ws with shift 7.
func synTCP() *layers.TCP {
	return &layers.TCP{
		SrcPort: 50000, DstPort: 3389, Seq: 1000, SYN: true, Window: 64240, Checksum: 0xbeef,
		Options: []layers.TCPOption{
			tcpOpt(layers.TCPOptionKindMSS, 0x05, 0xb4), tcpOpt(layers.TCPOptionKindSACKPermitted),
			optTS, optNOP, tcpOpt(layers.TCPOptionKindWindowScale, 7),
		},
	}
}

func tcpSeg(t testing.TB, tcp *layers.TCP, payload int) []byte {
	return serialize(t, tcp, gopacket.Payload(make([]byte, payload)))
}

func ipv4Layer(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Id: 0x1234, Flags: layers.IPv4DontFragment, Protocol: proto, SrcIP: testV4Src, DstIP: testV4Dst}
}

func ip4(t testing.TB, proto layers.IPProtocol, payload []byte) []byte {
	return serialize(t, ipv4Layer(proto), gopacket.Payload(payload))
}

func ip6(t testing.TB, nh layers.IPProtocol, payload []byte) []byte {
	return serialize(t, &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: nh, SrcIP: testV6Src, DstIP: testV6Dst}, gopacket.Payload(payload))
}

// tunnel4 and tunnel6 wrap an inner packet in an outer header between the
// tunnel endpoints, with a TTL distinct from the inner one.
func tunnel4(t testing.TB, proto layers.IPProtocol, inner []byte) []byte {
	return serialize(t, &layers.IPv4{Version: 4, TTL: 255, Id: 7, Protocol: proto, SrcIP: tunnelV4[0], DstIP: tunnelV4[1]}, gopacket.Payload(inner))
}

func tunnel6(t testing.TB, nh layers.IPProtocol, inner []byte) []byte {
	return serialize(t, &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: nh, SrcIP: tunnelV6[0], DstIP: tunnelV6[1]}, gopacket.Payload(inner))
}

func eth(t testing.TB, et layers.EthernetType, payload []byte) []byte {
	return serialize(t, &layers.Ethernet{SrcMAC: testMACSrc, DstMAC: testMACDst, EthernetType: et}, gopacket.Payload(payload))
}

// vlanTag is one 802.1Q/802.1ad tag (VLAN 50) announcing et.
func vlanTag(et uint16) []byte { return []byte{0x00, 0x32, byte(et >> 8), byte(et)} }

// nflogTLV encodes one NFLOG TLV: little-endian length and type, padded to 4.
func nflogTLV(typ uint16, data []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(4+len(data)))
	b = binary.LittleEndian.AppendUint16(b, typ)
	b = append(b, data...)
	return append(b, make([]byte, (4-len(b)%4)%4)...)
}

// ext6 is an IPv6 extension header of 8·(units+1) bytes: next header,
// length, then PadN filling the rest.
func ext6(nh layers.IPProtocol, units int) []byte {
	b := make([]byte, 8*(units+1))
	b[0], b[1], b[2], b[3] = byte(nh), byte(units), 1, byte(len(b)-4)
	return b
}

// frag6 is an IPv6 fragment header with the offset in 8-byte units.
func frag6(nh layers.IPProtocol, offset uint16, more bool) []byte {
	fo := offset << 3
	if more {
		fo |= 1
	}
	return []byte{byte(nh), 0, byte(fo >> 8), byte(fo), 0xca, 0xfe, 0xf0, 0x0d}
}

// segView is what a test checks of a decoded Segment.
type segView struct {
	IPv6             bool
	Src, Dst         netip.Addr
	TTL              uint8
	IPID             uint16
	DF               bool
	SrcPort, DstPort uint16
	Seq, Ack         Seq
	Flags            Flags
	Window           uint16
	HeaderLen        int
	Payload          int
	Checksum         uint16
	Layout           string
	Has              OptSet
	WScale           Shift
	NSACK            uint8
	Truncated        bool
	Encap            Encap
}

func viewOf(s *Segment) segView {
	return segView{
		IPv6: s.IPv6, Src: s.Src, Dst: s.Dst, TTL: s.TTL, IPID: s.IPID, DF: s.DF,
		SrcPort: s.SrcPort, DstPort: s.DstPort, Seq: s.Seq, Ack: s.Ack, Flags: s.Flags, Window: s.Window,
		HeaderLen: s.HeaderLen, Payload: s.Payload, Checksum: s.Checksum,
		Layout: s.Opts.Layout.String(), Has: s.Opts.Has, WScale: s.Opts.WScale, NSACK: s.Opts.NSACK, Truncated: s.Truncated,
		Encap: s.Encap,
	}
}

// with returns a copy of v changed by f, so cases state only what differs
// from the base segment.
func (v segView) with(f func(*segView)) segView {
	f(&v)
	return v
}

// The decoded views of ackTCP and synTCP over the test addresses.
var (
	wantV4Ack = segView{
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2"), TTL: 64, IPID: 0x1234, DF: true,
		SrcPort: 50000, DstPort: 3389, Seq: 1000, Ack: 2000, Flags: FlagACK, Window: 501, HeaderLen: 32, Checksum: 0xbeef,
		Layout: "nop,nop,ts", Has: HasTimestamp,
	}
	wantV6Ack = wantV4Ack.with(func(v *segView) {
		v.IPv6, v.IPID, v.DF = true, 0, false
		v.Src, v.Dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	})
	wantV4SYN = wantV4Ack.with(func(v *segView) {
		v.Ack, v.Flags, v.Window, v.HeaderLen = 0, FlagSYN, 64240, 40
		v.Layout, v.Has, v.WScale = "mss,sok,ts,nop,ws", HasMSS|HasSACKPerm|HasTimestamp|HasWScale, 7
	})
)

func payload(n int) func(*segView) { return func(v *segView) { v.Payload = n } }

type decodeCase struct {
	name  string
	link  LinkType
	frame []byte
	// snap, when positive, keeps only the first snap bytes as captured;
	// OrigLen stays the frame's length.
	snap int
	// origLen, when positive, overrides the length on the wire.
	origLen int
	verdict Verdict
	want    segView     // for VerdictTCP
	issue   DecodeIssue // for the other verdicts
}

func (c decodeCase) packet() Packet {
	data, orig := c.frame, len(c.frame)
	if c.snap > 0 && c.snap < len(data) {
		data = data[:c.snap]
	}
	if c.origLen > 0 {
		orig = c.origLen
	}
	return Packet{Data: data, OrigLen: orig, Link: c.link, Time: 1_700_000_000_123_456_789, Index: 42}
}

// decodeCases builds the frames of TestDecode; FuzzDecode seeds from them.
func decodeCases(t testing.TB) []decodeCase {
	v4ack := ip4(t, layers.IPProtocolTCP, tcpSeg(t, ackTCP(), 0))
	v6ack := ip6(t, layers.IPProtocolTCP, tcpSeg(t, ackTCP(), 0))
	v4syn := ip4(t, layers.IPProtocolTCP, tcpSeg(t, synTCP(), 0))
	v6tcp := tcpSeg(t, ackTCP(), 0)
	ethV4Ack := eth(t, layers.EthernetTypeIPv4, v4ack)

	ip4opts := serialize(t, &layers.IPv4{
		Version: 4, TTL: 64, Id: 0x1234, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP, SrcIP: testV4Src, DstIP: testV4Dst,
		Options: []layers.IPv4Option{{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}}, // router alert, RFC 2113
	}, gopacket.Payload(tcpSeg(t, ackTCP(), 0)))

	fragment := func(offset uint16, flags layers.IPv4Flag, payload int) []byte {
		ip := ipv4Layer(layers.IPProtocolTCP)
		ip.Flags, ip.FragOffset = flags, offset
		return eth(t, layers.EthernetTypeIPv4, serialize(t, ip, gopacket.Payload(tcpSeg(t, ackTCP(), payload))))
	}

	allFlags := ackTCP()
	allFlags.FIN, allFlags.SYN, allFlags.RST, allFlags.PSH, allFlags.URG, allFlags.ECE, allFlags.CWR, allFlags.NS = true, true, true, true, true, true, true, true

	bareAck := ackTCP()
	bareAck.Options = nil
	ethBareAck := eth(t, layers.EthernetTypeIPv4, ip4(t, layers.IPProtocolTCP, tcpSeg(t, bareAck, 0)))

	sackAck := ackTCP()
	sackAck.Options = []layers.TCPOption{optNOP, optNOP, optTS, optNOP, optNOP, optSACK}
	// 14 + 40 + 20 = 74 bytes of headers: a 96-byte snaplen leaves 22 of
	// the 32 option bytes, cutting the SACK option.
	ethV6SackAck := eth(t, layers.EthernetTypeIPv6, ip6(t, layers.IPProtocolTCP, tcpSeg(t, sackAck, 500)))

	var nested []byte = v4ack
	for range 7 {
		nested = tunnel4(t, layers.IPProtocolIPv4, nested)
	}

	sll := cat([]byte{0, 0, 0, 1, 0, 6}, testMACSrc, []byte{0, 0, 0x08, 0x00})
	sll2 := cat([]byte{0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6}, testMACSrc, []byte{0, 0})
	nflogHdr := []byte{2, 0, 0, 0} // AF_INET, version 0, resource 0
	nflogHW := nflogTLV(1, []byte{0x08, 0x00, 3, 0})
	nflogPrefix := nflogTLV(10, []byte("http\x00"))
	preamble := []byte{0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55}
	mcrc := []byte{0xde, 0xad, 0xbe, 0xef}

	return append([]decodeCase{
		// Link layers.
		{name: "ethernet ipv4 ack with ts", link: LinkEthernet, frame: ethV4Ack, want: wantV4Ack},
		{name: "ethernet ipv4 linux syn", link: LinkEthernet, frame: eth(t, layers.EthernetTypeIPv4, v4syn), want: wantV4SYN},
		{
			name: "ethernet ipv4 ack with 100 payload bytes", link: LinkEthernet,
			frame: eth(t, layers.EthernetTypeIPv4, ip4(t, layers.IPProtocolTCP, tcpSeg(t, ackTCP(), 100))), want: wantV4Ack.with(payload(100)),
		},
		{name: "ethernet ipv6 ack with ts", link: LinkEthernet, frame: eth(t, layers.EthernetTypeIPv6, v6ack), want: wantV6Ack},
		{name: "ethernet padding after a short ipv4 packet is not payload", link: LinkEthernet, frame: ethBareAck, want: wantV4Ack.with(func(v *segView) {
			v.HeaderLen, v.Layout, v.Has = 20, "", 0
		})},
		{name: "ethernet header cut by snaplen", link: LinkEthernet, frame: ethV4Ack, snap: 10, verdict: VerdictTruncated, issue: DecodeIssue{layerEthernet, 0, reasonCut}},
		{name: "802.1q tagged ipv4", link: LinkEthernet, frame: eth(t, layers.EthernetTypeDot1Q, cat(vlanTag(0x0800), v4ack)), want: encapped(wantV4Ack, EncapVLAN)},
		{name: "qinq double tag", link: LinkEthernet, frame: eth(t, layers.EthernetTypeQinQ, cat(vlanTag(0x8100), vlanTag(0x0800), v4ack)), want: encapped(wantV4Ack, EncapVLAN)},
		{name: "qinq with pre-standard 0x9100 outer tag", link: LinkEthernet, frame: eth(t, 0x9100, cat(vlanTag(0x8100), vlanTag(0x86dd), v6ack)), want: encapped(wantV6Ack, EncapVLAN)},
		{
			name: "nine stacked vlan tags", link: LinkEthernet, frame: eth(t, layers.EthernetTypeDot1Q, cat(bytes.Repeat(vlanTag(0x8100), 8), vlanTag(0x0800), v4ack)),
			verdict: VerdictMalformed, issue: DecodeIssue{layerVLAN, 14 + 8*4, reasonTooManyTags},
		},
		{
			name: "vlan tag cut by snaplen", link: LinkEthernet, frame: eth(t, layers.EthernetTypeDot1Q, cat(vlanTag(0x0800), v4ack)), snap: 16,
			verdict: VerdictTruncated, issue: DecodeIssue{layerVLAN, 14, reasonCut},
		},
		{
			name: "802.3 length frame with stp", link: LinkEthernet,
			frame:   serialize(t, &layers.Ethernet{SrcMAC: testMACSrc, DstMAC: testMACDst, EthernetType: layers.EthernetTypeLLC}, gopacket.Payload(cat([]byte{0x42, 0x42, 0x03}, make([]byte, 35)))),
			verdict: VerdictNotIP, issue: DecodeIssue{layerEthernet, 12, reasonLength8023},
		},
		{name: "arp frame", link: LinkEthernet, frame: eth(t, layers.EthernetTypeARP, make([]byte, 28)), verdict: VerdictNotIP, issue: DecodeIssue{layerEthernet, 14, reasonEtherType}},
		{name: "null loopback ipv4 little-endian host", link: LinkNull, frame: cat([]byte{2, 0, 0, 0}, v4ack), want: wantV4Ack},
		{name: "null loopback ipv4 big-endian host", link: LinkNull, frame: cat([]byte{0, 0, 0, 2}, v4ack), want: wantV4Ack},
		{name: "null loopback ipv6 family 24", link: LinkNull, frame: cat([]byte{24, 0, 0, 0}, v6ack), want: wantV6Ack},
		{name: "null loopback ipv6 family 28", link: LinkNull, frame: cat([]byte{28, 0, 0, 0}, v6ack), want: wantV6Ack},
		{name: "null loopback ipv6 family 30", link: LinkNull, frame: cat([]byte{30, 0, 0, 0}, v6ack), want: wantV6Ack},
		{name: "openbsd loop ipv6 family 24 in network order", link: LinkLoop, frame: cat([]byte{0, 0, 0, 24}, v6ack), want: wantV6Ack},
		{name: "null loopback unknown family", link: LinkNull, frame: cat([]byte{7, 0, 0, 0}, v4ack), verdict: VerdictNotIP, issue: DecodeIssue{layerLoopback, 0, reasonFamily}},
		{name: "null loopback cut inside the family", link: LinkNull, frame: []byte{2, 0}, verdict: VerdictTruncated, issue: DecodeIssue{layerLoopback, 0, reasonCut}},
		{name: "sll frame", link: LinkLinuxSLL, frame: cat(sll, v4ack), want: wantV4Ack},
		{name: "sll frame with the vlan tag left in", link: LinkLinuxSLL, frame: cat(patch(sll, 14, 0x81, 0x00), vlanTag(0x0800), v4ack), want: encapped(wantV4Ack, EncapVLAN)},
		{name: "sll frame carrying ipx", link: LinkLinuxSLL, frame: cat(patch(sll, 14, 0x81, 0x37), make([]byte, 30)), verdict: VerdictNotIP, issue: DecodeIssue{layerSLL, 16, reasonEtherType}},
		{name: "sll header cut by snaplen", link: LinkLinuxSLL, frame: cat(sll, v4ack), snap: 15, verdict: VerdictTruncated, issue: DecodeIssue{layerSLL, 0, reasonCut}},
		{name: "sll2 frame", link: LinkLinuxSLL2, frame: cat(sll2, v6ack), want: wantV6Ack},
		{name: "sll2 frame with ipv4", link: LinkLinuxSLL2, frame: cat(patch(sll2, 0, 0x08, 0x00), v4ack), want: wantV4Ack},
		{name: "sll2 header cut by snaplen", link: LinkLinuxSLL2, frame: cat(sll2, v6ack), snap: 10, verdict: VerdictTruncated, issue: DecodeIssue{layerSLL2, 0, reasonCut}},
		{name: "raw ip carrying ipv4", link: LinkRaw, frame: v4ack, want: wantV4Ack},
		{name: "raw ip carrying ipv6", link: LinkRaw, frame: v6ack, want: wantV6Ack},
		{name: "raw ip link 12 carrying ipv6", link: LinkRawAlt12, frame: v6ack, want: wantV6Ack},
		{name: "raw ip link 14 carrying ipv4", link: LinkRawAlt14, frame: v4ack, want: wantV4Ack},
		{name: "raw ip version 5", link: LinkRaw, frame: patch(v4ack, 0, 0x55), verdict: VerdictNotIP, issue: DecodeIssue{layerIP, 0, reasonVersion}},
		{name: "raw ip empty frame", link: LinkRaw, frame: []byte{}, verdict: VerdictTruncated, issue: DecodeIssue{layerIP, 0, reasonCut}},
		{name: "raw ipv4 link 228", link: LinkIPv4, frame: v4ack, want: wantV4Ack},
		{name: "raw ipv6 link 229", link: LinkIPv6, frame: v6ack, want: wantV6Ack},
		{name: "raw ipv4 link carrying ipv6", link: LinkIPv4, frame: v6ack, verdict: VerdictMalformed, issue: DecodeIssue{layerIPv4, 0, reasonVersion4}},
		{name: "nflog ipv4 after hardware and prefix tlvs", link: LinkNFLog, frame: cat(nflogHdr, nflogHW, nflogPrefix, nflogTLV(9, v4ack)), want: wantV4Ack},
		{name: "nflog ipv6", link: LinkNFLog, frame: cat([]byte{10, 0, 0, 0}, nflogTLV(9, v6ack)), want: wantV6Ack},
		{name: "nflog without payload tlv", link: LinkNFLog, frame: cat(nflogHdr, nflogHW), verdict: VerdictNotIP, issue: DecodeIssue{layerNFLog, 12, reasonNoPayloadTLV}},
		{name: "nflog tlv length 0", link: LinkNFLog, frame: cat(nflogHdr, []byte{0, 0, 9, 0}, v4ack), verdict: VerdictMalformed, issue: DecodeIssue{layerNFLog, 4, reasonTLVLength}},
		{
			name: "nflog cut before the payload tlv", link: LinkNFLog, frame: cat(nflogHdr, nflogHW, nflogPrefix, nflogTLV(9, v4ack)), snap: 14,
			verdict: VerdictTruncated, issue: DecodeIssue{layerNFLog, 12, reasonCut},
		},
		{name: "mpacket express frame", link: LinkEtherMPkt, frame: cat(preamble, []byte{0xd5}, ethV4Ack, mcrc), want: wantV4Ack},
		{name: "mpacket first fragment of a preemptable frame", link: LinkEtherMPkt, frame: cat(preamble, []byte{0xe6}, ethV4Ack, mcrc), want: wantV4Ack},
		{name: "mpacket continuation fragment", link: LinkEtherMPkt, frame: cat(preamble, []byte{0x61}, v4ack, mcrc), verdict: VerdictNotIP, issue: DecodeIssue{layerMPacket, 7, reasonSMD}},
		{name: "mpacket cut inside the preamble", link: LinkEtherMPkt, frame: preamble, verdict: VerdictTruncated, issue: DecodeIssue{layerMPacket, 0, reasonCut}},
		{name: "usb link type", link: 189, frame: ethV4Ack, verdict: VerdictLinkType, issue: DecodeIssue{layerLink, 0, reasonLinkType}},

		// IPv4.
		{name: "ipv4 non-first fragment", link: LinkEthernet, frame: fragment(185, 0, 0), verdict: VerdictFragment, issue: DecodeIssue{layerIPv4, 20, reasonFragment}},
		{name: "ipv4 first fragment with mf", link: LinkEthernet, frame: fragment(0, layers.IPv4MoreFragments, 100), want: wantV4Ack.with(func(v *segView) { v.DF, v.Payload = false, 100 })},
		{
			name: "tcp header split across ipv4 fragments", link: LinkEthernet, frame: patch(fragment(0, layers.IPv4MoreFragments, 0), 16, 0, 44), origLen: 58,
			snap: 58, verdict: VerdictFragment, issue: DecodeIssue{layerTCP, 46, reasonSplitHeader},
		},
		{name: "ipv4 ihl 4", link: LinkEthernet, frame: patch(ethV4Ack, 14, 0x44), verdict: VerdictMalformed, issue: DecodeIssue{layerIPv4, 14, reasonIHL}},
		{name: "ipv4 total length below header length", link: LinkEthernet, frame: patch(ethV4Ack, 16, 0, 16), verdict: VerdictMalformed, issue: DecodeIssue{layerIPv4, 16, reasonTotalLength}},
		{name: "ipv4 header with router alert option", link: LinkEthernet, frame: eth(t, layers.EthernetTypeIPv4, ip4opts), want: wantV4Ack},
		{
			name: "ipv4 options cut by snaplen", link: LinkEthernet, frame: eth(t, layers.EthernetTypeIPv4, ip4opts), snap: 14 + 22,
			verdict: VerdictTruncated, issue: DecodeIssue{layerIPv4, 34, reasonOptionsCut},
		},
		{name: "ipv4 header cut by snaplen", link: LinkEthernet, frame: ethV4Ack, snap: 24, verdict: VerdictTruncated, issue: DecodeIssue{layerIPv4, 14, reasonCut}},
		{
			name: "ipv4 udp on no tunnel port", link: LinkEthernet, frame: eth(t, layers.EthernetTypeIPv4, ip4(t, layers.IPProtocolUDP, make([]byte, 20))),
			verdict: VerdictNotTCP, issue: DecodeIssue{layerUDP, 34, reasonUDPPort},
		},
		{
			name: "icmp port unreachable quoting a tcp header", link: LinkEthernet,
			frame:   eth(t, layers.EthernetTypeIPv4, ip4(t, layers.IPProtocolICMPv4, cat([]byte{3, 3, 0, 0, 0, 0, 0, 0}, v4ack))),
			verdict: VerdictNotTCP, issue: DecodeIssue{layerIPv4, 34, reasonICMP},
		},
		{
			name: "ipv4 total length 0 from a tso super-frame", link: LinkEthernet,
			frame: patch(eth(t, layers.EthernetTypeIPv4, ip4(t, layers.IPProtocolTCP, tcpSeg(t, ackTCP(), 3000))), 16, 0, 0),
			want:  wantV4Ack.with(payload(3000)),
		},
		{
			name: "ipv4 total length beyond the frame on the wire", link: LinkEthernet,
			frame: patch(eth(t, layers.EthernetTypeIPv4, ip4(t, layers.IPProtocolTCP, tcpSeg(t, ackTCP(), 10))), 16, 0x05, 0xdc),
			want:  wantV4Ack.with(payload(10)),
		},
		{
			name: "ipv4 payload cut by snaplen keeps the payload length", link: LinkEthernet,
			frame: eth(t, layers.EthernetTypeIPv4, ip4(t, layers.IPProtocolTCP, tcpSeg(t, ackTCP(), 1400))), snap: 96,
			want: wantV4Ack.with(payload(1400)),
		},

		// IPv6.
		{name: "ipv6 hop-by-hop then tcp", link: LinkRaw, frame: ip6(t, 0, cat(ext6(6, 0), v6tcp)), want: wantV6Ack},
		{name: "ipv6 routing and destination options then tcp", link: LinkRaw, frame: ip6(t, 43, cat(ext6(60, 0), ext6(6, 1), v6tcp)), want: wantV6Ack},
		{name: "ipv6 first fragment", link: LinkRaw, frame: ip6(t, 44, cat(frag6(6, 0, true), tcpSeg(t, ackTCP(), 64))), want: wantV6Ack.with(payload(64))},
		{name: "ipv6 non-first fragment", link: LinkRaw, frame: ip6(t, 44, cat(frag6(6, 185, false), make([]byte, 64))), verdict: VerdictFragment, issue: DecodeIssue{layerIPv6, 40, reasonFragment}},
		{name: "ipv6 ah then tcp", link: LinkRaw, frame: ip6(t, 51, cat([]byte{6, 4}, make([]byte, 22), v6tcp)), want: wantV6Ack},
		{name: "ipv6 esp", link: LinkRaw, frame: ip6(t, 50, make([]byte, 40)), verdict: VerdictNotTCP, issue: DecodeIssue{layerIPv6, 40, reasonNotTCP}},
		{name: "ipv6 hop-by-hop then no next header", link: LinkRaw, frame: ip6(t, 0, ext6(59, 0)), verdict: VerdictNotTCP, issue: DecodeIssue{layerIPv6, 48, reasonNotTCP}},
		{name: "ipv6 icmpv6 quoting a tcp header", link: LinkRaw, frame: ip6(t, 58, cat([]byte{1, 4, 0, 0, 0, 0, 0, 0}, v6ack)), verdict: VerdictNotTCP, issue: DecodeIssue{layerIPv6, 40, reasonICMP}},
		{
			name: "ipv6 destination options running past the payload length", link: LinkRaw, frame: ip6(t, 60, cat(ext6(6, 10)[:4], v6tcp)),
			verdict: VerdictMalformed, issue: DecodeIssue{layerIPv6, 40, reasonExtPastPayload},
		},
		{name: "ipv6 hop-by-hop cut by snaplen", link: LinkRaw, frame: ip6(t, 0, cat(ext6(6, 0), v6tcp)), snap: 44, verdict: VerdictTruncated, issue: DecodeIssue{layerIPv6, 40, reasonExtCut}},
		{name: "ipv6 header cut by snaplen", link: LinkEthernet, frame: eth(t, layers.EthernetTypeIPv6, v6ack), snap: 44, verdict: VerdictTruncated, issue: DecodeIssue{layerIPv6, 14, reasonCut}},
		{name: "ipv6 version 4 behind ethertype ipv6", link: LinkEthernet, frame: eth(t, layers.EthernetTypeIPv6, v4ack), verdict: VerdictMalformed, issue: DecodeIssue{layerIPv6, 14, reasonVersion6}},
		{
			// RFC 2675: payload length 0, the real length in a hop-by-hop
			// option. rwin takes the length from the frame instead.
			name: "ipv6 jumbogram with payload length 0", link: LinkRaw,
			frame: patch(ip6(t, 0, cat([]byte{6, 0, 0xc2, 4, 0, 0, 0x01, 0x14}, tcpSeg(t, ackTCP(), 236))), 4, 0, 0),
			want:  wantV6Ack.with(payload(236)),
		},
		{
			name: "ipv6 ack with ts and sack cut by 96-byte snaplen", link: LinkEthernet, frame: ethV6SackAck, snap: 96,
			want: wantV6Ack.with(func(v *segView) {
				v.HeaderLen, v.Payload, v.Layout, v.Truncated = 52, 500, "nop,nop,ts,nop,nop", true
			}),
		},
		{
			name: "ipv6 ack with ts and sack captured whole", link: LinkEthernet, frame: ethV6SackAck,
			want: wantV6Ack.with(func(v *segView) {
				v.HeaderLen, v.Payload, v.Layout, v.Has, v.NSACK = 52, 500, "nop,nop,ts,nop,nop,sack", HasTimestamp|HasSACK, 2
			}),
		},

		// Tunnels: the innermost IP header is the one reported.
		{name: "ipv4 in ipv4", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolIPv4, v4ack), want: encapped(wantV4Ack, EncapIPIP)},
		{name: "ipv6 in ipv4 (6in4)", link: LinkEthernet, frame: eth(t, layers.EthernetTypeIPv4, tunnel4(t, layers.IPProtocolIPv6, v6ack)), want: encapped(wantV6Ack, Encap6in4)},
		{name: "ipv4 in ipv6", link: LinkRaw, frame: tunnel6(t, layers.IPProtocolIPv4, v4ack), want: encapped(wantV4Ack, Encap4in6)},
		{name: "ipv6 in ipv6 after a destination options header", link: LinkRaw, frame: tunnel6(t, 60, cat(ext6(41, 0), v6ack)), want: encapped(wantV6Ack, Encap6in6)},
		{name: "gre with key and sequence carrying ipv4", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0x30, 0, 0x08, 0x00, 0, 0, 0, 1, 0, 0, 0, 9}, v4ack)), want: encapped(wantV4Ack, EncapGRE)},
		{name: "gre with checksum carrying ipv6", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0x80, 0, 0x86, 0xdd, 0x12, 0x34, 0, 0}, v6ack)), want: encapped(wantV6Ack, EncapGRE)},
		{
			name: "gre transparent ethernet bridging with a vlan tag", link: LinkRaw,
			frame: tunnel6(t, layers.IPProtocolGRE, cat([]byte{0, 0, 0x65, 0x58}, eth(t, layers.EthernetTypeDot1Q, cat(vlanTag(0x0800), v4ack)))),
			want:  encapped(wantV4Ack, EncapGRE|EncapVLAN),
		},
		{
			name: "pptp enhanced gre version 1 carrying lcp", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0x30, 0x01, 0x88, 0x0b, 0, 8, 0, 0, 0, 0, 0, 1}, []byte{0xff, 0x03, 0xc0, 0x21}, make([]byte, 4))),
			verdict: VerdictNotIP, issue: DecodeIssue{layerPPP, 34, reasonPPPProto},
		},
		{
			name: "gre version 2", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0, 2, 0x08, 0x00}, v4ack)),
			verdict: VerdictEncap, issue: DecodeIssue{layerGRE, 20, reasonGREVersion},
		},
		{
			name: "gre carrying ipx", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolGRE, cat([]byte{0, 0, 0x81, 0x37}, make([]byte, 24))),
			verdict: VerdictEncap, issue: DecodeIssue{layerGRE, 22, reasonGREProto},
		},
		{name: "eight ip headers deep still decode", link: LinkRaw, frame: nested, want: encapped(wantV4Ack, EncapIPIP)},
		{
			name: "tunnels nested deeper than rwin decodes", link: LinkRaw, frame: tunnel4(t, layers.IPProtocolIPv4, nested),
			verdict: VerdictMalformed, issue: DecodeIssue{layerIPv4, 8 * 20, reasonTooDeep},
		},

		// TCP.
		{name: "tcp data offset 3", link: LinkEthernet, frame: patch(ethV4Ack, 34+12, 0x30), verdict: VerdictMalformed, issue: DecodeIssue{layerTCP, 46, reasonDataOffset}},
		{name: "tcp header longer than the ip payload", link: LinkEthernet, frame: patch(ethBareAck, 34+12, 0xf0), verdict: VerdictMalformed, issue: DecodeIssue{layerTCP, 46, reasonHeaderPastIP}},
		{name: "tcp fixed header cut by snaplen", link: LinkEthernet, frame: ethV4Ack, snap: 34 + 19, verdict: VerdictTruncated, issue: DecodeIssue{layerTCP, 34, reasonCut}},
		{
			name: "tcp options cut right after the fixed header", link: LinkEthernet, frame: eth(t, layers.EthernetTypeIPv4, v4syn), snap: 54,
			want: wantV4SYN.with(func(v *segView) { v.Layout, v.Has, v.WScale, v.Truncated = "", 0, 0, true }),
		},
		{
			name: "tcp with every flag and the ae bit", link: LinkEthernet, frame: eth(t, layers.EthernetTypeIPv4, ip4(t, layers.IPProtocolTCP, tcpSeg(t, allFlags, 0))),
			want: wantV4Ack.with(func(v *segView) {
				v.Flags = FlagFIN | FlagSYN | FlagRST | FlagPSH | FlagACK | FlagURG | FlagECE | FlagCWR | FlagAE
			}),
		},
		{name: "tcp reserved bits are not flags", link: LinkEthernet, frame: patch(ethV4Ack, 34+12, 0x8e), want: wantV4Ack},
	}, encapCases(t)...)
}

// encapped returns want found inside e.
func encapped(want segView, e Encap) segView {
	return want.with(func(v *segView) { v.Encap = e })
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.packet()
			var d Decoder
			var seg Segment
			v := d.Decode(&p, &seg)
			require.Equal(t, tc.verdict, v, "verdict (issue %+v)", d.Issue())
			if v != VerdictTCP {
				assert.Equal(t, tc.issue, d.Issue())
				return
			}
			assert.Zero(t, d.Issue(), "a decoded segment has no issue")
			assert.Equal(t, uint64(42), seg.Packet)
			assert.Equal(t, int64(1_700_000_000_123_456_789), seg.Time)
			assert.Equal(t, tc.want, viewOf(&seg))
			assert.Equal(t, seg.Truncated, seg.Opts.Truncated, "segment and options agree on truncation")
		})
	}
}

// TestDecodeReuse decodes a SYN, then a frame that fails, then an ACK
// with the same Decoder and Segment: nothing may leak between them.
func TestDecodeReuse(t *testing.T) {
	cases := decodeCases(t)
	byName := func(name string) Packet {
		for _, c := range cases {
			if c.name == name {
				return c.packet()
			}
		}
		require.FailNow(t, "no case "+name)
		return Packet{}
	}
	var d Decoder
	var seg Segment
	syn, bad, ack := byName("ethernet ipv4 linux syn"), byName("tcp data offset 3"), byName("ethernet ipv6 ack with ts")
	require.Equal(t, VerdictTCP, d.Decode(&syn, &seg))
	require.Equal(t, VerdictMalformed, d.Decode(&bad, &seg))
	require.Equal(t, VerdictTCP, d.Decode(&ack, &seg))
	assert.Zero(t, d.Issue())
	assert.Equal(t, wantV6Ack, viewOf(&seg))
}

func TestDecodeAllocs(t *testing.T) {
	for _, name := range []string{
		"ethernet ipv4 linux syn", "ethernet ipv6 ack with ts", "ipv6 ack with ts and sack cut by 96-byte snaplen", "tcp data offset 3",
		"vxlan carrying ethernet", "geneve with an option carrying ethernet", "gtp-u g-pdu with a pdu session extension",
		"capwap 802.11 with cisco's swapped frame control", "erspan type iii with platform sub-header", "pppoe in qinq",
		"radiotap with tsft and the data pad flag", "pktap carrying ethernet", "802.11 protected frame",
	} {
		t.Run(name, func(t *testing.T) {
			var p Packet
			for _, c := range decodeCases(t) {
				if c.name == name {
					p = c.packet()
				}
			}
			require.NotNil(t, p.Data)
			var d Decoder
			var seg Segment
			allocs := testing.AllocsPerRun(200, func() { d.Decode(&p, &seg) })
			assert.Zero(t, allocs, "allocations per Decode")
		})
	}
}

// fuzzLinks are the link types FuzzDecode picks from: every supported one
// and one that is not.
var fuzzLinks = []LinkType{
	LinkEthernet, LinkNull, LinkLoop, LinkLinuxSLL, LinkLinuxSLL2, LinkRaw, LinkRawAlt12, LinkRawAlt14,
	LinkIPv4, LinkIPv6, LinkNFLog, LinkEtherMPkt,
	LinkTokenRing, LinkARCNetBSD, LinkPPP, LinkFDDI, LinkPPPHDLC, LinkPPPoE, LinkATMLLC, LinkCiscoHDLC,
	LinkIEEE80211, LinkPrism, LinkRadiotap, LinkARCNetLinux, LinkAVS, LinkPPI, LinkPPPWithDir, LinkCHDLCDir,
	LinkIPNet, LinkNetAnalyzer, LinkNetAnaTrans, LinkIPoIB, LinkPKTAP, 189,
}

func fuzzLinkIndex(l LinkType) uint8 {
	for i, x := range fuzzLinks {
		if x == l {
			return uint8(i)
		}
	}
	return uint8(len(fuzzLinks) - 1)
}

func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases(f) {
		p := c.packet()
		f.Add(fuzzLinkIndex(c.link), p.Data, uint16(0))
	}
	f.Fuzz(func(t *testing.T, link uint8, data []byte, extra uint16) {
		// extra adds to the length on the wire, as a snaplen cut would.
		p := Packet{Data: data, OrigLen: len(data) + int(extra), Link: fuzzLinks[int(link)%len(fuzzLinks)], Index: 1}
		var d Decoder
		var seg Segment
		v := d.Decode(&p, &seg)
		require.LessOrEqual(t, v, VerdictEncap, "verdict out of range")
		if v != VerdictTCP {
			assert.NotEmpty(t, d.Issue().Layer, "a failed decode says where")
			assert.NotEmpty(t, d.Issue().Reason, "a failed decode says why")
			assert.GreaterOrEqual(t, d.Issue().Offset, 0)
			return
		}
		assert.Zero(t, d.Issue())
		assert.GreaterOrEqual(t, seg.HeaderLen, 20)
		assert.LessOrEqual(t, seg.HeaderLen, 60)
		assert.GreaterOrEqual(t, seg.Payload, 0)
		assert.LessOrEqual(t, seg.Payload, p.OrigLen)
		assert.True(t, seg.Src.IsValid() && seg.Dst.IsValid(), "addresses set")
		assert.Equal(t, seg.IPv6, seg.Src.Is6())
		assert.Equal(t, seg.Truncated, seg.Opts.Truncated)
		assert.LessOrEqual(t, int(seg.Opts.NSACK), MaxSACKBlocks)
		assert.LessOrEqual(t, seg.Opts.Layout.Len(), seg.HeaderLen-20)
		if p.Link == LinkEthernet {
			agreeWithGopacket(t, data, v, &seg)
		}
	})
}

// agreeWithGopacket is FuzzDecode's second oracle: where gopacket's
// DecodingLayerParser decodes Ethernet, VLAN tags, one IP header and TCP
// without complaint, Decode must find the same segment. The converse does
// not hold: rwin keeps segments gopacket drops (cut options, IPv6
// extension headers, tunnels).
func agreeWithGopacket(t *testing.T, data []byte, v Verdict, seg *Segment) {
	var (
		eth     layers.Ethernet
		dot1q   layers.Dot1Q
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		decoded []gopacket.LayerType
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &ip6, &tcp)
	_ = parser.DecodeLayers(data, &decoded) // an error after TCP (its payload) is no concern here
	if len(decoded) < 3 || decoded[len(decoded)-1] != layers.LayerTypeTCP {
		return
	}
	var src, dst net.IP
	switch ipLayer := decoded[len(decoded)-2]; {
	case len(decoded)-3 > maxVLANTags:
		return // rwin stops at maxVLANTags tags
	case ipLayer == layers.LayerTypeIPv4 && ip4.Version == 4:
		src, dst = ip4.SrcIP, ip4.DstIP
	case ipLayer == layers.LayerTypeIPv6 && ip6.Version == 6:
		src, dst = ip6.SrcIP, ip6.DstIP
	default:
		return // gopacket ignores the version nibble; rwin calls that malformed
	}
	require.Equal(t, VerdictTCP, v, "gopacket decoded TCP from %x", data)
	var flags Flags
	for i, set := range []bool{tcp.FIN, tcp.SYN, tcp.RST, tcp.PSH, tcp.ACK, tcp.URG, tcp.ECE, tcp.CWR, tcp.NS} {
		if set {
			flags |= 1 << i
		}
	}
	want := []any{src.String(), dst.String(), uint16(tcp.SrcPort), uint16(tcp.DstPort), tcp.Seq, tcp.Ack, flags, tcp.Window, int(tcp.DataOffset) * 4}
	got := []any{seg.Src.Unmap().String(), seg.Dst.Unmap().String(), seg.SrcPort, seg.DstPort, uint32(seg.Seq), uint32(seg.Ack), seg.Flags, seg.Window, seg.HeaderLen}
	assert.Equal(t, want, got, "rwin and gopacket disagree on %x", data)
}

// TestDecodeCorpus decodes every frame of the public corpus (read with
// gopacket's pcapgo, independently of rwin's own readers) and compares
// each with tshark's dissection: every frame tshark shows as TCP (and not
// quoted inside ICMP) must decode to VerdictTCP with the same innermost
// addresses, ports, sequence and acknowledgment numbers, flags, window,
// window-scale shift, header and payload length; every other frame must
// not. The one documented difference: tshark reassembles IP fragments and
// shows TCP on the last one, rwin decodes the TCP header a first fragment
// carries and counts the others as fragments.
func TestDecodeCorpus(t *testing.T) {
	dir := sourcesCorpusDir(t)
	tshark := tsharkOrSkip(t)
	var files []string
	for _, pattern := range []string{"*/*.pcap", "*/*.pcapng", "*/*.cap"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)
	slices.Sort(files)
	reassembly := 0
	defer func() { t.Logf("%d frames differ only by tshark's IP reassembly", reassembly) }()
	for _, path := range files {
		file, err := filepath.Rel(dir, path)
		require.NoError(t, err)
		file = filepath.ToSlash(file)
		if strings.HasPrefix(file, "libpcap/") && !strings.HasPrefix(file, "libpcap/arcnet") {
			continue // damaged containers: the readers' business, not the decoder's
		}
		t.Run(file, func(t *testing.T) {
			pkts := pcapgoPackets(t, path)
			oracle := tsharkTCP(t, tshark, path)
			require.Len(t, oracle, len(pkts), "tshark and pcapgo disagree on the packet count")
			var d Decoder
			var seg Segment
			for i := range pkts {
				p := &pkts[i]
				want := oracle[i]
				v := d.Decode(p, &seg)
				where := fmt.Sprintf("%s frame %d (link %d): verdict %d, issue %+v", file, p.Index, p.Link, v, d.Issue())
				if reassembledByTshark(want, v) {
					reassembly++
					continue
				}
				if !want.tcp {
					assert.NotEqual(t, VerdictTCP, v, "%s: tshark sees no TCP (%s)", where, want.protocols)
					continue
				}
				if !assert.Equal(t, VerdictTCP, v, "%s: tshark sees TCP (%s)", where, want.protocols) {
					continue
				}
				got := want
				got.src, got.dst = seg.Src.String(), seg.Dst.String()
				got.srcPort, got.dstPort = seg.SrcPort, seg.DstPort
				got.seq, got.ack = uint32(seg.Seq), uint32(seg.Ack)
				got.flags, got.window = seg.Flags, seg.Window
				got.wscale = -1
				if seg.Opts.Has&HasWScale != 0 {
					got.wscale = int(seg.Opts.WScale)
				}
				got.hdrLen = seg.HeaderLen
				if want.payload >= 0 { // tshark leaves tcp.len empty on some damaged frames
					got.payload = seg.Payload
				}
				assert.Equal(t, want, got, where)
			}
		})
	}
}

// reassembledByTshark says a frame differs from tshark only because tshark
// reassembles IP: rwin finds a non-first fragment where tshark shows the
// reassembled TCP segment, or decodes the TCP header of a first fragment
// tshark holds back (or never completes) as "ip:data".
func reassembledByTshark(want tsharkFrame, v Verdict) bool {
	return want.tcp && v == VerdictFragment || !want.tcp && v == VerdictTCP && strings.HasSuffix(want.protocols, "ip:data")
}

// tsharkOrSkip returns the path of tshark, skipping the test when it is
// not installed, except under CI=true, where that is a failure.
func tsharkOrSkip(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("tshark required under CI=true: %v", err)
		}
		t.Skipf("tshark not installed: %v", err)
	}
	return path
}

// pcapgoPackets reads a capture with pcapgo. pcapgo's LinkType is a uint8
// in gopacket v1.1.19, so a pcap file's link type is read from its header
// instead (masked to 16 bits: the FCS bits above it are not the type).
// pcapng interfaces keep the truncated type, which is right for every
// interface that carries packets in the corpus.
func pcapgoPackets(t *testing.T, path string) []Packet {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var pkts []Packet
	add := func(b []byte, ci gopacket.CaptureInfo, link LinkType) {
		pkts = append(pkts, Packet{Data: b, OrigLen: ci.Length, Time: ci.Timestamp.UnixNano(), Link: link, Index: uint64(len(pkts) + 1)})
	}
	if len(data) >= 4 && binary.LittleEndian.Uint32(data) == magicPcapng { // by content: some .pcapng files are pcap
		r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.NgReaderOptions{WantMixedLinkType: true})
		require.NoError(t, err)
		for {
			b, ci, err := r.ReadPacketData()
			if err == io.EOF {
				return pkts
			}
			require.NoError(t, err)
			intf, err := r.Interface(ci.InterfaceIndex)
			require.NoError(t, err)
			add(b, ci, LinkType(intf.LinkType))
		}
	}
	require.GreaterOrEqual(t, len(data), 24, "pcap file header")
	var order binary.ByteOrder = binary.LittleEndian
	if data[0] == 0xa1 {
		order = binary.BigEndian
	}
	link := LinkType(order.Uint32(data[20:24]) & 0xffff)
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	r.SetSnaplen(1 << 20) // some captures hold records longer than their snaplen
	for {
		b, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return pkts
		}
		require.NoError(t, err)
		add(b, ci, link)
	}
}

// tsharkFrame is tshark's view of one frame, in the terms Decode reports.
type tsharkFrame struct {
	protocols        string
	tcp              bool
	src, dst         string
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            Flags
	window           uint16
	wscale           int // -1: no window-scale option
	hdrLen           int
	payload          int // -1: tshark gives no tcp.len
}

// tsharkTCP dissects a capture with tshark. -E occurrence=l keeps the
// last, innermost, value of fields that tunnels repeat.
func tsharkTCP(t *testing.T, tshark, path string) []tsharkFrame {
	t.Helper()
	fields := []string{
		"frame.protocols", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
		"tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value", "tcp.options.wscale.shift", "tcp.hdr_len", "tcp.len",
	}
	args := []string{"-r", path, "-T", "fields", "-E", "occurrence=l"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	require.NoError(t, err, "tshark %s", strings.Join(args, " "))
	num := func(s string, bits int) uint64 {
		if s == "" {
			return 0
		}
		n, err := strconv.ParseUint(s, 0, bits)
		require.NoError(t, err, "tshark field %q", s)
		return n
	}
	var frames []tsharkFrame
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		require.Len(t, f, len(fields), "tshark line %q", line)
		protos := strings.Split(f[0], ":")
		fr := tsharkFrame{protocols: f[0], wscale: -1, payload: -1}
		fr.tcp = f[5] != "" && !slices.ContainsFunc(protos, func(p string) bool { return strings.HasPrefix(p, "icmp") })
		if fr.tcp {
			// The innermost network header is the last ip or ipv6.
			for _, p := range protos {
				switch p {
				case "ip":
					fr.src, fr.dst = f[1], f[2]
				case "ipv6":
					fr.src, fr.dst = f[3], f[4]
				}
			}
			fr.srcPort, fr.dstPort = uint16(num(f[5], 16)), uint16(num(f[6], 16))
			fr.seq, fr.ack = uint32(num(f[7], 32)), uint32(num(f[8], 32))
			fr.flags = Flags(num(f[9], 16)) & 0x1ff // without the three reserved bits
			fr.window = uint16(num(f[10], 16))
			if f[11] != "" {
				fr.wscale = int(num(f[11], 8))
			}
			fr.hdrLen = int(num(f[12], 8))
			if f[13] != "" {
				fr.payload = int(num(f[13], 32))
			}
		}
		frames = append(frames, fr)
	}
	return frames
}
