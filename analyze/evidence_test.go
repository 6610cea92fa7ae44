package analyze

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
)

// The facts the rules use to tell middleboxes apart: first windows,
// the first segment after the handshake, timestamp clocks, stalls, data
// that never reached the capture point, and senders that read the peer's
// window unscaled.

// withTS gives a segment timestamps (on top of whatever options it has).
func withTS(base func(*capture.Options), val, ecr uint32) func(*capture.Options) {
	return func(o *capture.Options) {
		if base != nil {
			base(o)
		}
		o.Has |= capture.HasTimestamp
		o.TSVal, o.TSEcr = val, ecr
	}
}

func TestFirstWindowAndFirstSegmentAfterHandshake(t *testing.T) {
	segs := append(handshake(linuxLayout, 7, linuxLayout, 7),
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 509, ms: 42},
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 700, ms: 43},
	)
	flows, _ := runFlows(t, Config{}, segs)
	require.Len(t, flows, 1)
	f := flows[0]
	assert.Equal(t, uint16(502), f.Client.Window.First, "the handshake ACK carries the client's first window")
	assert.Equal(t, uint64(3), f.Client.Window.FirstPacket)
	assert.Equal(t, uint16(509), f.Server.Window.First)
	assert.Equal(t, int64(42*time.Millisecond), f.Server.Window.FirstTime)
	assert.True(t, f.Server.AfterHandshake.Seen)
	assert.Equal(t, uint64(4), f.Server.AfterHandshake.Packet, "the SYN-ACK is not after the handshake")
	assert.Equal(t, uint64(3), f.Client.AfterHandshake.Packet)
}

func TestForeignTimestampEchoes(t *testing.T) {
	tests := []struct {
		name    string
		echo    uint32
		foreign uint64
	}{
		{"echo of the server's own clock", 9_000_050, 0},
		{"echo slightly ahead of the last captured value", 9_000_200, 0},
		{"echo of a SYN proxy's clock", 100_000_074, 1},
		{"echo from far behind the server's first value", 8_000_000, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			segs := []segSpec{
				{dir: 'c', flags: syn, seq: 1000, win: 64240, opts: withTS(opts(linuxLayout, 1460, 7), 500, 0)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, win: 65160, ms: 40, opts: withTS(opts(linuxLayout, 1460, 7), 9_000_000, 500)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, ms: 41, opts: withTS(nil, 541, 9_000_000)},
				{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 509, ms: 90, opts: withTS(nil, 9_000_050, 541)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, payload: 10, ms: 91, opts: withTS(nil, 591, tc.echo)},
			}
			flows, _ := runFlows(t, Config{}, segs)
			require.Len(t, flows, 1)
			assert.Equal(t, tc.foreign, flows[0].Client.ForeignTSEcr)
			assert.Zero(t, flows[0].Server.ForeignTSEcr)
			if tc.foreign > 0 {
				assert.Equal(t, uint64(5), flows[0].Client.FirstForeignTSEcr)
			}
		})
	}
}

func TestStalls(t *testing.T) {
	data := func(seq capture.Seq, ms int64) segSpec {
		return segSpec{dir: 's', flags: ack, seq: seq, ack: 1001, win: 509, payload: 1000, ms: ms}
	}
	ackOf := func(a capture.Seq, ms int64) segSpec {
		return segSpec{dir: 'c', flags: ack, seq: 1001, ack: a, win: 502, ms: ms}
	}
	tests := []struct {
		name   string
		segs   []segSpec
		stall  time.Duration
		from   uint64
		toEnd  bool
		sender byte
	}{
		{"acknowledged after one round trip", []segSpec{data(5001, 50), ackOf(6001, 90)}, 40 * time.Millisecond, 4, false, 's'},
		{"partial ack restarts the wait", []segSpec{data(5001, 50), data(6001, 51), ackOf(6001, 90), ackOf(7001, 300)},
			210 * time.Millisecond, 6, false, 's'},
		{"never acknowledged until the flow ends", []segSpec{data(5001, 50), data(5001, 400), ackOf(5001, 2050)},
			2 * time.Second, 4, true, 's'},
		{"nothing outstanding, nothing waited", []segSpec{ackOf(5001, 2000)}, 0, 0, false, 's'},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flows, _ := runFlows(t, Config{}, append(handshake(linuxLayout, 7, linuxLayout, 7), tc.segs...))
			require.Len(t, flows, 1)
			s := flows[0].Server
			assert.Equal(t, time.Duration(tc.stall), s.MaxStall)
			assert.Equal(t, tc.from, s.StallPacket)
			assert.Equal(t, tc.toEnd, s.StallToEnd)
		})
	}
}

func TestDataThatNeverReachedTheCapture(t *testing.T) {
	segs := append(handshake(linuxLayout, 7, linuxLayout, 7),
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 509, ms: 42},
		// The server's data was dropped before the capture point; its
		// closing ACK's sequence number shows how much it sent.
		segSpec{dir: 's', flags: ack, seq: 20929, ack: 1002, win: 509, ms: 6000},
	)
	flows, _ := runFlows(t, Config{}, segs)
	require.Len(t, flows, 1)
	assert.Equal(t, uint32(15928), flows[0].Server.UnseenBytes)
	assert.Equal(t, uint64(5), flows[0].Server.UnseenPacket)
	assert.Zero(t, flows[0].Client.UnseenBytes)
}

func TestSenderReadingTheWindowUnscaled(t *testing.T) {
	// Client shift 7, raw window 502 (64256 bytes). The capture is next
	// to the server (server side of the handshake 0 ms).
	hs := []segSpec{
		{dir: 'c', flags: syn, seq: 1000, win: 64240, opts: opts(linuxLayout, 1460, 7)},
		{dir: 's', flags: synack, seq: 5000, ack: 1001, win: 65160, opts: opts(linuxLayout, 1460, 7)},
		{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, ms: 40},
	}
	var obeys, uses []segSpec
	seq := capture.Seq(5001)
	for i := int64(0); i < 4; i++ {
		// One 502-byte segment per round trip: exactly the raw window.
		obeys = append(obeys,
			segSpec{dir: 's', flags: ack, seq: seq, ack: 1001, win: 509, payload: 502, ms: 50 + 40*i},
			segSpec{dir: 'c', flags: ack, seq: 1001, ack: seq.Add(502), win: 502, ms: 89 + 40*i})
		seq = seq.Add(502)
	}
	seq = 5001
	for i := int64(0); i < 4; i++ {
		uses = append(uses, segSpec{dir: 's', flags: ack, seq: seq, ack: 1001, win: 509, payload: 1448, ms: 50 + i})
		seq = seq.Add(1448)
	}
	tests := []struct {
		name                  string
		segs                  []segSpec
		judged, beyond, fills uint64
	}{
		{"sender fills the raw window to the byte", obeys, 4, 0, 4},
		{"sender uses the scaled window", uses, 4, 4, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flows, _ := runFlows(t, Config{}, append(append([]segSpec{}, hs...), tc.segs...))
			require.Len(t, flows, 1)
			s := flows[0].Server
			assert.Equal(t, tc.judged, s.UnscaledJudged)
			assert.Equal(t, tc.beyond, s.BeyondUnscaledPackets)
			assert.Equal(t, tc.fills, s.FillUnscaledPackets)
		})
	}
}

func TestRetransmissionsBeyondTheUnscaledWindowInARow(t *testing.T) {
	segs := append(handshake(linuxLayout, 7, linuxLayout, 7),
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 509, payload: 1448, ms: 50},
		// The head segment resent three times, never acknowledged: it ends
		// past ack + 502 but within ack + 502<<7.
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 509, payload: 1448, ms: 300},
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 509, payload: 1448, ms: 800},
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 509, payload: 1448, ms: 1800},
	)
	flows, _ := runFlows(t, Config{}, segs)
	require.Len(t, flows, 1)
	s := flows[0].Server
	assert.Equal(t, uint64(3), s.RetransBeyondUnscaled)
	assert.Equal(t, uint32(3), s.MaxBeyondRun)
	assert.Equal(t, uint64(5), s.FirstBeyondPacket)
	assert.True(t, s.StallToEnd)
	assert.Equal(t, time.Duration(1750*time.Millisecond), s.MaxStall)
}
