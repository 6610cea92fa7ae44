package analyze

import (
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
)

var (
	cliAddr = netip.MustParseAddrPort("10.0.0.5:51234")
	srvAddr = netip.MustParseAddrPort("10.0.0.7:3389")
)

// seg builds a segment; dir is 'c' for client→server, 's' for the reverse.
type segSpec struct {
	dir     byte
	flags   capture.Flags
	seq     capture.Seq
	ack     capture.Seq
	win     uint16
	payload int
	ms      int64 // time in ms from the start
	opts    func(o *capture.Options)
}

func (s segSpec) build(pkt uint64) capture.Segment {
	g := capture.Segment{Packet: pkt, Time: s.ms * int64(time.Millisecond), Flags: s.flags, Seq: s.seq,
		Ack: s.ack, Window: s.win, Payload: s.payload, TTL: 64}
	src, dst := cliAddr, srvAddr
	if s.dir == 's' {
		src, dst = dst, src
	}
	g.Src, g.SrcPort, g.Dst, g.DstPort = src.Addr(), src.Port(), dst.Addr(), dst.Port()
	if s.opts != nil {
		s.opts(&g.Opts)
	}
	return g
}

// opts sets options from a p0f-style layout and values.
func opts(layout []uint8, mss uint16, ws capture.Shift) func(*capture.Options) {
	return func(o *capture.Options) {
		var b []byte
		for _, k := range layout {
			switch k {
			case capture.OptKindNOP:
				b = append(b, 1)
			case capture.OptKindMSS:
				b = append(b, 2, 4, byte(mss>>8), byte(mss))
			case capture.OptKindWScale:
				b = append(b, 3, 3, byte(ws))
			case capture.OptKindSACKPerm:
				b = append(b, 4, 2)
			case capture.OptKindTimestamp:
				b = append(b, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0)
			}
		}
		capture.ParseOptions(b, len(b), o)
	}
}

const (
	nop = capture.OptKindNOP
	mss = capture.OptKindMSS
	ws  = capture.OptKindWScale
	sok = capture.OptKindSACKPerm
	ts  = capture.OptKindTimestamp
)

var (
	linuxLayout   = []uint8{mss, sok, ts, nop, ws}
	windowsLayout = []uint8{mss, nop, ws, nop, nop, sok}
	noWSLinux     = []uint8{mss, sok, ts}
	syn           = capture.FlagSYN
	synack        = capture.FlagSYN | capture.FlagACK
	ack           = capture.FlagACK
	fin           = capture.FlagFIN | capture.FlagACK
	rst           = capture.FlagRST | capture.FlagACK
)

// runFlows feeds the segments to a fresh Analyzer and returns the flows it
// finished, in the order they were first seen.
func runFlows(t *testing.T, cfg Config, segs []segSpec) ([]Flow, *Analyzer) {
	t.Helper()
	var out []Flow
	a := New(cfg, func(f *Flow) { out = append(out, *f) })
	for i, s := range segs {
		g := s.build(uint64(i + 1))
		a.Add(&g)
	}
	a.Flush()
	// Flush finishes in activity order; tests read flows by start.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, a
}

// handshake returns a complete handshake with the given layouts and shifts.
func handshake(cl []uint8, cws capture.Shift, sl []uint8, sws capture.Shift) []segSpec {
	return []segSpec{
		{dir: 'c', flags: syn, seq: 1000, win: 64240, opts: opts(cl, 1460, cws)},
		{dir: 's', flags: synack, seq: 5000, ack: 1001, win: 65160, ms: 40, opts: opts(sl, 1460, sws)},
		{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, ms: 41},
	}
}

func TestNegotiation(t *testing.T) {
	tests := []struct {
		name        string
		segs        []segSpec
		handshake   Handshake
		scaling     Tri
		sack        Tri
		tstamps     Tri
		from        ScalingBasis
		clientBasis Basis
		clientShift capture.Shift
		serverBasis Basis
		serverShift capture.Shift
	}{
		{
			name:      "linux to linux scaled",
			segs:      handshake(linuxLayout, 7, linuxLayout, 9),
			handshake: HandshakeComplete, scaling: Yes, sack: Yes, tstamps: Yes,
			clientBasis: BasisNegotiated, clientShift: 7, serverBasis: BasisNegotiated, serverShift: 9,
		},
		{
			name:      "synack without ws turns scaling off both ways",
			segs:      handshake(linuxLayout, 7, noWSLinux, 0),
			handshake: HandshakeComplete, scaling: No, sack: Yes, tstamps: Yes,
			clientBasis: BasisNegotiated, clientShift: 0, serverBasis: BasisNegotiated, serverShift: 0,
		},
		{
			name:      "syn without ws answered by synack with ws 0",
			segs:      handshake(noWSLinux, 0, linuxLayout, 0),
			handshake: HandshakeComplete, scaling: No, sack: Yes, tstamps: Yes,
			clientBasis: BasisNegotiated, serverBasis: BasisNegotiated,
		},
		{
			name:      "windows syn to linux server",
			segs:      handshake(windowsLayout, 8, noWSLinux[:2], 0),
			handshake: HandshakeComplete, scaling: No, sack: Yes, tstamps: No,
			clientBasis: BasisNegotiated, serverBasis: BasisNegotiated,
		},
		{
			name:      "shift 255 is used as 14",
			segs:      handshake(linuxLayout, 255, linuxLayout, 7),
			handshake: HandshakeComplete, scaling: Yes, sack: Yes, tstamps: Yes,
			clientBasis: BasisNegotiated, clientShift: 14, serverBasis: BasisNegotiated, serverShift: 7,
		},
		{
			name:      "syn with ws and no synack leaves scale unknown",
			segs:      handshake(linuxLayout, 7, linuxLayout, 7)[:1],
			handshake: HandshakeSYNOnly, scaling: Unknown, sack: Unknown, tstamps: Unknown,
		},
		{
			name:      "syn without ws never answered negotiated nothing",
			segs:      handshake(noWSLinux, 0, linuxLayout, 7)[:1],
			handshake: HandshakeSYNOnly, scaling: Unknown, sack: Unknown, tstamps: Unknown,
		},
		{
			name: "syn without ws answered by data proves scaling off",
			segs: []segSpec{
				{dir: 'c', flags: syn, seq: 1000, win: 64240, opts: opts(noWSLinux, 1460, 0)},
				{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 65160, ms: 40},
			},
			handshake: HandshakeSYNOnly, scaling: No, sack: Unknown, tstamps: Unknown, from: ScalingFromSYN,
			clientBasis: BasisNegotiated, serverBasis: BasisNegotiated,
		},
		{
			name:      "synack without syn and without ws proves scaling off",
			segs:      handshake(linuxLayout, 7, noWSLinux, 0)[1:],
			handshake: HandshakeSYNACKOnly, scaling: No, sack: Unknown, tstamps: Yes, from: ScalingFromSYNACK,
			clientBasis: BasisNegotiated, serverBasis: BasisNegotiated,
		},
		{
			name:      "synack with ws but no syn proves scaling on with the server's shift",
			segs:      handshake(linuxLayout, 7, linuxLayout, 9)[1:],
			handshake: HandshakeSYNACKOnly, scaling: Yes, sack: Unknown, tstamps: Yes, from: ScalingFromSYNACK,
			serverBasis: BasisNegotiated, serverShift: 9,
		},
		{
			name:      "syn and synack without the final ack",
			segs:      handshake(linuxLayout, 7, linuxLayout, 7)[:2],
			handshake: HandshakeNoFinalACK, scaling: Yes, sack: Yes, tstamps: Yes,
			clientBasis: BasisNegotiated, clientShift: 7, serverBasis: BasisNegotiated, serverShift: 7,
		},
		{
			name: "windows third syn retry drops ws and is answered",
			segs: []segSpec{
				{dir: 'c', flags: syn, seq: 1000, win: 8192, opts: opts(windowsLayout, 1460, 8)},
				{dir: 'c', flags: syn, seq: 1000, win: 8192, ms: 3000, opts: opts(windowsLayout, 1460, 8)},
				{dir: 'c', flags: syn, seq: 1000, win: 8192, ms: 9000, opts: opts([]uint8{mss, nop, nop, sok}, 1460, 0)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, win: 65160, ms: 9040, opts: opts(linuxLayout, 1460, 7)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 64240, ms: 9041},
			},
			handshake: HandshakeComplete, scaling: No, sack: Yes, tstamps: No,
			clientBasis: BasisNegotiated, serverBasis: BasisNegotiated,
		},
		{
			name: "simultaneous open",
			segs: []segSpec{
				{dir: 'c', flags: syn, seq: 1000, win: 64240, opts: opts(linuxLayout, 1460, 7)},
				{dir: 's', flags: syn, seq: 5000, win: 64240, ms: 1, opts: opts(linuxLayout, 1460, 6)},
				{dir: 'c', flags: synack, seq: 1000, ack: 5001, win: 64240, ms: 2, opts: opts(linuxLayout, 1460, 7)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, win: 64240, ms: 3, opts: opts(linuxLayout, 1460, 6)},
			},
			handshake: HandshakeSimultaneous, scaling: Yes, sack: Yes, tstamps: Yes,
			clientBasis: BasisNegotiated, clientShift: 7, serverBasis: BasisNegotiated, serverShift: 6,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flows, _ := runFlows(t, Config{}, tc.segs)
			require.Len(t, flows, 1)
			f := flows[0]
			assert.Equal(t, tc.handshake.String(), f.Handshake.String(), "handshake")
			assert.Equal(t, tc.scaling.String(), f.Negotiated.Scaling.String(), "scaling")
			assert.Equal(t, tc.sack.String(), f.Negotiated.SACK.String(), "sack")
			assert.Equal(t, tc.tstamps.String(), f.Negotiated.Timestamps.String(), "timestamps")
			if tc.from != ScalingUnsettled {
				assert.Equal(t, tc.from.String(), f.Negotiated.ScalingFrom.String(), "scaling basis")
			}
			assert.Equal(t, tc.clientBasis.String(), f.Client.Shift.Basis.String(), "client basis")
			assert.Equal(t, tc.serverBasis.String(), f.Server.Shift.Basis.String(), "server basis")
			assert.Equal(t, tc.clientShift, f.Client.Shift.Value, "client shift")
			assert.Equal(t, tc.serverShift, f.Server.Shift.Value, "server shift")
			assert.Equal(t, cliAddr, f.Client.Addr)
		})
	}
}

func TestRetriedSYNIsPairedWithItsSYNACK(t *testing.T) {
	segs := []segSpec{
		{dir: 'c', flags: syn, seq: 1000, opts: opts(windowsLayout, 1460, 8)},
		{dir: 'c', flags: syn, seq: 1000, ms: 3000, opts: opts([]uint8{mss, nop, nop, sok}, 1460, 0)},
		{dir: 's', flags: synack, seq: 5000, ack: 1001, ms: 3050, opts: opts(linuxLayout, 1460, 7)},
		{dir: 'c', flags: ack, seq: 1001, ack: 5001, ms: 3051},
	}
	flows, _ := runFlows(t, Config{}, segs)
	require.Len(t, flows, 1)
	f := flows[0]
	assert.Equal(t, 2, f.SYNs)
	assert.True(t, f.SYNChanged)
	assert.Equal(t, uint64(1), f.SYN.Packet, "SYN is the first try")
	assert.Equal(t, uint64(2), f.AnsweredSYN.Packet, "the SYN-ACK answers the latest try")
	assert.Zero(t, f.ServerRTT, "Karn's rule: without timestamps the SYN-ACK may answer either try")
	assert.Equal(t, time.Duration(time.Millisecond), f.ClientRTT)
	assert.False(t, f.SYNACKAckMismatch)
}

func TestEffectiveWindowNeverScalesSYN(t *testing.T) {
	segs := append(handshake(linuxLayout, 7, linuxLayout, 9),
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 100, ms: 42},
		segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 0, ms: 50},
		segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 1000, ms: 150},
	)
	flows, _ := runFlows(t, Config{}, segs)
	require.Len(t, flows, 1)
	f := flows[0]
	// Client windows: 502, 0, 1000 (the SYN's 64240 is excluded).
	assert.Equal(t, uint64(3), f.Client.Window.Samples)
	assert.Equal(t, uint16(0), f.Client.Window.Min)
	assert.Equal(t, uint16(1000), f.Client.Window.Max)
	assert.Equal(t, uint16(502), f.Client.Window.Median)
	assert.Equal(t, uint32(1000<<7), f.Client.Shift.Value.Scale(f.Client.Window.Max))
	assert.Equal(t, uint64(1), f.Server.Window.Samples)
	assert.Equal(t, uint64(1), f.Client.ZeroWindows)
	assert.Equal(t, uint64(1), f.Client.ZeroEpisodes)
	assert.Equal(t, time.Duration(100*time.Millisecond), f.Client.ZeroTime)
}

func TestPortReuseStartsNewFlow(t *testing.T) {
	first := handshake(linuxLayout, 7, linuxLayout, 7)
	segs := append(first,
		segSpec{dir: 'c', flags: fin, seq: 1001, ack: 5001, win: 502, ms: 50},
		segSpec{dir: 's', flags: fin, seq: 5001, ack: 1002, win: 509, ms: 51},
		segSpec{dir: 'c', flags: ack, seq: 1002, ack: 5002, win: 502, ms: 52},
		segSpec{dir: 'c', flags: syn, seq: 90000, win: 64240, ms: 2000, opts: opts(noWSLinux, 1460, 0)},
		segSpec{dir: 's', flags: synack, seq: 7000, ack: 90001, win: 65160, ms: 2040, opts: opts(noWSLinux, 1460, 0)},
	)
	flows, a := runFlows(t, Config{}, segs)
	require.Len(t, flows, 2)
	assert.Equal(t, Yes, flows[0].Negotiated.Scaling)
	assert.Equal(t, No, flows[1].Negotiated.Scaling)
	assert.Equal(t, capture.Seq(90000), flows[1].SYN.ISN)
	assert.Equal(t, uint64(2), a.Stats().Flows)
}

func TestMidStreamInfersMinimumShift(t *testing.T) {
	// The server sends 3 × 1448 bytes beyond the client's last ACK while
	// the client's raw window is 100: only a shift of at least 6
	// (100<<6 = 6400 ≥ 4344) allows that.
	segs := []segSpec{
		{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 100, ms: 0},
		{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 500, payload: 1448, ms: 1},
		{dir: 's', flags: ack, seq: 6449, ack: 1001, win: 500, payload: 1448, ms: 2},
		{dir: 's', flags: ack, seq: 7897, ack: 1001, win: 500, payload: 1448, ms: 3},
	}
	flows, _ := runFlows(t, Config{}, segs)
	require.Len(t, flows, 1)
	f := flows[0]
	assert.Equal(t, HandshakeNone, f.Handshake)
	assert.Equal(t, Unknown, f.Negotiated.Scaling)
	assert.Equal(t, RoleFromPort, f.Roles, "port 3389 makes the server")
	assert.Equal(t, BasisInferred, f.Client.Shift.Basis)
	assert.Equal(t, capture.Shift(6), f.Client.Shift.Value)
	assert.Equal(t, uint64(4), f.Client.InferredPacket)
	assert.Equal(t, BasisUnknown, f.Server.Shift.Basis, "nothing proves the server's shift")
}

func TestInFlightAndRetransmissions(t *testing.T) {
	segs := append(handshake(linuxLayout, 7, linuxLayout, 0),
		// Server window 65160<<0 is ignored (SYN-ACK); its first ACK says 2000.
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 2000, ms: 42},
		segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 1000, ms: 43},
		segSpec{dir: 'c', flags: ack, seq: 2001, ack: 5001, win: 502, payload: 1000, ms: 44},
		// Beyond the 2000-byte window: over-window.
		segSpec{dir: 'c', flags: ack, seq: 3001, ack: 5001, win: 502, payload: 500, ms: 45},
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 2001, win: 2000, ms: 83},
		// Retransmission of the second segment.
		segSpec{dir: 'c', flags: ack, seq: 2001, ack: 5001, win: 502, payload: 1000, ms: 300},
	)
	flows, _ := runFlows(t, Config{}, segs)
	require.Len(t, flows, 1)
	c := flows[0].Client
	assert.Equal(t, uint64(4), c.DataPackets)
	assert.Equal(t, uint64(1), c.RetransPackets)
	assert.Equal(t, uint64(2500), c.UniqueBytes)
	assert.Equal(t, uint32(2500), c.MaxInFlight)
	assert.Equal(t, uint64(1), c.OverWindowPackets)
	assert.Equal(t, uint32(500), c.MaxOverWindow)
	assert.Equal(t, uint64(7), c.FirstOverPacket)
	require.Equal(t, uint64(1), c.RTT.Samples)
	assert.Equal(t, time.Duration(40*time.Millisecond), c.RTT.Min, "data at 43 ms acknowledged at 83 ms")
}

func TestFlowTableBounds(t *testing.T) {
	synTo := func(port uint16, ms int64) segSpec {
		s := segSpec{dir: 'c', flags: syn, seq: capture.Seq(port), ms: ms, opts: opts(linuxLayout, 1460, 7)}
		return s
	}
	t.Run("cap evicts the least recently active", func(t *testing.T) {
		var segs []segSpec
		for i := range 5 {
			segs = append(segs, synTo(uint16(i), int64(i)))
		}
		var got []Flow
		a := New(Config{MaxFlows: 2}, func(f *Flow) { got = append(got, *f) })
		for i, s := range segs {
			g := s.build(uint64(i + 1))
			g.SrcPort = uint16(40000 + i)
			a.Add(&g)
			assert.LessOrEqual(t, a.Live(), 2)
		}
		a.Flush()
		assert.Len(t, got, 5)
		assert.Equal(t, uint64(3), a.Stats().Evicted)
		assert.True(t, got[0].Evicted)
		assert.Equal(t, 2, a.Stats().PeakFlows)
	})
	t.Run("unanswered syns expire after the linger time", func(t *testing.T) {
		var got []Flow
		a := New(Config{Linger: time.Second}, func(f *Flow) { got = append(got, *f) })
		for i := range 10 {
			g := synTo(0, int64(i)*1000).build(uint64(i + 1))
			g.SrcPort = uint16(40000 + i)
			a.Add(&g)
		}
		assert.LessOrEqual(t, a.Live(), 3, "flows quiet for more than a second are finished")
		assert.GreaterOrEqual(t, len(got), 7)
		assert.Zero(t, a.Stats().Evicted)
	})
}

func TestAddDoesNotAllocate(t *testing.T) {
	a := New(Config{}, func(*Flow) {})
	hs := handshake(linuxLayout, 7, linuxLayout, 7)
	for i, s := range hs {
		g := s.build(uint64(i + 1))
		a.Add(&g)
	}
	data := segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 1448, ms: 50}.build(10)
	ackSeg := segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 3000, ms: 51}.build(11)
	allocs := testing.AllocsPerRun(1000, func() {
		data.Seq = data.Seq.Add(1448)
		data.Time += 1000
		a.Add(&data)
		ackSeg.Ack = data.Seq
		ackSeg.Time += 1000
		ackSeg.Window = uint16(3000 + data.Seq%7) // few distinct values: the exact table
		a.Add(&ackSeg)
	})
	assert.Zero(t, allocs, "steady-state Add must not allocate")
}

func BenchmarkAnalyzerAdd(b *testing.B) {
	a := New(Config{}, func(*Flow) {})
	for i, s := range handshake(linuxLayout, 7, linuxLayout, 7) {
		g := s.build(uint64(i + 1))
		a.Add(&g)
	}
	data := segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 1448, ms: 50}.build(10)
	ackSeg := segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 3000, ms: 51}.build(11)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data.Seq = data.Seq.Add(1448)
		a.Add(&data)
		ackSeg.Ack = data.Seq
		ackSeg.Window = uint16(i)
		a.Add(&ackSeg)
	}
}

func TestEndedFlowsLeaveAfterTheClosedLinger(t *testing.T) {
	opened := append(handshake(linuxLayout, 7, linuxLayout, 7),
		segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 100, ms: 50},
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1101, win: 509, ms: 90},
	)
	finBothWays := []segSpec{
		{dir: 'c', flags: fin, seq: 1101, ack: 5001, win: 502, ms: 100},
		{dir: 's', flags: fin, seq: 5001, ack: 1102, win: 509, ms: 140},
	}
	lastACK := segSpec{dir: 'c', flags: ack, seq: 1102, ack: 5002, win: 502, ms: 141}
	for _, tc := range []struct {
		name  string
		close []segSpec
		ended bool
	}{
		{"FIN both ways and the last FIN acknowledged", append(finBothWays, lastACK), true},
		{"a reset", []segSpec{{dir: 's', flags: rst, seq: 5001, ack: 1101, ms: 100}}, true},
		{"FIN both ways, the last FIN unacknowledged", finBothWays, false},
		{"FIN one way", finBothWays[:1], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []Flow
			a := New(Config{}, func(f *Flow) { got = append(got, *f) })
			for i, s := range append(append([]segSpec{}, opened...), tc.close...) {
				g := s.build(uint64(i + 1))
				a.Add(&g)
			}
			require.Equal(t, 1, a.Live())
			// Another flow's packets move the capture clock on, past the
			// closed linger but well inside the linger.
			for i, ms := range []int64{1200, 2300, 3400} {
				g := segSpec{dir: 'c', flags: syn, seq: 1, ms: ms, opts: opts(linuxLayout, 1460, 7)}.build(uint64(100 + i))
				g.SrcPort = 40000
				a.Add(&g)
			}
			if tc.ended {
				assert.Len(t, got, 1, "finished once quiet for DefaultClosedLinger")
				assert.Equal(t, 1, a.Live())
			} else {
				assert.Empty(t, got, "kept for late packets until the linger time")
				assert.Equal(t, 2, a.Live())
			}
		})
	}
}

// TestFlowStateSizeClass keeps a live flow's state within Go's 2 KiB
// allocation size class: one byte more and it takes a 2,304-byte slot,
// 12% more memory for every live flow.
func TestFlowStateSizeClass(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(flowState{}), uintptr(2048),
		"flowState must fit the 2048-byte size class; pack fields or move rarely used ones out")
}

// TestQuietFlowsFollowTheirLastPacket: a flow active again within
// touchSlack of its last move stays where it was in its list, behind
// flows moved after it. Expiry and Flush still go by each flow's last
// packet: it is not finished while it has been quiet for less than the
// linger time, and flows are finished oldest activity first.
func TestQuietFlowsFollowTheirLastPacket(t *testing.T) {
	syn := func(port uint16, ms int64, pkt uint64) capture.Segment {
		g := segSpec{dir: 'c', flags: syn, seq: capture.Seq(port), ms: ms, opts: opts(linuxLayout, 1460, 7)}.build(pkt)
		g.SrcPort = port
		return g
	}
	// A at 0 ms, B at 10 ms, A's SYN again at 50 ms: A was last moved at
	// 0 ms and sits at the tail, its last packet after B's.
	opening := []capture.Segment{syn(40001, 0, 1), syn(40002, 10, 2), syn(40001, 50, 3)}
	t.Run("expiry", func(t *testing.T) {
		var got []uint16
		a := New(Config{Linger: time.Second}, func(f *Flow) { got = append(got, f.Client.Addr.Port()) })
		for _, g := range opening {
			a.Add(&g)
		}
		// Another flow moves the clock: 1.03 s is past B's linger (last
		// packet at 10 ms), not A's (50 ms).
		c := syn(40003, 1030, 4)
		a.Add(&c)
		assert.Equal(t, []uint16{40002}, got, "B only: A was active 0.98 s ago")
		c = syn(40003, 2060, 5)
		a.Add(&c)
		assert.Equal(t, []uint16{40002, 40001}, got, "A once quiet for more than a second")
	})
	t.Run("flush", func(t *testing.T) {
		var got []uint16
		a := New(Config{Linger: time.Second}, func(f *Flow) { got = append(got, f.Client.Addr.Port()) })
		for _, g := range opening {
			a.Add(&g)
		}
		a.Flush()
		assert.Equal(t, []uint16{40002, 40001}, got, "oldest activity first: B's last packet came before A's")
	})
}
