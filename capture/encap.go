package capture

import "strings"

// Encap is the set of encapsulations a segment was found inside: the
// headers between the link layer and the innermost IP header that the
// Segment reports. A set, not a stack, so that it fits a Segment without a
// pointer: Names lists it in a fixed order, which is not always the order
// of nesting (GENEVE may carry GRE as well as the other way round).
type Encap uint32

// Encapsulations Decode follows to reach TCP.
const (
	EncapVLAN   Encap = 1 << iota // IEEE 802.1Q / 802.1ad tags
	EncapMPLS                     // MPLS label stack (RFC 3032)
	EncapPPPoE                    // PPPoE session (RFC 2516)
	EncapGRE                      // GRE (RFC 2784, RFC 2890)
	EncapGREUDP                   // GRE in UDP, port 4754 (RFC 8086)
	EncapERSPAN                   // Cisco ERSPAN type I, II or III mirror in GRE
	EncapVXLAN                    // VXLAN, UDP 4789 (RFC 7348)
	EncapGENEVE                   // GENEVE, UDP 6081 (RFC 8926)
	EncapGTPU                     // GTP-U, UDP 2152 (3GPP TS 29.281)
	EncapL2TP                     // L2TPv2 data, UDP 1701 (RFC 2661)
	EncapCAPWAP                   // CAPWAP data channel, UDP 5247 (RFC 5415)
	EncapWLAN                     // an IEEE 802.11 frame inside a tunnel (CAPWAP, Aruba GRE)
	EncapIPIP                     // IPv4 in IPv4 (RFC 2003)
	Encap6in4                     // IPv6 in IPv4 (RFC 4213)
	Encap4in6                     // IPv4 in IPv6 (RFC 2473)
	Encap6in6                     // IPv6 in IPv6 (RFC 2473)
)

// encapNames names each Encap bit, in bit order.
var encapNames = [...]string{
	"vlan", "mpls", "pppoe", "gre", "gre-in-udp", "erspan", "vxlan", "geneve", "gtp-u", "l2tp", "capwap", "802.11",
	"ipip", "6in4", "4in6", "6in6",
}

// Names lists the encapsulations in e in Encap's bit order, or nil for
// none. It allocates: call it when rendering, not per
// packet.
func (e Encap) Names() []string {
	var names []string
	for i, n := range encapNames {
		if e&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// String joins Names with "+", or says "none".
func (e Encap) String() string {
	if e == 0 {
		return "none"
	}
	return strings.Join(e.Names(), "+")
}
