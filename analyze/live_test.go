package analyze

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
)

// liveStart is the wall-clock time the Session tests' packets start at.
var liveStart = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).UnixNano()

// rawFrame builds the raw IPv4 frame (LINKTYPE_RAW) of s, headers only, as
// a headers-only snaplen captures it; options are given as bytes.
func rawFrame(s segSpec, index uint64, options []byte) capture.Packet {
	for len(options)%4 != 0 {
		options = append(options, capture.OptKindEOL)
	}
	src, dst := cliAddr, srvAddr
	if s.dir == 's' {
		src, dst = dst, src
	}
	tcpLen := 20 + len(options)
	b := make([]byte, 20+tcpLen)
	b[0], b[8], b[9] = 0x45, 64, 6 // IPv4, no IP options; TTL; TCP
	binary.BigEndian.PutUint16(b[2:], uint16(20+tcpLen+s.payload))
	binary.BigEndian.PutUint16(b[6:], 0x4000) // DF
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(b[12:], s4[:])
	copy(b[16:], d4[:])
	t := b[20:]
	binary.BigEndian.PutUint16(t[0:], src.Port())
	binary.BigEndian.PutUint16(t[2:], dst.Port())
	binary.BigEndian.PutUint32(t[4:], uint32(s.seq))
	binary.BigEndian.PutUint32(t[8:], uint32(s.ack))
	t[12] = byte(tcpLen/4) << 4
	t[13] = byte(s.flags)
	binary.BigEndian.PutUint16(t[14:], s.win)
	copy(t[20:], options)
	return capture.Packet{Data: b, OrigLen: len(b) + s.payload, Time: liveStart + s.ms*int64(time.Millisecond),
		Link: capture.LinkRaw, Index: index, Offset: -1}
}

// linuxSYNOptions is a Linux SYN's option area: mss,sok,ts,nop,ws.
func linuxSYNOptions(shift byte) []byte {
	return []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, shift}
}

// liveFlow is a Linux-to-Linux connection from ms 0: handshake (both
// shift 7), then the given segments.
func liveFlow(rest ...segSpec) []capture.Packet {
	segs := append([]segSpec{
		{dir: 'c', flags: syn, seq: 1000, win: 64240},
		{dir: 's', flags: synack, seq: 5000, ack: 1001, win: 65160, ms: 40},
		{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, ms: 41},
	}, rest...)
	pkts := make([]capture.Packet, len(segs))
	for i, s := range segs {
		var o []byte
		if s.flags&capture.FlagSYN != 0 {
			o = linuxSYNOptions(7)
		}
		pkts[i] = rawFrame(s, uint64(i+1), o)
	}
	return pkts
}

// dataThenFIN has the client send 1448 bytes at ms 50, then both sides
// close by ms 60.
var dataThenFIN = []segSpec{
	{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 1448, ms: 50},
	{dir: 's', flags: ack, seq: 5001, ack: 2449, win: 509, ms: 55},
	{dir: 'c', flags: fin, seq: 2449, ack: 5001, win: 502, ms: 58},
	{dir: 's', flags: fin, seq: 5001, ack: 2450, win: 509, ms: 59},
	{dir: 'c', flags: ack, seq: 2450, ack: 5002, win: 502, ms: 60},
}

// liveRun feeds pkts to a Session, then advances its clock to each of
// ticks (ms from the start) and records which flows it had finished by
// then.
type liveRun struct {
	s        *Session
	finished []Flow
}

func newLiveRun(cfg Config) *liveRun {
	r := &liveRun{}
	r.s = NewSession("test0", cfg, func(f *Flow) { r.finished = append(r.finished, *f) })
	return r
}

func (r *liveRun) at(ms int64) int {
	r.s.Advance(liveStart + ms*int64(time.Millisecond))
	return len(r.finished)
}

func TestSessionFinishesFlowsAsTheyEnd(t *testing.T) {
	tests := []struct {
		name string
		segs []segSpec
		cfg  Config
		// finished by then (ms from the start): count
		still, done int64
	}{
		{"closed both ways: reported once the linger passed", dataThenFIN, Config{},
			60 + 1900, 60 + 3100},
		{"reset: reported once the linger passed", []segSpec{
			{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 100, ms: 50},
			{dir: 's', flags: rst, seq: 5001, ack: 1101, ms: 51},
		}, Config{}, 51 + 1900, 51 + 3100},
		{"shorter linger", dataThenFIN, Config{Linger: 500 * time.Millisecond},
			60 + 400, 60 + 1600},
		{"open with data: reported at the idle timeout", dataThenFIN[:2], Config{},
			55 + 119_000, 55 + 121_100},
		{"handshake only: not taken for closed, waits for the idle timeout", nil, Config{IdleTimeout: 30 * time.Second},
			41 + 29_000, 41 + 31_100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newLiveRun(tt.cfg)
			for _, p := range liveFlow(tt.segs...) {
				r.s.Add(&p)
			}
			assert.Zero(t, r.at(tt.still), "nothing finished yet at %d ms", tt.still)
			assert.Equal(t, 1, r.s.Live())
			require.Equal(t, 1, r.at(tt.done), "finished by %d ms", tt.done)
			assert.Zero(t, r.s.Live())
			f := r.finished[0]
			assert.Equal(t, HandshakeComplete, f.Handshake)
			assert.Equal(t, Yes, f.Negotiated.Scaling)
			assert.Equal(t, capture.Shift(7), f.Client.Shift.Value)
		})
	}
}

// TestSessionKeepsTheHandshakeOfAQuietConnection: a pooled connection
// carries its first data long after the linger time; it is still the one
// flow, with its negotiation.
func TestSessionKeepsTheHandshakeOfAQuietConnection(t *testing.T) {
	r := newLiveRun(Config{})
	late := make([]segSpec, len(dataThenFIN))
	for i, s := range dataThenFIN {
		s.ms += 10_000
		late[i] = s
	}
	pkts := liveFlow(late...)
	for _, p := range pkts[:3] {
		r.s.Add(&p)
	}
	assert.Zero(t, r.at(9_000), "a quiet established connection is not finished")
	for _, p := range pkts[3:] {
		r.s.Add(&p)
	}
	require.Equal(t, 1, r.at(10_060+2_100))
	f := r.finished[0]
	assert.Equal(t, HandshakeComplete, f.Handshake)
	assert.Equal(t, BasisNegotiated, f.Server.Shift.Basis)
	assert.Equal(t, uint64(1), f.Client.DataPackets, "the late data joined the flow")
}

func TestSessionCloseFlushesAndCounts(t *testing.T) {
	r := newLiveRun(Config{})
	pkts := liveFlow(dataThenFIN[:2]...)
	for _, p := range pkts {
		r.s.Add(&p)
	}
	notTCP := rawFrame(segSpec{dir: 'c'}, 6, nil)
	notTCP.Data[9] = 17 // UDP
	r.s.Add(&notTCP)
	sum := r.s.Close()
	require.Len(t, r.finished, 1)
	assert.Equal(t, "test0", sum.Source)
	assert.Equal(t, uint64(6), sum.Packets)
	assert.Equal(t, uint64(5), sum.TCP)
	assert.Equal(t, uint64(1), sum.NotTCP)
	assert.Equal(t, uint64(1), sum.Analyzer.Flows)
	assert.Equal(t, liveStart, sum.FirstTime)
}

// TestSnapshotLeavesTheFlowAsItWas: summaries taken while a flow runs,
// even in the middle of a zero-window episode, change nothing about how
// the flow is finally reported.
func TestSnapshotLeavesTheFlowAsItWas(t *testing.T) {
	rest := []segSpec{
		{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 1448, ms: 50},
		{dir: 's', flags: ack, seq: 5001, ack: 2449, win: 0, ms: 55}, // zero window
		{dir: 's', flags: ack, seq: 5001, ack: 2449, win: 509, ms: 255},
		{dir: 'c', flags: fin, seq: 2449, ack: 5001, win: 502, ms: 258},
	}
	pkts := liveFlow(rest...)
	final := func(snapshotAfter map[int]bool) (Flow, []Flow) {
		var got []Flow
		var views []Flow
		s := NewSession("x", Config{}, func(f *Flow) { got = append(got, *f) })
		for i, p := range pkts {
			s.Add(&p)
			if snapshotAfter[i] {
				s.Snapshot(func(f *Flow) { views = append(views, *f) })
			}
		}
		s.Close()
		require.Len(t, got, 1)
		return got[0], views
	}
	plain, _ := final(nil)
	watched, views := final(map[int]bool{1: true, 2: true, 4: true, 5: true})
	assert.Equal(t, plain, watched, "snapshots must not change the flow")

	require.Len(t, views, 4)
	assert.Equal(t, HandshakeNoFinalACK, views[0].Handshake, "after the SYN-ACK")
	assert.Equal(t, Yes, views[0].Negotiated.Scaling, "both SYNs carried window scale")
	assert.Equal(t, HandshakeComplete, views[1].Handshake)
	assert.Equal(t, Yes, views[1].Negotiated.Scaling)
	assert.Equal(t, capture.Shift(7), views[1].Server.Shift.Value)
	assert.Equal(t, uint64(1), views[2].Server.ZeroWindows)
	assert.Equal(t, time.Duration(0), views[2].Server.ZeroTime, "episode in progress, from its start to the last packet")
	assert.Equal(t, time.Duration(200*time.Millisecond), views[3].Server.ZeroTime)
}

func TestSessionAddDoesNotAllocate(t *testing.T) {
	s := NewSession("x", Config{}, func(*Flow) {})
	pkts := liveFlow()
	for _, p := range pkts {
		s.Add(&p)
	}
	data := rawFrame(segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 1448, ms: 50}, 4, nil)
	ackP := rawFrame(segSpec{dir: 's', flags: ack, seq: 5001, ack: 2449, win: 3000, ms: 51}, 5, nil)
	seq := uint32(1001)
	allocs := testing.AllocsPerRun(1000, func() {
		seq += 1448
		binary.BigEndian.PutUint32(data.Data[24:], seq)
		data.Time += int64(time.Millisecond)
		s.Add(&data)
		binary.BigEndian.PutUint32(ackP.Data[28:], seq+1448)
		ackP.Time += int64(time.Millisecond)
		s.Add(&ackP)
	})
	assert.Zero(t, allocs, "steady-state Session.Add must not allocate")
}

func BenchmarkSessionAdd(b *testing.B) {
	s := NewSession("x", Config{}, func(*Flow) {})
	for _, p := range liveFlow() {
		s.Add(&p)
	}
	data := rawFrame(segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 1448, ms: 50}, 4, nil)
	ackP := rawFrame(segSpec{dir: 's', flags: ack, seq: 5001, ack: 2449, win: 3000, ms: 51}, 5, nil)
	seq := uint32(1001)
	b.ReportAllocs()
	for b.Loop() {
		seq += 1448
		binary.BigEndian.PutUint32(data.Data[24:], seq)
		data.Time += int64(time.Microsecond)
		s.Add(&data)
		binary.BigEndian.PutUint32(ackP.Data[28:], seq+1448)
		ackP.Time += int64(time.Microsecond)
		s.Add(&ackP)
	}
}
