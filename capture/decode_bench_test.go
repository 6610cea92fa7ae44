package capture

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The decode benchmarks time rwin's Decoder next to gopacket's
// DecodingLayerParser over the same frame, the alternative DESIGN.md
// names, so the choice of hand decoding stays checked.

func benchFrameIPv4(b *testing.B) Packet {
	data := eth(b, layers.EthernetTypeIPv4, ip4(b, layers.IPProtocolTCP, tcpSeg(b, ackTCP(), 1448)))
	return Packet{Data: data, OrigLen: len(data), Link: LinkEthernet, Index: 1}
}

func benchFrameIPv6(b *testing.B) Packet {
	tcp := ackTCP()
	tcp.Options = []layers.TCPOption{optNOP, optNOP, optTS, optNOP, optNOP, optSACK}
	data := eth(b, layers.EthernetTypeIPv6, ip6(b, layers.IPProtocolTCP, tcpSeg(b, tcp, 0)))
	return Packet{Data: data, OrigLen: len(data), Link: LinkEthernet, Index: 1}
}

func benchDecode(b *testing.B, p Packet) {
	b.Run("rwin", func(b *testing.B) {
		b.ReportAllocs()
		var d Decoder
		var seg Segment
		for b.Loop() {
			if d.Decode(&p, &seg) != VerdictTCP {
				b.Fatal(d.Issue())
			}
		}
	})
	b.Run("gopacket", func(b *testing.B) {
		b.ReportAllocs()
		var (
			eth     layers.Ethernet
			ip4     layers.IPv4
			ip6     layers.IPv6
			tcp     layers.TCP
			decoded = make([]gopacket.LayerType, 0, 4)
		)
		parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &tcp)
		parser.IgnoreUnsupported = true
		for b.Loop() {
			if err := parser.DecodeLayers(p.Data, &decoded); err != nil || len(decoded) != 3 {
				b.Fatal(err, decoded)
			}
		}
	})
}

func BenchmarkDecodeIPv4(b *testing.B) { benchDecode(b, benchFrameIPv4(b)) }

func BenchmarkDecodeIPv6(b *testing.B) { benchDecode(b, benchFrameIPv6(b)) }

func BenchmarkParseOptions(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []byte
	}{
		{"linux syn", opts(oMSS1460, oSOK, oTS, oNOP, oWS(7))},
		{"ack with ts", opts(oNOP, oNOP, oTS)},
		{"ack with ts and 3 sack blocks", opts(oNOP, oNOP, oTS, oSACK(3))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var o Options
			for b.Loop() {
				ParseOptions(bc.opts, len(bc.opts), &o)
			}
		})
	}
}
