package pathdiff

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

// onlyPair returns the single pair of res, failing t otherwise.
func onlyPair(t *testing.T, res *analyze.DiffResult) *analyze.FlowPair {
	t.Helper()
	require.Len(t, res.Pairs, 1, "pairs")
	return &res.Pairs[0]
}

func signalCount(p *analyze.FlowPair, s analyze.PairSignal) int {
	for _, c := range p.Signals {
		if c.Signal == s {
			return c.Count
		}
	}
	return 0
}

func TestDiffSynthetic(t *testing.T) {
	noTS := baseConn()
	noTS.tsC, noTS.tsS = 0, 0
	fitsTwo := baseConn() // a raw window of two segments and more, shift 4
	fitsTwo.winC, fitsTwo.shiftC = 4000, 4
	tests := []struct {
		name  string
		conn  synthConn
		path  func(p *synthPath)
		check func(t *testing.T, res *analyze.DiffResult, p *analyze.FlowPair)
	}{
		{
			name: "clean path", conn: baseConn(),
			check: func(t *testing.T, res *analyze.DiffResult, p *analyze.FlowPair) {
				assert.False(t, p.NAT)
				assert.Equal(t, analyze.CaptureA, p.ClientSide)
				assert.Equal(t, 1, signalCount(p, analyze.SignalTuple))
				assert.Equal(t, 2, signalCount(p, analyze.SignalISN))
				for d := range 2 {
					dd := &p.Dirs[d]
					assert.True(t, dd.Compared)
					assert.Zero(t, dd.SeqOffset)
					assert.Equal(t, [2]uint64{}, dd.Only, "nothing lost or made on the path")
					assert.True(t, dd.HopsOK)
					assert.Equal(t, 3, dd.Hops)
					assert.InDelta(t, 10e6, float64(dd.Delay), 1e6, "one-way delay")
					assert.Zero(t, dd.WindowRewrites)
				}
				assert.Equal(t, analyze.CaptureA, p.Dirs[analyze.ClientToServer].Upstream)
				assert.Equal(t, analyze.CaptureB, p.Dirs[analyze.ServerToClient].Upstream)
				assert.True(t, p.SYN.Compared)
				assert.Empty(t, p.SYN.Options)
				assert.Empty(t, p.SYNACK.Options)
				assert.False(t, p.SYNACK.Originated)
				assert.InDelta(t, 0, float64(res.ClockOffset), 1e5)
			},
		},
		{
			name: "nat rewrites the client's address and port", conn: baseConn(),
			path: func(p *synthPath) { p.nat = netip.MustParseAddrPort("203.0.113.7:61001") },
			check: func(t *testing.T, _ *analyze.DiffResult, p *analyze.FlowPair) {
				assert.True(t, p.NAT)
				assert.Zero(t, signalCount(p, analyze.SignalTuple))
				assert.Equal(t, "203.0.113.7:61001", p.Sender(analyze.ClientToServer, analyze.CaptureB, &analyze.Flow{}, &analyze.Flow{Client: analyze.Endpoint{Addr: netip.MustParseAddrPort("203.0.113.7:61001")}}).Addr.String())
				assert.NotZero(t, p.Dirs[analyze.ClientToServer].Matched)
			},
		},
		{
			name: "firewall randomizes the client's sequence numbers", conn: baseConn(),
			path: func(p *synthPath) { p.seqOffset = 0x9e3779b9 },
			check: func(t *testing.T, _ *analyze.DiffResult, p *analyze.FlowPair) {
				assert.Equal(t, capture.Seq(0x9e3779b9), p.Dirs[analyze.ClientToServer].SeqOffset)
				assert.Zero(t, p.Dirs[analyze.ServerToClient].SeqOffset)
				assert.Equal(t, 1, signalCount(p, analyze.SignalISN), "only the server's ISN survives")
				assert.Equal(t, [2]uint64{}, p.Dirs[analyze.ServerToClient].Only, "acks translated back match")
				assert.Equal(t, capture.Seq(0x9e3779b9), p.SYN.ISNOffset)
			},
		},
		{
			name: "nat and sequence randomization with B's clock 3 s ahead", conn: baseConn(),
			path: func(p *synthPath) {
				p.nat, p.seqOffset, p.clock = netip.MustParseAddrPort("203.0.113.7:61001"), 12345, 3*time.Second
			},
			check: func(t *testing.T, res *analyze.DiffResult, p *analyze.FlowPair) {
				assert.InDelta(t, 3e9, float64(res.ClockOffset), 1e5, "clock offset B − A")
				assert.Equal(t, 1, res.ClockPairs)
				assert.Equal(t, capture.Seq(12345), p.Dirs[analyze.ClientToServer].SeqOffset)
				assert.InDelta(t, 10e6, float64(p.Dirs[analyze.ClientToServer].Delay), 1e6)
				assert.Equal(t, [2]uint64{}, p.Dirs[analyze.ClientToServer].Only)
			},
		},
		{
			name: "tcpoptstrip overwrites the syn's window scale with nops", conn: baseConn(),
			path: func(p *synthPath) { p.stripWS = true },
			check: func(t *testing.T, _ *analyze.DiffResult, p *analyze.FlowPair) {
				require.Len(t, p.SYN.Options, 1)
				o := p.SYN.Options[0]
				assert.Equal(t, analyze.OptionDiff{Kind: capture.OptKindWScale, Change: analyze.OptionRemoved, Sent: 7, NOPs: true}, o)
				assert.Equal(t, "mss,sok,ts,nop,ws", p.SYN.LayoutSent)
				assert.Equal(t, "mss,sok,ts,nop,nop,nop,nop", p.SYN.LayoutReceived)
				assert.Equal(t, analyze.CaptureA, p.SYN.SentIn)
			},
		},
		{
			name: "path zeroes the syn's shift", conn: baseConn(),
			path: func(p *synthPath) { p.zeroShift = true },
			check: func(t *testing.T, _ *analyze.DiffResult, p *analyze.FlowPair) {
				require.Len(t, p.SYN.Options, 1)
				assert.Equal(t, analyze.OptionDiff{Kind: capture.OptKindWScale, Change: analyze.OptionValue, Sent: 7, Received: 0}, p.SYN.Options[0])
			},
		},
		{
			name: "path rewrites the client's window fields", conn: baseConn(),
			path: func(p *synthPath) { p.winField = 65535 },
			check: func(t *testing.T, _ *analyze.DiffResult, p *analyze.FlowPair) {
				d := &p.Dirs[analyze.ClientToServer]
				assert.NotZero(t, d.WindowRewrites)
				assert.Equal(t, uint16(502), d.WindowA)
				assert.Equal(t, uint16(65535), d.WindowB)
				assert.NotZero(t, d.FirstWindowRewrite.A.Packet)
				assert.NotZero(t, d.FirstWindowRewrite.B.Packet)
				assert.Zero(t, p.Dirs[analyze.ServerToClient].WindowRewrites)
			},
		},
		{
			name: "firewall drops data beyond the unscaled window, data within arrives", conn: fitsTwo,
			path: func(p *synthPath) { p.unscaled = true },
			check: func(t *testing.T, _ *analyze.DiffResult, p *analyze.FlowPair) {
				u := p.Dirs[analyze.ServerToClient].Unscaled
				assert.GreaterOrEqual(t, u.BeyondLost, uint64(10))
				assert.Equal(t, u.BeyondSent, u.BeyondLost, "nothing beyond the edge arrives")
				assert.Zero(t, u.WithinLost)
				assert.NotZero(t, u.WithinSent)
				assert.GreaterOrEqual(t, u.MaxWithinDelivered, u.MinBeyondLost, "full segments arrived within the edge")
				assert.Equal(t, uint16(4000), u.Window)
				assert.NotZero(t, u.FirstBeyondLost.B.Packet, "the lost segment, at the server's end")
				assert.NotZero(t, u.FirstBeyondLost.A.Packet, "the client's ACK that set the edge")
				assert.Equal(t, p.Dirs[analyze.ServerToClient].OnlyData[analyze.CaptureB], u.BeyondLost)
			},
		},
		{
			name: "path loses two segments", conn: baseConn(),
			path: func(p *synthPath) { p.lose = map[int]bool{3: true, 7: true} },
			check: func(t *testing.T, _ *analyze.DiffResult, p *analyze.FlowPair) {
				d := &p.Dirs[analyze.ServerToClient]
				assert.Equal(t, [2]uint64{0, 2}, d.OnlyData, "two data segments seen only at the server's end")
				assert.Equal(t, uint64(2*synthMSS), d.OnlyBytes[analyze.CaptureB])
				assert.NotZero(t, d.FirstOnly[analyze.CaptureB].Packet)
			},
		},
		{
			name: "segmentation offload at both ends: super-segments match their pieces", conn: baseConn(),
			path: func(p *synthPath) { p.tso, p.gro = 8, 3 },
			check: func(t *testing.T, _ *analyze.DiffResult, p *analyze.FlowPair) {
				d := &p.Dirs[analyze.ServerToClient]
				assert.NotZero(t, d.Resegmented)
				assert.Equal(t, [2]uint64{}, d.OnlyData, "nothing lost: the bytes arrived in other packets")
			},
		},
		{
			name: "segmentation offload and a lost segment", conn: baseConn(),
			path: func(p *synthPath) { p.tso, p.lose = 4, map[int]bool{5: true} },
			check: func(t *testing.T, _ *analyze.DiffResult, p *analyze.FlowPair) {
				d := &p.Dirs[analyze.ServerToClient]
				assert.Equal(t, uint64(1), d.OnlyData[analyze.CaptureB], "the super-segment that lost a piece")
				assert.Equal(t, uint64(synthMSS), d.OnlyBytes[analyze.CaptureB], "one segment's bytes are missing")
				assert.Zero(t, d.OnlyData[analyze.CaptureA])
			},
		},
		{
			name: "without timestamps ip ids and isns pair the flow", conn: noTS,
			path: func(p *synthPath) { p.nat = netip.MustParseAddrPort("203.0.113.7:61001") },
			check: func(t *testing.T, _ *analyze.DiffResult, p *analyze.FlowPair) {
				assert.Zero(t, signalCount(p, analyze.SignalTimestamps))
				assert.NotZero(t, signalCount(p, analyze.SignalIPID))
				assert.Equal(t, [2]uint64{}, p.Dirs[analyze.ServerToClient].Only)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := basePath()
			if tc.path != nil {
				tc.path(&path)
			}
			a, b := writeSynth(t, t.TempDir(), []synthConn{tc.conn}, []synthPath{path})
			res := diffFiles(t, a, b)
			p := onlyPair(t, res)
			assert.Equal(t, analyze.PairHigh, p.Confidence, "score %.3f %v", p.Score, p.Signals)
			tc.check(t, res, p)
		})
	}
}

// TestDiffPairsParallelFlowsThroughNAT pairs many concurrent downloads of
// the same content from one client through a NAT that hands out ports in
// another order: only timestamps, IP IDs, ISNs and timing tell them
// apart, and every one must pair with its own copy.
func TestDiffPairsParallelFlowsThroughNAT(t *testing.T) {
	const n = 40
	rng := rand.New(rand.NewPCG(7, 11))
	perm := rng.Perm(n)
	var conns []synthConn
	var paths []synthPath
	for i := range n {
		c := baseConn()
		c.client = netip.AddrPortFrom(c.client.Addr(), uint16(40000+i))
		c.start = time.Duration(i) * 3 * time.Millisecond
		c.isnC, c.isnS = rng.Uint32(), rng.Uint32()
		c.ipidC, c.ipidS = uint16(rng.Uint32()), uint16(rng.Uint32())
		// One TS clock per host, as Linux keys the offset by address pair.
		c.tsC, c.tsS = 4_000_000+uint32(c.start/time.Millisecond), 9_000_000+uint32(c.start/time.Millisecond)
		c.response = 16 << 10
		p := basePath()
		p.nat = netip.AddrPortFrom(netip.MustParseAddr("203.0.113.7"), uint16(61000+perm[i]))
		conns, paths = append(conns, c), append(paths, p)
	}
	a, b := writeSynth(t, t.TempDir(), conns, paths)
	res := diffFiles(t, a, b)
	require.Len(t, res.Pairs, n)
	right := 0
	for _, p := range res.Pairs {
		fa, fb := &res.Sides[0].Flows[p.A], &res.Sides[1].Flows[p.B]
		i := int(fa.Client.Addr.Port()) - 40000
		if fb.Client.Addr.Port() == uint16(61000+perm[i]) {
			right++
		}
		assert.Equal(t, analyze.PairHigh, p.Confidence, "flow %s: score %.3f %v", fa.Client.Addr, p.Score, p.Signals)
	}
	assert.Equal(t, n, right, "flows paired with their own copy")
}

// TestDiffIdenticalParallelFlows strips what tells identical parallel
// downloads apart — no timestamps, IP ID zero, NAT, the client's sequence
// numbers randomized — so only the servers' ISNs are left; when those are
// not distinctive either, nothing may be paired above low confidence.
func TestDiffIdenticalParallelFlows(t *testing.T) {
	for _, tc := range []struct {
		name     string
		isnS     func(i int) uint32
		wantConf analyze.PairConfidence
	}{
		{"the servers' isns still tell them apart", func(i int) uint32 { return uint32(5000*i + 7) }, analyze.PairMedium},
		{"nothing tells them apart", func(int) uint32 { return 7 }, analyze.PairLow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conns []synthConn
			var paths []synthPath
			for i := range 6 {
				c := baseConn()
				c.client = netip.AddrPortFrom(c.client.Addr(), uint16(40000+i))
				c.tsC, c.tsS, c.ipidC, c.ipidS = 0, 0, 0, 0
				c.isnC, c.isnS = uint32(1000*i+1), tc.isnS(i)
				c.response = 8 << 10
				p := basePath()
				p.nat = netip.AddrPortFrom(netip.MustParseAddr("203.0.113.7"), uint16(61005-i))
				p.seqOffset = uint32(77777 * (i + 1))
				conns, paths = append(conns, c), append(paths, p)
			}
			a, b := writeSynth(t, t.TempDir(), conns, paths)
			res := diffFiles(t, a, b)
			if tc.wantConf > analyze.PairLow {
				assert.Len(t, res.Pairs, len(conns))
			}
			for _, p := range res.Pairs {
				fa, fb := &res.Sides[0].Flows[p.A], &res.Sides[1].Flows[p.B]
				assert.LessOrEqual(t, p.Confidence, tc.wantConf, "score %.3f %v", p.Score, p.Signals)
				if p.Confidence > analyze.PairLow {
					assert.Equal(t, 61005-int(fa.Client.Addr.Port()-40000), int(fb.Client.Addr.Port()), "paired with its own copy")
				}
			}
		})
	}
}

// TestDiffUnrelatedCaptures compares two captures of different
// connections that look alike — same addresses and ports, same content —
// but are not one connection: other ISNs, timestamp clocks and IP IDs.
func TestDiffUnrelatedCaptures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *synthConn)
	}{
		{"same tuple and content, another run", func(c *synthConn) {
			c.isnC, c.isnS, c.tsC, c.tsS, c.ipidC, c.ipidS = 77, 88, 123_456, 654_321, 4242, 31337
			c.start = 40 * time.Second
		}},
		{"another run without timestamps", func(c *synthConn) {
			c.isnC, c.isnS, c.tsC, c.tsS, c.ipidC, c.ipidS = 77, 88, 0, 0, 4242, 31337
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, y := baseConn(), baseConn()
			tc.change(&y)
			if y.tsC == 0 {
				x.tsC, x.tsS = 0, 0
			}
			dir := t.TempDir()
			ax, _ := writeSynth(t, t.TempDir(), []synthConn{x}, []synthPath{basePath()})
			_, by := writeSynth(t, dir, []synthConn{y}, []synthPath{basePath()})
			res := diffFiles(t, ax, by)
			for _, p := range res.Pairs {
				assert.Equal(t, analyze.PairLow, p.Confidence, "score %.3f %v", p.Score, p.Signals)
			}
		})
	}
}

func TestPairSketchKeepsTheSmallestTokens(t *testing.T) {
	var k pairSketch
	for _, h := range []uint64{50, 10, 40, 30, 20, 10, 60} {
		k.add(pairSample{h: h})
	}
	var got []uint64
	for _, s := range k.s {
		got = append(got, s.h)
	}
	assert.Equal(t, []uint64{10, 20, 30, 40, 50, 60}, got, "sorted, each token once")
	assert.True(t, k.s[0].dup, "a token seen twice is a retransmission: it pairs nothing")
	for h := range uint64(100) {
		k.add(pairSample{h: 1000 + h})
	}
	assert.Len(t, k.s, sketchSize, "bounded")
	assert.Equal(t, uint64(10), k.s[0].h)
	k.add(pairSample{h: 1})
	assert.Equal(t, uint64(1), k.s[0].h, "a smaller token displaces the largest")
	assert.Len(t, k.s, sketchSize)
}

func TestSketchesFollowTheTablesFlowsAcrossPortReuse(t *testing.T) {
	c, srv := netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("192.0.2.2:80")
	seg := func(from, to netip.AddrPort, fl capture.Flags, seq capture.Seq, ipid uint16) capture.Segment {
		return capture.Segment{Src: from.Addr(), Dst: to.Addr(), SrcPort: from.Port(), DstPort: to.Port(), Flags: fl,
			Seq: seq, IPID: ipid, TTL: 64}
	}
	segs := []capture.Segment{
		seg(c, srv, capture.FlagSYN, 100, 1),
		seg(c, srv, capture.FlagSYN, 100, 2), // retransmitted: same flow
		seg(srv, c, capture.FlagSYN|capture.FlagACK, 900, 3),
		seg(c, srv, capture.FlagACK, 101, 4),
		seg(c, srv, capture.FlagSYN, 5000, 5), // a new ISN: a new flow
		seg(srv, c, capture.FlagSYN|capture.FlagACK, 7000, 6),
	}
	var pkt capture.Packet
	sk := newSketcher()
	sk.pkt = &pkt
	a := analyze.New(analyze.Config{Observer: sk}, sk.finished)
	for i := range segs {
		segs[i].Packet, segs[i].Time = uint64(i+1), int64(i)*int64(time.Millisecond)
		a.Add(&segs[i])
	}
	a.Flush()
	require.Len(t, sk.flows, 2, "one digest per flow of the table")
	assert.Len(t, sk.live.free, len(sk.live.v), "finished flows leave no live sketches")
	for i, want := range []struct {
		fromX, toX int // IP ID samples per direction
		synISN     capture.Seq
	}{{3, 1, 100}, {1, 1, 5000}} {
		f := &sk.flows[i]
		assert.Equal(t, c, f.x, "flow %d: its first sender", i+1)
		from, to := f.sketchAt(0, int(analyze.SignalIPID)), f.sketchAt(1, int(analyze.SignalIPID))
		assert.Equal(t, want.fromX, int(from[1]-from[0]), "flow %d: from its first sender", i+1)
		assert.Equal(t, want.toX, int(to[1]-to[0]), "flow %d: to it", i+1)
		assert.Equal(t, want.synISN, f.syn.isn, "flow %d", i+1)
	}
}

func TestHandshakeOptionDiffs(t *testing.T) {
	parse := func(b ...byte) capture.Options {
		var o capture.Options
		capture.ParseOptions(b, len(b), &o)
		return o
	}
	mss := func(v uint16) []byte { return []byte{2, 4, byte(v >> 8), byte(v)} }
	sok := []byte{4, 2}
	ts := func(v uint32) []byte {
		return []byte{8, 10, byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v), 0, 0, 0, 0}
	}
	ws := func(s byte) []byte { return []byte{3, 3, s} }
	nop := []byte{1}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	linux := cat(mss(1460), sok, ts(5), nop, ws(7))
	tests := []struct {
		name string
		recv []byte
		want []analyze.OptionDiff
	}{
		{"unchanged", linux, nil},
		{"tcpoptstrip turns ws into nops", cat(mss(1460), sok, ts(5), nop, nop, nop, nop),
			[]analyze.OptionDiff{{Kind: capture.OptKindWScale, Change: analyze.OptionRemoved, Sent: 7, NOPs: true}}},
		{"ws removed and the header repacked", cat(mss(1460), sok, ts(5)),
			[]analyze.OptionDiff{{Kind: capture.OptKindWScale, Change: analyze.OptionRemoved, Sent: 7}}},
		{"shift zeroed", cat(mss(1460), sok, ts(5), nop, ws(0)),
			[]analyze.OptionDiff{{Kind: capture.OptKindWScale, Change: analyze.OptionValue, Sent: 7}}},
		{"mss clamped and sack-permitted stripped with nops", cat(mss(1360), nop, nop, ts(5), nop, ws(7)),
			[]analyze.OptionDiff{{Kind: capture.OptKindMSS, Change: analyze.OptionValue, Sent: 1460, Received: 1360},
				{Kind: capture.OptKindSACKPerm, Change: analyze.OptionRemoved, NOPs: true}}},
		{"timestamps rewritten", cat(mss(1460), sok, ts(99), nop, ws(7)),
			[]analyze.OptionDiff{{Kind: capture.OptKindTimestamp, Change: analyze.OptionValue, Sent: 5, Received: 99}}},
		{"an unknown option added", cat(mss(1460), sok, ts(5), nop, ws(7), []byte{253, 4, 0, 0}),
			[]analyze.OptionDiff{{Kind: 253, Change: analyze.OptionAdded}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sent, recv := parse(linux...), parse(tc.recv...)
			assert.Equal(t, tc.want, handshakeOptionDiffs(&sent, &recv))
		})
	}
}

// TestClassifyAgainstTheUnscaledEdge places data segments leaving the
// server's capture (B, upstream) against the client's ACKs as each capture
// saw them. The client's capture sees its ACKs half a round trip before a
// firewall in front of the server does, so only the edge both captures
// had seen says where that firewall drew it.
func TestClassifyAgainstTheUnscaledEdge(t *testing.T) {
	ack := func(at capture.Seq, win uint16, packet uint64) diffAck {
		return diffAck{ok: true, ack: at, win: win, packet: packet}
	}
	const base = capture.Seq(1000)
	seen, inFlight := ack(base, 4000, 7), ack(base+2896, 4000, 9) // at the server's end, at the client's
	tests := []struct {
		name           string
		acked          [2]diffAck // A (the client's end), B (the server's end)
		seq            capture.Seq
		want           int8
		wantFrom       analyze.Capture
		wantWin        uint16
		wantExcess     uint32
		wantEdgePacket uint64
	}{
		{"within the edge both captures saw", [2]diffAck{inFlight, seen}, base + 1000, edgeWithin, analyze.CaptureA, 4000, 0, 9},
		{"ending exactly at the nearer edge", [2]diffAck{inFlight, seen}, base + 4000 - 1448, edgeWithin, analyze.CaptureA, 4000, 0, 9},
		{"past the server's edge, within the client's: acks in flight", [2]diffAck{inFlight, seen}, base + 4000, edgeBetween, analyze.CaptureA, 4000, 0, 9},
		{"past both edges", [2]diffAck{inFlight, seen}, base + 6000, edgeBeyond, analyze.CaptureA, 4000, 6000 + 1448 - 6896, 9},
		{"only the server's capture saw an ack", [2]diffAck{{}, seen}, base + 4000, edgeBeyond, analyze.CaptureB, 4000, 1448, 7},
		{"only the client's capture saw an ack", [2]diffAck{inFlight, {}}, base + 4000, edgeWithin, analyze.CaptureA, 4000, 0, 9},
		{"the window shrank: the larger edge is the far one", [2]diffAck{ack(base+1448, 1000, 9), seen}, base + 2000, edgeBetween, analyze.CaptureB, 4000, 0, 7},
		{"no ack yet", [2]diffAck{}, base, edgeNone, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := dirState{acked: tc.acked}
			v := pendingSeg{seq: tc.seq, payload: 1448}
			ds.classify(&v, analyze.CaptureB)
			assert.Equal(t, tc.want, v.edge)
			if tc.want == edgeNone {
				return
			}
			assert.Equal(t, tc.wantFrom, v.edgeFrom, "the capture of the ACK that set the far edge")
			assert.Equal(t, tc.wantWin, v.edgeWin)
			assert.Equal(t, tc.wantEdgePacket, v.edgeAck.packet)
			assert.Equal(t, tc.wantExcess, v.excess)
		})
	}
}

func TestPendingQueueIsBounded(t *testing.T) {
	var q pendingQueue
	dropped := 0
	for i := range diffMaxPending + 10 {
		if d := q.push(pendingSeg{packet: uint64(i + 1)}); d != nil {
			dropped++
			assert.Equal(t, uint64(dropped), d.packet, "the oldest goes first")
		}
	}
	assert.Equal(t, 10, dropped)
	assert.Equal(t, diffMaxPending, len(q.s)-q.head)
	q.take(q.head)
	q.trim()
	assert.Equal(t, uint64(12), q.s[q.head].packet, "matched segments at the head are dropped")
}

func TestPendingQueueMatchedBehindAWaitingSegmentTakeNoRoom(t *testing.T) {
	// A lost segment waits at the head for its horizon while the
	// segments after it are matched as they come: they must neither fill
	// the queue nor push the waiting one out, and the scan for a match
	// must not walk them.
	var q pendingQueue
	require.Nil(t, q.push(pendingSeg{packet: 1}))
	for i := range 4 * diffMaxPending {
		require.Nil(t, q.push(pendingSeg{packet: uint64(i + 2)}), "segment %d pushed out a live one", i+2)
		q.take(len(q.s) - 1)
		q.trim()
	}
	assert.Equal(t, 1, q.live())
	assert.Equal(t, uint64(1), q.s[q.head].packet, "the waiting segment is still at the head")
	assert.LessOrEqual(t, len(q.s)-q.head, 2*compactMin+1, "gone segments are squeezed out")
}

func TestDiffOpenErrors(t *testing.T) {
	missing := analyze.Opener(func() (capture.Source, error) { return capture.Open("/nonexistent/a.pcap") })
	_, err := Diff([2]analyze.Opener{missing, missing}, analyze.Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a.pcap")
}

func BenchmarkDiff(b *testing.B) {
	var conns []synthConn
	var paths []synthPath
	for i := range 20 {
		c := baseConn()
		c.client = netip.AddrPortFrom(c.client.Addr(), uint16(40000+i))
		c.isnC, c.start = uint32(i*7919), time.Duration(i)*time.Millisecond
		conns, paths = append(conns, c), append(paths, basePath())
	}
	a, bb := writeSynth(b, b.TempDir(), conns, paths)
	b.ReportAllocs()
	for b.Loop() {
		res := diffFiles(b, a, bb)
		if len(res.Pairs) != len(conns) {
			b.Fatal(fmt.Sprint(len(res.Pairs), " pairs"))
		}
	}
}

// TestSketcherDoesNotAllocatePerPacket samples the segments of a known
// flow: once its sketches exist, a packet costs no allocation.
func TestSketcherDoesNotAllocatePerPacket(t *testing.T) {
	a, _ := writeSynth(t, t.TempDir(), []synthConn{baseConn()}, []synthPath{basePath()})
	src, err := capture.Open(a)
	require.NoError(t, err)
	defer src.Close()
	var pkt capture.Packet
	o := newSketcher()
	o.pkt = &pkt
	flow := &analyze.Flow{ID: 1}
	var pkts []capture.Packet
	var segs []capture.Segment
	var dec capture.Decoder
	for {
		var p capture.Packet
		if src.Next(&p) != nil {
			break
		}
		p.Data = append([]byte(nil), p.Data...)
		var seg capture.Segment
		if dec.Decode(&p, &seg) == capture.VerdictTCP {
			pkts, segs = append(pkts, p), append(segs, seg)
			pkt = p
			o.Segment(flow, &seg)
		}
	}
	require.NotEmpty(t, pkts)
	i := 0
	allocs := testing.AllocsPerRun(500, func() {
		pkt = pkts[i%len(pkts)]
		o.Segment(flow, &segs[i%len(segs)])
		i++
	})
	assert.Zero(t, allocs, "allocations per packet")
}
