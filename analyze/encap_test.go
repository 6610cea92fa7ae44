package analyze_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
	"rwin/fixtures"
)

// TestTunnelledCorpusFlows reads the corpus captures whose TCP travels
// inside tunnels, shims or uncommon link types: each must give tshark's
// flows and SYNs (ORACLE.tsv, checked field by field in
// TestConformanceWithTshark),
// name the encapsulation in every flow, and leave nothing undecoded.
func TestTunnelledCorpusFlows(t *testing.T) {
	dir := fixtures.CorpusDir(t)
	for _, tc := range []struct {
		name, file string
		flows      int
		syns       int // flows whose SYN was captured
		encap      capture.Encap
	}{
		{"vxlan from cloud traffic mirroring", "zeek/vxlan-encapsulated-http.pcap", 1, 1, capture.EncapVXLAN},
		{"geneve with one direction carrying an option", "tcpdump/geneve.pcap", 1, 1, capture.EncapGENEVE},
		{"geneve with many options", "zeek/geneve-many-options.pcap", 1, 1, capture.EncapGENEVE},
		{"geneve carrying ip carrying gre", "suricata/bug-6402-01__input.pcap", 1, 1, capture.EncapGENEVE | capture.EncapGRE},
		{"erspan type ii mirror of ten streams", "suricata/bug-5437-02__input.pcap", 10, 8, capture.EncapGRE | capture.EncapERSPAN},
		{"erspan ii carrying vxlan", "arkime/gre-erspan-vxlan.pcap", 1, 1, capture.EncapGRE | capture.EncapERSPAN | capture.EncapVXLAN},
		{"plain gre", "zeek/gre-sample.pcap", 1, 1, capture.EncapGRE},
		{"gre transparent ethernet bridging", "suricata/temp6.pcap", 1, 1, capture.EncapGRE},
		{"gre in udp", "zeek/gre-over-udp-4754.pcap", 1, 1, capture.EncapGREUDP},
		{"ipv4 in ipv6", "ndpi/4in6tunnel.pcap", 1, 1, capture.Encap4in6},
		{"ipv6 in ipv4 mid-stream", "suricata/ipv6_over_ipv4.pcap", 1, 0, capture.Encap6in4},
		{"pppoe inside two vlan tags", "zeek/pppoe-over-qinq.pcap", 1, 1, capture.EncapVLAN | capture.EncapPPPoE},
		{"pppoe with a one-byte ppp protocol", "suricata/pppoe-session-http.pcap", 1, 1, capture.EncapPPPoE},
		{"gtp-u carrying ipv6 with reused ports", "arkime/gtp-iphone.pcap", 4, 4, capture.EncapGTPU},
		{"capwap 802.11 copies at three tunnel depths", "ndpi/capwap_data.pcapng", 1, 1, capture.EncapVLAN | capture.EncapCAPWAP | capture.EncapWLAN},
		{"aruba 802.11 in gre", "zeek/gre-aruba.pcap", 23, 17, capture.EncapVLAN | capture.EncapGRE | capture.EncapWLAN},
		{"mpls on one direction only", "arkime/mpls-basic.pcap", 1, 1, capture.EncapMPLS},
		{"radiotap 802.11 link", "arkime/80211http.pcap", 1, 1, 0},
		{"arcnet link", "libpcap/arcnet-rfc1051-arp-icmp-http.pcap", 1, 1, 0},
		{"ppp link holding cisco hdlc frames", "ndpi/BGP_Cisco_hdlc_slarp.pcap", 1, 1, 0},
		{"cisco hdlc link", "suricata/hdlc-http_1tx.pcap", 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := capture.Open(filepath.Join(dir, tc.file))
			require.NoError(t, err)
			defer src.Close()
			// A Flow is valid only during the callback: take what is checked.
			flows, syns, encap := 0, 0, capture.Encap(0)
			sum := analyze.Run(src, nil, analyze.Config{}, func(f *analyze.Flow) {
				flows++
				if f.SYN.Seen {
					syns++
				}
				encap |= f.Encap
			})
			require.NoError(t, sum.Err)
			assert.Equal(t, tc.flows, flows, "flows")
			assert.Equal(t, tc.syns, syns, "flows with their SYN")
			assert.Equal(t, tc.encap.String(), encap.String(), "encapsulations named")
			assert.Zero(t, sum.LinkType, "unsupported link type")
			assert.Zero(t, sum.Encap, "unsupported encapsulation")
			assert.Zero(t, sum.Malformed, "malformed")
		})
	}
}
