package analyze_test

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

// packetList is a Source over packets held in memory.
type packetList struct {
	pkts []capture.Packet
	next int
}

func (l *packetList) Next(p *capture.Packet) error {
	if l.next == len(l.pkts) {
		return io.EOF
	}
	*p = l.pkts[l.next]
	l.next++
	p.Index = uint64(l.next)
	return nil
}
func (l *packetList) Name() string { return "mem.pcap" }
func (l *packetList) Close() error { return nil }

// raw frames for the summary tests: IPv4 (raw link) carrying UDP to a port
// of no tunnel, and GRE carrying IPX.
var (
	rawUDP = []byte{
		0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
		0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0,
	}
	rawGREIPX = []byte{
		0x45, 0, 0, 34, 0, 1, 0, 0, 64, 47, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
		0, 0, 0x81, 0x37, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	}
)

func TestSummaryNoTCP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pkts    []capture.Packet
		warning string
	}{
		{
			name: "udp, a tunnel of unknown payload and an unsupported link type",
			pkts: []capture.Packet{
				{Data: rawUDP, OrigLen: len(rawUDP), Link: capture.LinkRaw, Time: 1e9},
				{Data: rawGREIPX, OrigLen: len(rawGREIPX), Link: capture.LinkRaw, Time: 2e9},
				{Data: rawUDP, OrigLen: len(rawUDP), Link: 189, Time: 3e9},
			},
			warning: "mem.pcap: none of the 3 packets is a TCP segment rwin can analyze (1 not TCP, 1 unsupported link type, 1 unsupported encapsulation)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum := analyze.Run(&packetList{pkts: tc.pkts}, nil, analyze.Config{}, func(*analyze.Flow) {})
			require.NotEmpty(t, sum.Warnings)
			assert.Equal(t, tc.warning, sum.Warnings[0], "the reason comes first")
			assert.Contains(t, sum.Warnings, "mem.pcap: packet 3: USB_LINUX (189) is not a link type rwin decodes; such packets are skipped")
			assert.Contains(t, sum.Warnings, "mem.pcap: packet 2: gre not decoded at byte 22: gre payload type not decoded")
			assert.Equal(t, uint64(1), sum.Encap)
			assert.Equal(t, uint64(1), sum.LinkType)
			assert.Equal(t, uint64(1), sum.NotTCP)
		})
	}
}

func TestSummaryUntimedPackets(t *testing.T) {
	pkts := []capture.Packet{
		{Data: rawUDP, OrigLen: len(rawUDP), Link: capture.LinkRaw, Untimed: true},
		{Data: rawUDP, OrigLen: len(rawUDP), Link: capture.LinkRaw, Time: 5e9},
		{Data: rawUDP, OrigLen: len(rawUDP), Link: capture.LinkRaw, Time: 5e9, Untimed: true},
		{Data: rawUDP, OrigLen: len(rawUDP), Link: capture.LinkRaw, Time: 7e9},
	}
	sum := analyze.Run(&packetList{pkts: pkts}, nil, analyze.Config{}, func(*analyze.Flow) {})
	assert.Equal(t, uint64(2), sum.Untimed)
	assert.Equal(t, int64(5e9), sum.FirstTime, "an untimed packet's borrowed 0 is not the start")
	assert.Equal(t, int64(7e9), sum.LastTime)
}
