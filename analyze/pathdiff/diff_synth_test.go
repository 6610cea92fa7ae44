package pathdiff

import (
	"bytes"
	"cmp"
	"maps"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

// Synthetic captures from both ends of a path, for the diff tests: each
// connection is a small scripted TCP exchange (handshake, a request, a
// go-back-N download, the close) played through a path model that can
// translate addresses, offset sequence numbers, strip or zero the window
// scale option, rewrite windows, drop data beyond the unscaled window and
// lose chosen segments. A records the client's end, B the server's.

// synthPath is what lies between the two capture points.
type synthPath struct {
	delay time.Duration // one way
	hops  uint8
	// nat, when valid, is the client's address and port as the server
	// sees it.
	nat netip.AddrPort
	// seqOffset is added to the client's sequence space toward the
	// server (and taken off the server's acknowledgments back).
	seqOffset uint32
	stripWS   bool   // the SYN's window scale becomes three NOPs
	zeroShift bool   // the SYN's shift is rewritten to 0
	winField  uint16 // when set, the client's window fields reach the server as this
	// unscaled drops server data that ends beyond the client's last ack
	// plus its window field taken unscaled.
	unscaled bool
	// lose lists the server's data transmissions (0-based, in send order)
	// lost on the path.
	lose map[int]bool
	// clock is B's clock minus A's.
	clock time.Duration
	// tso merges up to this many of the server's consecutive data
	// segments into one packet in its own capture (segmentation offload
	// at the sender); gro does the same in the client's capture (receive
	// offload).
	tso, gro int
}

// capturedPkt is a segment as one capture point saw it.
type capturedPkt struct {
	k        synthPkt
	atSender bool
}

// offload merges runs of the server's data segments that a capture saw
// back to back, up to n per packet, as segmentation offload shows them:
// contiguous bytes with the same timestamp.
func offload(pkts []capturedPkt, n int) []capturedPkt {
	if n < 2 {
		return pkts
	}
	var out []capturedPkt
	run := 0
	for _, cp := range pkts {
		if l := len(out) - 1; l >= 0 && run < n && !cp.k.fromC && cp.k.payload > 0 && !out[l].k.fromC && out[l].k.payload > 0 &&
			out[l].k.tsval == cp.k.tsval && out[l].k.seq+uint32(out[l].k.payload) == cp.k.seq {
			out[l].k.payload += cp.k.payload
			out[l].k.flags |= cp.k.flags
			run++
			continue
		}
		out = append(out, cp)
		run = 1
	}
	return out
}

// synthConn is one connection.
type synthConn struct {
	client, server netip.AddrPort
	start          time.Duration
	isnC, isnS     uint32
	// tsC and tsS are the TS clocks (ms) at start; timestamps are off
	// when both are 0.
	tsC, tsS       uint32
	ipidC, ipidS   uint16
	shiftC, shiftS uint8
	// winC is the client's window field after the handshake.
	winC              uint16
	request, response int
	// seed varies the payload bytes: equal seeds, equal content.
	seed byte
}

var synthEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// synthPkt is one segment as the sender put it on the wire.
type synthPkt struct {
	at       time.Duration
	fromC    bool
	seq, ack uint32
	flags    capture.Flags
	win      uint16
	payload  int
	off      int // stream offset of the payload, for its bytes
	opts     []layers.TCPOption
	tsval    uint32
	tsecr    uint32
	ipid     uint16
	dataIdx  int // the server's data transmission number, -1 otherwise
}

const synthMSS = 1448

// play runs one connection through the path and appends the packets each
// capture records.
func (c synthConn) play(p synthPath, capA, capB *[]capturedPkt) {
	ts := c.tsC != 0 || c.tsS != 0
	d := p.delay
	p.lose = maps.Clone(p.lose) // the unscaled firewall adds to it
	ipidC, ipidS := c.ipidC, c.ipidS
	var lastTSC, lastTSS uint32
	emit := func(k synthPkt) {
		if k.fromC {
			k.ipid, ipidC = ipidC, ipidC+1
		} else {
			k.ipid, ipidS = ipidS, ipidS+1
		}
		if ts {
			base := c.tsS
			if k.fromC {
				base = c.tsC
			}
			k.tsval = base + uint32((k.at-c.start)/time.Millisecond)
			if k.fromC {
				k.tsecr, lastTSC = lastTSS, k.tsval
			} else {
				k.tsecr, lastTSS = lastTSC, k.tsval
			}
		}
		near, far := capA, capB
		if !k.fromC {
			near, far = capB, capA
		}
		*near = append(*near, capturedPkt{k: k, atSender: true})
		if k.dataIdx >= 0 && p.lose[k.dataIdx] {
			return
		}
		arr := k
		arr.at += d
		*far = append(*far, capturedPkt{k: arr})
	}
	t := c.start
	tsOpt := func() layers.TCPOption {
		return layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)}
	}
	synOpts := []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
	}
	if ts {
		synOpts = append(synOpts, tsOpt())
	}
	synOpts = append(synOpts, layers.TCPOption{OptionType: layers.TCPOptionKindNop},
		layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{c.shiftC}})
	emit(synthPkt{at: t, fromC: true, seq: c.isnC, flags: capture.FlagSYN, win: 64240, opts: synOpts, dataIdx: -1})
	// What the server saw decides its SYN-ACK and the shift it applies
	// to the client's windows.
	serverScales := !p.stripWS
	shiftSeen := c.shiftC
	if p.zeroShift {
		shiftSeen = 0
	}
	ackOpts := []layers.TCPOption{synOpts[0], synOpts[1]}
	if ts {
		ackOpts = append(ackOpts, tsOpt())
	}
	if serverScales {
		ackOpts = append(ackOpts, layers.TCPOption{OptionType: layers.TCPOptionKindNop},
			layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{c.shiftS}})
	}
	t += d
	emit(synthPkt{at: t, fromC: false, seq: c.isnS, ack: c.isnC + 1, flags: capture.FlagSYN | capture.FlagACK, win: 65160, opts: ackOpts, dataIdx: -1})
	t += d
	cs, ss := c.isnC+1, c.isnS+1
	emit(synthPkt{at: t, fromC: true, seq: cs, ack: ss, flags: capture.FlagACK, win: c.winC, dataIdx: -1})
	emit(synthPkt{at: t, fromC: true, seq: cs, ack: ss, flags: capture.FlagACK | capture.FlagPSH, win: c.winC, payload: c.request, dataIdx: -1})
	cs += uint32(c.request)
	t += d
	emit(synthPkt{at: t, fromC: false, seq: ss, ack: cs, flags: capture.FlagACK, win: 509, dataIdx: -1})

	// The download, go-back-N: each round the server sends what the
	// client's window allows as the server reads it; the client
	// acknowledges the contiguous data that arrived.
	win := int(c.winC)
	if serverScales {
		win <<= shiftSeen
	}
	una, idx := 0, 0
	clientAck := 0 // what the path last saw the client acknowledge
	for round := 0; una < c.response && round < 60; round++ {
		got := una
		for off := una; off < min(una+win, c.response); off += synthMSS {
			n := min(synthMSS, c.response-off, una+win-off)
			k := synthPkt{at: t, fromC: false, seq: ss + uint32(off), ack: cs, flags: capture.FlagACK, win: 509,
				payload: n, off: off, dataIdx: idx}
			if p.unscaled && off+n > clientAck+int(c.winC) {
				p.lose = withLoss(p.lose, idx)
			}
			delivered := !p.lose[idx]
			emit(k)
			idx++
			t += 10 * time.Microsecond
			if delivered && off == got {
				got = off + n
			}
		}
		if got > una {
			// One ACK per two segments' worth, the last for all.
			at := t + d
			for a := una + 2*synthMSS; a < got; a += 2 * synthMSS {
				emit(synthPkt{at: at, fromC: true, seq: cs, ack: ss + uint32(a), flags: capture.FlagACK, win: c.winC, dataIdx: -1})
			}
			emit(synthPkt{at: at, fromC: true, seq: cs, ack: ss + uint32(got), flags: capture.FlagACK, win: c.winC, dataIdx: -1})
			una, clientAck = got, got
			t += 2 * d
		} else {
			t += 200 * time.Millisecond // retransmission timeout
		}
	}
	ss += uint32(una)
	t += d
	emit(synthPkt{at: t, fromC: true, seq: cs, ack: ss, flags: capture.FlagACK | capture.FlagFIN, win: c.winC, dataIdx: -1})
	t += d
	emit(synthPkt{at: t, fromC: false, seq: ss, ack: cs + 1, flags: capture.FlagACK | capture.FlagFIN, win: 509, dataIdx: -1})
	t += d
	emit(synthPkt{at: t, fromC: true, seq: cs + 1, ack: ss + 1, flags: capture.FlagACK, win: c.winC, dataIdx: -1})
}

func withLoss(m map[int]bool, i int) map[int]bool {
	if m == nil {
		m = make(map[int]bool)
	}
	m[i] = true
	return m
}

// synthRecord is one frame of a capture.
type synthRecord struct {
	at   time.Duration
	data []byte
}

// record lays out k as captured at one end. atSender says the capture is
// at the sender's end (before the path); otherwise the path's changes and
// hops apply.
func (c synthConn) record(k synthPkt, p synthPath, atSender bool) synthRecord {
	src, dst := c.client, c.server
	if !k.fromC {
		src, dst = dst, src
	}
	seq, ack, win := k.seq, k.ack, k.win
	ttl := uint8(64)
	opts := slices.Clone(k.opts)
	// The server's end (B) sees the client's side of the path's
	// translations; the client's end (A) sees the server's segments back
	// in the client's terms.
	atB := k.fromC != atSender
	if !atSender {
		ttl -= p.hops
	}
	if atB {
		if p.nat.IsValid() {
			if k.fromC {
				src = p.nat
			} else {
				dst = p.nat
			}
		}
		if k.fromC {
			seq += p.seqOffset
		} else if k.flags&capture.FlagACK != 0 {
			ack += p.seqOffset
		}
		if k.fromC && !atSender && k.flags&capture.FlagSYN == 0 && p.winField != 0 {
			win = p.winField
		}
		if k.fromC && k.flags&capture.FlagSYN != 0 {
			for i := range opts {
				if opts[i].OptionType != layers.TCPOptionKindWindowScale {
					continue
				}
				switch {
				case p.stripWS:
					nop := layers.TCPOption{OptionType: layers.TCPOptionKindNop}
					opts = append(opts[:i:i], nop, nop, nop)
				case p.zeroShift:
					opts[i].OptionData = []byte{0}
				}
				break
			}
		}
	}
	for i := range opts {
		if opts[i].OptionType == layers.TCPOptionKindTimestamps {
			b := make([]byte, 8)
			be32put(b, k.tsval)
			be32put(b[4:], k.tsecr)
			opts[i].OptionData = b
		}
	}
	if k.flags&capture.FlagSYN == 0 && k.tsval != 0 {
		b := make([]byte, 8)
		be32put(b, k.tsval)
		be32put(b[4:], k.tsecr)
		opts = append([]layers.TCPOption{{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop}},
			layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: b})
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq, Ack: ack,
		SYN: k.flags&capture.FlagSYN != 0, ACK: k.flags&capture.FlagACK != 0, FIN: k.flags&capture.FlagFIN != 0,
		PSH: k.flags&capture.FlagPSH != 0, Window: win, Options: opts}
	ip := &layers.IPv4{Version: 4, TTL: ttl, Id: k.ipid, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP(src.Addr().AsSlice()), DstIP: net.IP(dst.Addr().AsSlice())}
	payload := make([]byte, k.payload)
	for i := range payload {
		payload[i] = byte(k.off+i) + c.seed
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true},
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		ip, tcp, gopacket.Payload(payload))
	if err != nil {
		panic(err)
	}
	at := k.at
	if atB {
		at += p.clock
	}
	return synthRecord{at: at, data: bytes.Clone(buf.Bytes())}
}

func be32put(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// writeSynth plays the connections (each through its own path) and
// writes a.pcap and b.pcap into dir.
func writeSynth(t testing.TB, dir string, conns []synthConn, paths []synthPath) (string, string) {
	t.Helper()
	var a, b []synthRecord
	for i, c := range conns {
		var ca, cb []capturedPkt
		c.play(paths[i], &ca, &cb)
		for _, cp := range offload(ca, paths[i].gro) {
			a = append(a, c.record(cp.k, paths[i], cp.atSender))
		}
		for _, cp := range offload(cb, paths[i].tso) {
			b = append(b, c.record(cp.k, paths[i], cp.atSender))
		}
	}
	names := [2]string{filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")}
	for i, recs := range [][]synthRecord{a, b} {
		slices.SortStableFunc(recs, func(x, y synthRecord) int { return cmp.Compare(x.at, y.at) })
		f, err := os.Create(names[i])
		require.NoError(t, err)
		w := pcapgo.NewWriterNanos(f)
		require.NoError(t, w.WriteFileHeader(65535, layers.LinkTypeEthernet))
		for _, r := range recs {
			ci := gopacket.CaptureInfo{Timestamp: synthEpoch.Add(r.at), CaptureLength: len(r.data), Length: len(r.data)}
			require.NoError(t, w.WritePacket(ci, r.data))
		}
		require.NoError(t, f.Close())
	}
	return names[0], names[1]
}

// diffFiles runs Diff over two capture files.
func diffFiles(t testing.TB, a, b string) *analyze.DiffResult {
	t.Helper()
	res, err := diffFilesErr(a, b)
	require.NoError(t, err)
	return res
}

func diffFilesErr(a, b string) (*analyze.DiffResult, error) {
	return Diff([2]analyze.Opener{
		func() (capture.Source, error) { return capture.Open(a) },
		func() (capture.Source, error) { return capture.Open(b) },
	}, analyze.Config{})
}

// baseConn is a Linux-like download of 64 KiB with timestamps and shift 7.
func baseConn() synthConn {
	return synthConn{
		client: netip.MustParseAddrPort("192.0.2.10:50000"), server: netip.MustParseAddrPort("198.51.100.20:445"),
		isnC: 1_000_000, isnS: 3_000_000_000, tsC: 4_000_000, tsS: 9_000_000, ipidC: 1000, ipidS: 20000,
		shiftC: 7, shiftS: 7, winC: 502, request: 120, response: 64 << 10,
	}
}

func basePath() synthPath { return synthPath{delay: 10 * time.Millisecond, hops: 3} }

// TestHandshakeDirectionFromTTLsWhenNoSampleMatched: a connection whose
// segments give the pairing no sampled token to match (no timestamps, no
// IPv4 IDs, no payload), diffed with the server's capture as A, so that
// the SYN is sent in B: the handshake is compared from B's end.
func TestHandshakeDirectionFromTTLsWhenNoSampleMatched(t *testing.T) {
	c := baseConn()
	c.tsC, c.tsS, c.ipidC, c.ipidS, c.request, c.response = 0, 0, 0, 0, 0, 0
	clientSide, serverSide := writeSynth(t, t.TempDir(), []synthConn{c}, []synthPath{basePath()})
	res := diffFiles(t, serverSide, clientSide)
	require.Len(t, res.Pairs, 1)
	p := &res.Pairs[0]
	require.True(t, p.SYN.Compared)
	assert.Equal(t, analyze.CaptureB, p.SYN.SentIn, "the client's capture is B")
	assert.False(t, p.SYN.Originated, "the SYN crossed the path: TTL %d sent, %d received", p.SYN.TTLSent, p.SYN.TTLReceived)
	assert.Equal(t, analyze.CaptureB, p.Dirs[analyze.ClientToServer].Upstream)
	assert.Equal(t, analyze.CaptureA, p.Dirs[analyze.ServerToClient].Upstream)
	assert.Equal(t, analyze.CaptureA, p.SYNACK.SentIn)
	assert.False(t, p.SYNACK.Originated)
}

// TestUnknownUpstreamIsSettledByTheMatchedSegments: when the pairing could
// not tell which capture is upstream (a long transfer whose TSvals and IP
// IDs all recur leaves no sampled segment to match, and no timing), the
// matched segments' TTLs tell, before the handshake is compared. On the
// benchmark pair the handshake of such a transfer, its client behind B,
// was compared from A's end: its SYN seemed to gain a hop on the path,
// and a SYN proxy was reported instead of the 146 segments lost.
func TestUnknownUpstreamIsSettledByTheMatchedSegments(t *testing.T) {
	var ps pairState
	ps.pair.ClientSide = analyze.CaptureUnknown
	for d := range ps.dirs {
		ps.dirs[d].out = &ps.pair.Dirs[d]
		ps.dirs[d].out.Upstream = analyze.CaptureUnknown
	}
	// The matching counts hops as A's TTL minus B's while the upstream
	// is unknown: the client's segments reach A a hop after B.
	for range 100 {
		ps.dirs[analyze.ClientToServer].hops.add(-1)
		ps.dirs[analyze.ServerToClient].hops.add(1)
	}
	ps.finish()
	c2s, s2c := &ps.pair.Dirs[analyze.ClientToServer], &ps.pair.Dirs[analyze.ServerToClient]
	assert.Equal(t, analyze.CaptureB, c2s.Upstream)
	assert.Equal(t, 1, c2s.Hops)
	assert.Equal(t, analyze.CaptureA, s2c.Upstream)
	assert.Equal(t, 1, s2c.Hops)
	assert.Equal(t, analyze.CaptureB, ps.pair.ClientSide)

	a, b := &analyze.Flow{}, &analyze.Flow{}
	a.AnsweredSYN = analyze.HandshakeSegment{Seen: true, TTL: 63}
	b.AnsweredSYN = analyze.HandshakeSegment{Seen: true, TTL: 64}
	a.SYNACK = analyze.HandshakeSegment{Seen: true, TTL: 64}
	b.SYNACK = analyze.HandshakeSegment{Seen: true, TTL: 63}
	compareHandshakes(&ps.pair, a, b)
	assert.Equal(t, analyze.CaptureB, ps.pair.SYN.SentIn)
	assert.False(t, ps.pair.SYN.Originated, "the SYN crossed one hop, as the segments did")
	assert.Equal(t, analyze.CaptureA, ps.pair.SYNACK.SentIn)
	assert.False(t, ps.pair.SYNACK.Originated)
}

// TestUnknownUpstreamIsSettledInTimeToCountTheUnscaledEdge: when neither
// the pairing's timing nor its samples told which capture is upstream,
// the matched segments' TTLs tell it early enough for the segments that
// follow to be set against the receiver's unscaled window, so that a
// middlebox dropping what lies past it is counted, as where the timing
// told the upstream. The client is behind B: its data leaves B with TTL 64
// and reaches A, a millisecond later, with TTL 61.
func TestUnknownUpstreamIsSettledInTimeToCountTheUnscaledEdge(t *testing.T) {
	pl := pairPlan{clientSide: analyze.CaptureUnknown}
	for d := range 2 {
		pl.dirs[d] = dirPlan{ok: true, upstream: analyze.CaptureUnknown, jitter: diffMinJitter}
	}
	pl.dirs[0].expect = -time.Millisecond // B's copy of the data comes first
	pl.dirs[1].expect = time.Millisecond  // A's copy of the ACKs comes first
	for d := range 2 {
		pl.dirs[d].horizon = time.Millisecond + diffMatchSlack + diffMinJitter
	}
	m := &diffMerge{planOf: func(int) (pairPlan, error) { return pl, nil }, at: make([]int32, 1), pairOf: [2][]int32{{0}, {0}},
		span: [2][2]int64{{0, math.MaxInt64 / 2}, {0, math.MaxInt64 / 2}}}
	c, s := netip.MustParseAddrPort("192.0.2.10:50000"), netip.MustParseAddrPort("198.51.100.20:445")
	var now int64
	// send puts one segment on the merged time line: first in capture
	// first, then in the other a millisecond later, TTL three lower,
	// unless dropped.
	send := func(seg capture.Segment, first analyze.Capture, fromX, dropped bool) {
		now += int64(10 * time.Millisecond)
		seg.Time, seg.TTL = now, 64
		v := pendingOf(&seg, seg.Time)
		m.segment(first, 0, fromX, &v)
		if dropped {
			return
		}
		seg.Time += int64(time.Millisecond)
		seg.TTL -= 3
		v = pendingOf(&seg, seg.Time)
		m.segment(first.Other(), 0, fromX, &v)
	}
	ack := func(n int, win uint16) {
		send(capture.Segment{Src: s.Addr(), Dst: c.Addr(), SrcPort: s.Port(), DstPort: c.Port(), Packet: uint64(1000 + n),
			Flags: capture.FlagACK, Ack: capture.Seq(n * 1448), Window: win}, analyze.CaptureA, false, false)
	}
	data := func(k int, dropped bool) {
		send(capture.Segment{Src: c.Addr(), Dst: s.Addr(), SrcPort: c.Port(), DstPort: s.Port(), Packet: uint64(k),
			Flags: capture.FlagACK, Seq: capture.Seq(k * 1448), Payload: 1448}, analyze.CaptureB, true, dropped)
	}
	ack(0, 60000) // the window field unscaled: 60,000 bytes
	for k := range 10 {
		data(k, false)
	}
	// The server's window field falls to 256 (64 KiB at its shift of 8);
	// a middlebox that took it unscaled drops everything past 256 bytes.
	ack(10, 256)
	for k := 10; k < 14; k++ {
		data(k, true)
	}
	require.Len(t, m.live, 1)
	ps := m.live[0]
	ps.expire(m, math.MaxInt64)
	ps.finish()
	d := &ps.pair.Dirs[0]
	assert.Equal(t, analyze.CaptureB, d.Upstream, "the data's TTLs are higher in B")
	assert.Equal(t, 3, d.Hops)
	assert.Equal(t, analyze.CaptureA, ps.pair.Dirs[1].Upstream, "the ACKs' TTLs are higher in A")
	assert.Equal(t, analyze.CaptureB, ps.pair.ClientSide)
	assert.Equal(t, uint64(10), d.Matched)
	assert.Equal(t, uint64(4), d.Only[analyze.CaptureB])
	u := d.Unscaled
	assert.Equal(t, uint64(4), u.BeyondLost, "every segment past the unscaled edge was lost between the points")
	assert.Equal(t, uint64(4), u.BeyondSent)
	assert.Equal(t, uint64(10-settleAfter), u.WithinSent, "the data matched once the upstream was settled, within the edge")
	assert.Equal(t, analyze.PacketRef{Packet: 10, Time: u.FirstBeyondLost.B.Time}, u.FirstBeyondLost.B)
	assert.Equal(t, uint16(256), u.Window)
}
