package capture

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCapturedPayload(t *testing.T) {
	data := []byte("GET / HTTP/1.1\r\nHost: rwin\r\n\r\n")
	seg := serialize(t, ackTCP(), gopacket.Payload(data))
	v4 := eth(t, layers.EthernetTypeIPv4, ip4(t, layers.IPProtocolTCP, seg))
	// Ethernet pads short frames to 60 bytes; a pure ACK gets padding that
	// is not payload.
	padded := append(eth(t, layers.EthernetTypeIPv4, ip4(t, layers.IPProtocolTCP, tcpSeg(t, ackTCP(), 0))), 0, 0, 0, 0, 0, 0)
	tunneled := eth(t, layers.EthernetTypeIPv4, tunnel4(t, layers.IPProtocolIPv4, ip4(t, layers.IPProtocolTCP, seg)))
	hdrs := len(v4) - len(data)
	for _, tc := range []struct {
		name  string
		frame []byte
		snap  int
		want  []byte
	}{
		{name: "whole payload captured", frame: v4, want: data},
		{name: "snaplen cuts the payload", frame: v4, snap: hdrs + 5, want: data[:5]},
		{name: "headers-only snaplen keeps no payload", frame: v4, snap: hdrs, want: nil},
		{name: "ethernet padding is not payload", frame: padded, want: nil},
		{name: "payload inside an ip-in-ip tunnel", frame: tunneled, want: data},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := decodeCase{link: LinkEthernet, frame: tc.frame, snap: tc.snap}.packet()
			var d Decoder
			var s Segment
			require.Equal(t, VerdictTCP, d.Decode(&p, &s), "%+v", d.Issue())
			got := s.CapturedPayload(p.Data)
			if tc.want == nil {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
