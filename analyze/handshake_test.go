package analyze

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/capture"
)

// Handshakes as messy captures show them: out of order, reset from
// outside the connection, retried, or answered by nobody.

func TestSYNACKCapturedBeforeItsSYN(t *testing.T) {
	tests := []struct {
		name        string
		segs        []segSpec
		answered    bool
		clientBasis Basis
		clientShift uint8
	}{
		{
			name: "synack first, its syn a moment later, timestamp echo confirms",
			segs: []segSpec{
				{dir: 's', flags: synack, seq: 5000, ack: 1001, win: 65160, opts: withTS(opts(linuxLayout, 1460, 9), 900, 77)},
				{dir: 'c', flags: syn, seq: 1000, win: 64240, opts: withTS(opts(linuxLayout, 1460, 7), 77, 0)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 502, ms: 1, opts: withTS(nil, 78, 900)},
				{dir: 's', flags: ack, seq: 5001, ack: 1001, win: 509, ms: 2, payload: 1000},
			},
			answered: true, clientBasis: BasisNegotiated, clientShift: 7,
		},
		{
			name: "synack first, no timestamps: the acknowledgment number pairs them",
			segs: []segSpec{
				{dir: 's', flags: synack, seq: 5000, ack: 1001, win: 65535, opts: opts(windowsLayout, 1460, 9)},
				{dir: 'c', flags: syn, seq: 1000, win: 64240, opts: opts(windowsLayout, 1460, 8)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 256, ms: 1},
			},
			answered: true, clientBasis: BasisNegotiated, clientShift: 8,
		},
		{
			name: "synack echoes another try's timestamp: this syn is a retry, not the answered one",
			segs: []segSpec{
				{dir: 's', flags: synack, seq: 5000, ack: 1001, win: 65160, opts: withTS(opts(linuxLayout, 1460, 9), 900, 55)},
				{dir: 'c', flags: syn, seq: 1000, win: 64240, ms: 1000, opts: withTS(opts(linuxLayout, 1460, 7), 1055, 0)},
			},
			answered: false, clientBasis: BasisUnknown,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flows, _ := runFlows(t, Config{}, tc.segs)
			require.Len(t, flows, 1, "one flow, whatever the capture order")
			f := flows[0]
			assert.Equal(t, cliAddr, f.Client.Addr)
			assert.True(t, f.SYN.Seen)
			assert.Equal(t, tc.answered, f.AnsweredSYN.Seen, "answered SYN")
			assert.Equal(t, Yes, f.Negotiated.Scaling)
			assert.Equal(t, tc.clientBasis.String(), f.Client.Shift.Basis.String())
			assert.Equal(t, tc.clientShift, uint8(f.Client.Shift.Value))
			assert.Equal(t, uint8(9), uint8(f.Server.Shift.Value))
			assert.Zero(t, f.ServerRTT, "capture order says nothing about the server's half")
			if tc.answered {
				assert.Equal(t, RoleFromSYN, f.Roles)
				assert.Equal(t, ScalingFromHandshake, f.Negotiated.ScalingFrom)
			} else {
				assert.Equal(t, ScalingFromSYNACK, f.Negotiated.ScalingFrom)
			}
		})
	}
}

func TestResetDuringHandshakeOutsideTheSequenceSpaceEndsNothing(t *testing.T) {
	tests := []struct {
		name     string
		rst      segSpec
		accepted bool
	}{
		{
			name:     "rst answering a stale ack: it acknowledges nothing of this syn",
			rst:      segSpec{dir: 's', flags: rst, seq: 0, ack: 777777, ms: 1},
			accepted: false,
		},
		{
			name:     "rst without ack in syn-sent is dropped (RFC 9293 §3.10.7.3)",
			rst:      segSpec{dir: 's', flags: capture.FlagRST, seq: 0, ms: 1},
			accepted: false,
		},
		{
			name:     "refused: rst acknowledging the syn",
			rst:      segSpec{dir: 's', flags: rst, seq: 0, ack: 1001, ms: 1},
			accepted: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			segs := []segSpec{
				{dir: 'c', flags: syn, seq: 1000, win: 8192, opts: opts(windowsLayout, 1460, 8)},
				tc.rst,
				// Windows retries 3 s later, with the same ISN.
				{dir: 'c', flags: syn, seq: 1000, win: 8192, ms: 3000, opts: opts(windowsLayout, 1460, 8)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, win: 65535, ms: 3040, opts: opts(windowsLayout, 1460, 8)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 256, ms: 3041},
			}
			flows, _ := runFlows(t, Config{}, segs)
			if !tc.accepted {
				require.Len(t, flows, 1, "the retried SYN stays in the flow")
				f := flows[0]
				assert.Equal(t, 2, f.SYNs, "the retry is noted")
				assert.Equal(t, uint64(1), f.Server.IgnoredRSTs)
				assert.Equal(t, uint64(2), f.Server.FirstIgnoredRST)
				assert.Zero(t, f.Server.RSTPacket, "the reset ended nothing")
				assert.Equal(t, HandshakeComplete, f.Handshake)
				return
			}
			require.NotEmpty(t, flows)
			assert.Equal(t, uint64(2), flows[0].Server.RSTPacket, "an acceptable reset refuses the connection")
			assert.Zero(t, flows[0].Server.IgnoredRSTs)
		})
	}
}

func TestResetOfAnEstablishedFlowMustLieInTheWindow(t *testing.T) {
	base := append(handshake(windowsLayout, 8, windowsLayout, 8),
		segSpec{dir: 'c', flags: ack, seq: 1001, ack: 5001, win: 256, ms: 50, payload: 100},
		segSpec{dir: 's', flags: ack, seq: 5001, ack: 1101, win: 256, ms: 90},
	)
	tests := []struct {
		name     string
		seq      uint32
		accepted bool
	}{
		{"at the receiver's next sequence number", 1101, true},
		{"inside its window (RFC 5961 would challenge it; the flow still ends)", 1101 + 20000, true},
		{"beyond its window: a blind reset", 1101 + 256<<8 + 1, false},
		{"before its next sequence number: old data's sequence", 1000, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			segs := append(append([]segSpec{}, base...),
				segSpec{dir: 'c', flags: rst, seq: capture.Seq(tc.seq), ack: 5001, ms: 100})
			flows, _ := runFlows(t, Config{}, segs)
			require.Len(t, flows, 1)
			f := flows[0]
			if tc.accepted {
				assert.NotZero(t, f.Client.RSTPacket)
				assert.Zero(t, f.Client.IgnoredRSTs)
			} else {
				assert.Zero(t, f.Client.RSTPacket)
				assert.Equal(t, uint64(1), f.Client.IgnoredRSTs)
			}
		})
	}
}

func TestNeverAnsweredSYNsNegotiateNothing(t *testing.T) {
	segs := []segSpec{
		{dir: 'c', flags: syn, seq: 1000, win: 8192, opts: opts(windowsLayout, 1460, 8)},
		{dir: 'c', flags: syn, seq: 1000, win: 8192, ms: 3000, opts: opts(windowsLayout, 1460, 8)},
		{dir: 'c', flags: syn, seq: 1000, win: 8192, ms: 9000, opts: opts([]uint8{mss, nop, nop, sok}, 1460, 0)},
	}
	flows, _ := runFlows(t, Config{}, segs)
	require.Len(t, flows, 1)
	f := flows[0]
	assert.Equal(t, HandshakeSYNOnly, f.Handshake)
	assert.Equal(t, 3, f.SYNs)
	assert.False(t, f.AnsweredSYN.Seen, "no SYN was answered")
	assert.Equal(t, Negotiation{}, f.Negotiated, "every negotiated field unknown, even the last try's missing WS")
	assert.Equal(t, BasisUnknown, f.Client.Shift.Basis)
	assert.Equal(t, BasisUnknown, f.Server.Shift.Basis)
}

func TestHandshakeRTTFollowsKarnsRule(t *testing.T) {
	tests := []struct {
		name               string
		segs               []segSpec
		serverRTT, clientR time.Duration
	}{
		{
			name: "syn retried, no timestamps: either try may be answered",
			segs: []segSpec{
				{dir: 'c', flags: syn, seq: 1000, opts: opts(windowsLayout, 1460, 8)},
				{dir: 'c', flags: syn, seq: 1000, ms: 3000, opts: opts(windowsLayout, 1460, 8)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, ms: 4800, opts: opts(windowsLayout, 1460, 8)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, ms: 4801},
			},
			serverRTT: 0, clientR: time.Millisecond,
		},
		{
			name: "syn retried, the synack echoes the first try",
			segs: []segSpec{
				{dir: 'c', flags: syn, seq: 1000, opts: withTS(opts(linuxLayout, 1460, 7), 100, 0)},
				{dir: 'c', flags: syn, seq: 1000, ms: 1000, opts: withTS(opts(linuxLayout, 1460, 7), 1100, 0)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, ms: 1200, opts: withTS(opts(linuxLayout, 1460, 7), 9, 100)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, ms: 1201, opts: withTS(nil, 1300, 9)},
			},
			serverRTT: 1200 * time.Millisecond, clientR: time.Millisecond,
		},
		{
			name: "syn retried, the synack echoes the retry",
			segs: []segSpec{
				{dir: 'c', flags: syn, seq: 1000, opts: withTS(opts(linuxLayout, 1460, 7), 100, 0)},
				{dir: 'c', flags: syn, seq: 1000, ms: 1000, opts: withTS(opts(linuxLayout, 1460, 7), 1100, 0)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, ms: 1040, opts: withTS(opts(linuxLayout, 1460, 7), 9, 1100)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, ms: 1041, opts: withTS(nil, 1141, 9)},
			},
			serverRTT: 40 * time.Millisecond, clientR: time.Millisecond,
		},
		{
			name: "synack retried, no timestamps: the ack may answer either copy",
			segs: []segSpec{
				{dir: 'c', flags: syn, seq: 1000, opts: opts(windowsLayout, 1460, 8)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, ms: 40, opts: opts(windowsLayout, 1460, 8)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, ms: 1040, opts: opts(windowsLayout, 1460, 8)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, ms: 1041},
			},
			serverRTT: 40 * time.Millisecond, clientR: 0,
		},
		{
			name: "synack retried, the ack echoes the latest copy",
			segs: []segSpec{
				{dir: 'c', flags: syn, seq: 1000, opts: withTS(opts(linuxLayout, 1460, 7), 100, 0)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, ms: 40, opts: withTS(opts(linuxLayout, 1460, 7), 9, 100)},
				{dir: 's', flags: synack, seq: 5000, ack: 1001, ms: 1040, opts: withTS(opts(linuxLayout, 1460, 7), 1009, 100)},
				{dir: 'c', flags: ack, seq: 1001, ack: 5001, ms: 1042, opts: withTS(nil, 1142, 1009)},
			},
			serverRTT: 40 * time.Millisecond, clientR: 2 * time.Millisecond,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flows, _ := runFlows(t, Config{}, tc.segs)
			require.Len(t, flows, 1)
			assert.Equal(t, time.Duration(tc.serverRTT), flows[0].ServerRTT, "server side")
			assert.Equal(t, time.Duration(tc.clientR), flows[0].ClientRTT, "client side")
		})
	}
}
