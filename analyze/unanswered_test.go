package analyze

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
)

// unansweredSYN is a SYN from client to server at ms, never answered.
func unansweredSYN(packet uint64, client, server netip.AddrPort, ms int64) capture.Segment {
	return capture.Segment{Packet: packet, Time: liveStart + ms*int64(time.Millisecond),
		Src: client.Addr(), Dst: server.Addr(), SrcPort: client.Port(), DstPort: server.Port(),
		Seq: capture.Seq(1000 + packet), Flags: capture.FlagSYN, Window: 64240, TTL: 64}
}

// attempt is a client port's tries at a server: Windows' schedule (3 s,
// then 6 s) for tries > 1.
type attempt struct {
	client, server string
	at             int64 // ms
	tries          int
}

func unansweredOf(t *testing.T, attempts []attempt) Unanswered {
	t.Helper()
	a := New(Config{}, func(*Flow) {})
	var n uint64
	for _, at := range attempts {
		c, s := netip.MustParseAddrPort(at.client), netip.MustParseAddrPort(at.server)
		for _, off := range []int64{0, 3000, 9000}[:at.tries] {
			n++
			seg := unansweredSYN(n, c, s, at.at+off)
			seg.Seq = capture.Seq(uint32(c.Port())) // the same ISN on every try: one flow
			a.Add(&seg)
		}
	}
	a.Flush()
	return a.Unanswered()
}

func TestUnansweredSYNsByServerEndpoint(t *testing.T) {
	const rdp, smb = "10.0.0.5:3389", "10.0.0.6:445"
	t.Run("three clients retrying to one rdp server: one endpoint, three clients, every try, the whole span", func(t *testing.T) {
		u := unansweredOf(t, []attempt{
			{"192.168.1.10:50000", rdp, 0, 3}, {"192.168.1.11:50001", rdp, 1000, 3}, {"192.168.1.10:50002", rdp, 20000, 2},
			{"192.168.1.12:50003", rdp, 30000, 3}, {"192.168.1.10:50004", smb, 500, 1},
		})
		require.Len(t, u.Servers, 2)
		s := u.Servers[0]
		assert.Equal(t, netip.MustParseAddrPort(rdp), s.Server, "the endpoint most clients tried comes first")
		assert.Equal(t, 3, s.Clients, "192.168.1.10 tried twice, from two ports: one client")
		assert.False(t, s.ClientsCapped)
		assert.Equal(t, uint64(4), s.Attempts)
		assert.Equal(t, uint64(11), s.SYNs)
		assert.Equal(t, liveStart, s.First)
		assert.Equal(t, 39*time.Second, time.Duration(s.Last-s.First))
		assert.Equal(t, UnansweredServer{Server: netip.MustParseAddrPort(smb), Clients: 1, Attempts: 1, SYNs: 1,
			First: liveStart + 500*int64(time.Millisecond), Last: liveStart + 500*int64(time.Millisecond)}, u.Servers[1])
		assert.Zero(t, u.OtherAttempts)
	})
	t.Run("a scan of more ports than the table holds: the rest counted, not kept", func(t *testing.T) {
		var scan []attempt
		for port := range maxUnansweredServers + 10 {
			scan = append(scan, attempt{"192.168.1.66:40000", netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), uint16(port+1)).String(), int64(port), 1})
		}
		u := unansweredOf(t, scan)
		assert.Len(t, u.Servers, maxUnansweredServers)
		assert.Equal(t, uint64(10), u.OtherAttempts)
		assert.Equal(t, uint64(10), u.OtherSYNs)
	})
	t.Run("more clients than the table holds: the count is a lower bound", func(t *testing.T) {
		var flood []attempt
		for i := range maxUnansweredClients + 5 {
			addr := netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)})
			flood = append(flood, attempt{netip.AddrPortFrom(addr, 1024).String(), rdp, int64(i), 1})
		}
		u := unansweredOf(t, flood)
		require.Len(t, u.Servers, 1)
		assert.Equal(t, maxUnansweredClients, u.Servers[0].Clients)
		assert.True(t, u.Servers[0].ClientsCapped)
		assert.Equal(t, uint64(maxUnansweredClients+5), u.Servers[0].Attempts)
	})
	t.Run("answered and refused attempts are not unanswered", func(t *testing.T) {
		a := New(Config{}, func(*Flow) {})
		c, s := netip.MustParseAddrPort("192.168.1.10:50000"), netip.MustParseAddrPort(rdp)
		syn := unansweredSYN(1, c, s, 0)
		rst := capture.Segment{Packet: 2, Time: syn.Time + int64(time.Millisecond), Src: s.Addr(), Dst: c.Addr(),
			SrcPort: s.Port(), DstPort: c.Port(), Ack: syn.Seq.Add(1), Flags: capture.FlagRST | capture.FlagACK}
		a.Add(&syn)
		a.Add(&rst)
		a.Flush()
		assert.Empty(t, a.Unanswered().Servers)
	})
}

// TestUnansweredTableDoesNotAllocateOnceKnown: a SYN flood past the flow
// cap finishes a flow per packet; counting one more attempt from a known
// client on a known endpoint allocates nothing.
func TestUnansweredTableDoesNotAllocateOnceKnown(t *testing.T) {
	var tab unansweredTable
	f := Flow{SYNs: 1}
	f.SYN.Seen = true
	f.Client.Addr, f.Server.Addr = netip.MustParseAddrPort("192.168.1.10:50000"), netip.MustParseAddrPort("10.0.0.5:3389")
	f.Client.Packets, f.Start, f.End = 1, liveStart, liveStart
	tab.add(&f)
	allocs := testing.AllocsPerRun(1000, func() { tab.add(&f) })
	assert.Zero(t, allocs)
	assert.Equal(t, uint64(1001+1), tab.servers[0].Attempts)
}
