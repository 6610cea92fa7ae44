package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/fixtures"
)

// requireLive skips a test that needs live capture in a build without it
// (CGO_ENABLED=0 on Linux or macOS filters files through libpcap loaded at
// run time but cannot capture; Windows without Npcap). A build with live
// capture never skips here.
func requireLive(t testing.TB) {
	t.Helper()
	if _, err := Interfaces(); errors.Is(err, ErrNoPcap) {
		t.Skipf("needs live capture: %v", err)
	}
}

// openLoopback opens lo with filter, skipping without root (failing under
// CI=true).
func openLoopback(t *testing.T, filter string) *Live {
	t.Helper()
	requireLive(t)
	fixtures.RequireRoot(t)
	l, err := OpenLive("lo", LiveConfig{Filter: filter})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// nextPacket reads until a packet arrives or a second passes.
func nextPacket(t *testing.T, l *Live, p *Packet) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		err := l.Next(p)
		if err == nil {
			return
		}
		require.ErrorIs(t, err, ErrNoPacket)
		require.True(t, time.Now().Before(deadline), "no packet within a second")
	}
}

// udpSender returns a connected loopback UDP socket to a port nobody
// listens on (the datagrams are captured all the same), and the port.
func udpSender(t *testing.T) (*net.UDPConn, int) {
	t.Helper()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	port := sink.LocalAddr().(*net.UDPAddr).Port
	t.Cleanup(func() { sink.Close() })
	c, err := net.DialUDP("udp4", nil, sink.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, port
}

func TestOpenLiveErrors(t *testing.T) {
	requireLive(t)
	fixtures.RequireRoot(t)
	cases := []struct {
		name, iface, filter string
		want                error
		says                string
	}{
		{"interface that does not exist", "rwin-nosuch0", "", ErrNoInterface, "live: rwin-nosuch0: no such interface"},
		{"filter libpcap cannot parse", "lo", "tcp port", ErrFilter, `live: lo: invalid filter "tcp port": `},
		{"filter with a port out of range", "lo", "tcp port 99999", ErrFilter, "illegal port number 99999 > 65535"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := OpenLive(c.iface, LiveConfig{Filter: c.filter})
			if l != nil {
				l.Close()
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.says)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

// TestOpenLiveWithoutCapability opens lo in a process that lacks
// CAP_NET_RAW: as root, the test binary runs itself again under setpriv
// with the capability removed from its bounding set.
func TestOpenLiveWithoutCapability(t *testing.T) {
	requireLive(t)
	if os.Getenv("RWIN_LIVE_HELPER") == "open-lo" {
		_, err := OpenLive("lo", LiveConfig{})
		_, errNoIf := OpenLive("rwin-nosuch0", LiveConfig{})
		fmt.Printf("%v|%v|%v|%v\n", errors.Is(err, ErrPermission), err, errors.Is(errNoIf, ErrNoInterface), errNoIf)
		return
	}
	if os.Geteuid() != 0 {
		_, err := OpenLive("lo", LiveConfig{})
		assert.ErrorIs(t, err, ErrPermission)
		return
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		fixtures.SkipUnlessCI(t, "setpriv (util-linux) is needed to drop CAP_NET_RAW: %v", err)
	}
	cmd := exec.Command(setpriv, "--bounding-set", "-net_raw,-net_admin", os.Args[0],
		"-test.run=^TestOpenLiveWithoutCapability$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RWIN_LIVE_HELPER=open-lo")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	line, _, _ := strings.Cut(string(out), "\n")
	f := strings.Split(line, "|")
	require.Len(t, f, 4, "helper said %q", out)
	assert.Equal(t, "true", f[0], "lo without CAP_NET_RAW: %s", f[1])
	assert.Contains(t, f[1], "live: lo: no permission to capture")
	assert.Equal(t, "true", f[2], "a missing interface is reported as missing, not as a permission problem: %s", f[3])
}

func TestLiveLinkTypes(t *testing.T) {
	requireLive(t)
	fixtures.RequireRoot(t)
	for _, c := range []struct {
		iface string
		want  LinkType
	}{
		{"lo", LinkEthernet},
		{"any", LinkLinuxSLL},
	} {
		t.Run(c.iface, func(t *testing.T) {
			l, err := OpenLive(c.iface, LiveConfig{})
			require.NoError(t, err)
			defer l.Close()
			assert.Equal(t, c.want, l.Link())
			assert.Equal(t, DefaultLiveSnaplen, l.Snaplen())
			assert.Equal(t, c.iface, l.Name())
		})
	}
}

func TestLiveReadsLoopbackTCP(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	l := openLoopback(t, fmt.Sprintf("tcp port %d", port))

	before := time.Now()
	c, err := net.Dial("tcp4", ln.Addr().String())
	require.NoError(t, err)
	c.Close()

	var (
		p   Packet
		dec Decoder
		seg Segment
	)
	nextPacket(t, l, &p)
	assert.Equal(t, uint64(1), p.Index)
	assert.Equal(t, LinkEthernet, p.Link)
	assert.Equal(t, int64(-1), p.Offset)
	assert.InDelta(t, before.UnixNano(), p.Time, float64(time.Second), "kernel timestamp in ns")
	assert.LessOrEqual(t, len(p.Data), DefaultLiveSnaplen)
	require.Equal(t, VerdictTCP, dec.Decode(&p, &seg))
	assert.True(t, seg.IsSYN(), "the first packet is the SYN")
	assert.Equal(t, uint16(port), seg.DstPort)
	assert.NotZero(t, seg.Opts.Has&HasWScale, "Linux announces window scale")
	assert.False(t, seg.Truncated, "the default snaplen keeps every option")

	nextPacket(t, l, &p)
	assert.Equal(t, uint64(2), p.Index)
	require.Equal(t, VerdictTCP, dec.Decode(&p, &seg))
	assert.True(t, seg.IsSYNACK())
}

func TestLiveStopEndsNext(t *testing.T) {
	l := openLoopback(t, "udp port 9") // nothing comes
	var p Packet
	assert.ErrorIs(t, l.Next(&p), ErrNoPacket, "a quiet link times out")
	done := make(chan error, 1)
	go func() {
		for {
			if err := l.Next(&p); !errors.Is(err, ErrNoPacket) {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	l.Stop()
	select {
	case err := <-done:
		assert.Equal(t, io.EOF, err)
	case <-time.After(2 * time.Second):
		t.Fatal("Next did not return after Stop")
	}
	assert.Equal(t, io.EOF, l.Next(&p), "stopped for good")
}

func TestLiveStatsCountWhatPassedTheFilter(t *testing.T) {
	c, port := udpSender(t)
	l := openLoopback(t, fmt.Sprintf("udp dst port %d", port))
	for range 5 {
		_, err := c.Write([]byte("rwin"))
		require.NoError(t, err)
	}
	var p Packet
	for range 5 {
		nextPacket(t, l, &p)
	}
	s, err := l.Stats()
	require.NoError(t, err)
	// Linux hands each loopback frame to packet sockets twice, outgoing
	// and incoming; libpcap drops the outgoing copy after the kernel
	// counted it.
	assert.Contains(t, []uint64{5, 10}, s.Received)
	assert.Zero(t, s.Dropped)
}

// TestLiveNextDoesNotAllocate reads packets already waiting in the ring
// buffer: the sender is done before the count starts, so its allocations
// do not count.
func TestLiveNextDoesNotAllocate(t *testing.T) {
	c, port := udpSender(t)
	l := openLoopback(t, fmt.Sprintf("udp dst port %d", port))
	const runs = 500
	msg := []byte("rwin")
	for range runs + 10 {
		_, err := c.Write(msg)
		require.NoError(t, err)
	}
	var p Packet
	nextPacket(t, l, &p)
	allocs := testing.AllocsPerRun(runs, func() {
		if err := l.Next(&p); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "allocations per packet")
}

func TestInterfacesListLoopback(t *testing.T) {
	requireLive(t)
	ifs, err := Interfaces()
	require.NoError(t, err)
	var lo *Interface
	for i := range ifs {
		if ifs[i].Name == "lo" {
			lo = &ifs[i]
		}
	}
	require.NotNil(t, lo, "lo is listed: %v", ifs)
	assert.True(t, lo.Loopback)
	assert.True(t, lo.Up)
	assert.Contains(t, fmt.Sprint(lo.Addrs), "127.0.0.1/8")
}

func TestPcapWriterRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		link LinkType
	}{
		{"ethernet", LinkEthernet},
		{"linux cooked v2, beyond gopacket's 8-bit link type", LinkLinuxSLL2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewPcapWriter(&buf, c.link, 256)
			require.NoError(t, err)
			in := []Packet{
				{Data: []byte{1, 2, 3, 4}, OrigLen: 1514, Time: 1_700_000_000_123_456_789, Index: 1},
				{Data: []byte{5, 6}, OrigLen: 2, Time: 1_700_000_001_000_000_001, Index: 2},
			}
			for i := range in {
				require.NoError(t, w.Write(&in[i]))
			}
			src, err := NewReader(&buf, "written")
			require.NoError(t, err)
			for i, want := range in {
				var p Packet
				require.NoError(t, src.Next(&p), "packet %d", i+1)
				assert.Equal(t, c.link, p.Link)
				assert.Equal(t, want.Data, p.Data)
				assert.Equal(t, want.OrigLen, p.OrigLen)
				assert.Equal(t, want.Time, p.Time, "nanosecond timestamps survive")
			}
			var p Packet
			assert.Equal(t, io.EOF, src.Next(&p))
		})
	}
}

func TestPcapWriterDoesNotAllocate(t *testing.T) {
	w, err := NewPcapWriter(io.Discard, LinkEthernet, 256)
	require.NoError(t, err)
	p := Packet{Data: make([]byte, 96), OrigLen: 1514, Time: time.Now().UnixNano()}
	allocs := testing.AllocsPerRun(1000, func() {
		p.Time += 1000
		if err := w.Write(&p); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkPcapWriter(b *testing.B) {
	w, err := NewPcapWriter(io.Discard, LinkEthernet, 256)
	require.NoError(b, err)
	p := Packet{Data: make([]byte, 96), OrigLen: 1514, Time: time.Now().UnixNano()}
	b.ReportAllocs()
	for b.Loop() {
		p.Time += 1000
		if err := w.Write(&p); err != nil {
			b.Fatal(err)
		}
	}
}
