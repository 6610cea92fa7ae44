package rules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

// Cases no fixture records, on flows built by hand: the edges where a rule
// must stay silent or lower its confidence.

var (
	linuxSYN      = []uint8{mss, sok, ts, nop, ws}
	windowsLayout = []uint8{mss, nop, ws, nop, nop, sok}
)

// handBuilt returns a complete handshake: the client's SYN with the given
// layout and shift, the server's SYN-ACK likewise, TTLs as captured.
func handBuilt(synKinds []uint8, synShift capture.Shift, synTTL uint8, ackKinds []uint8, ackShift capture.Shift, ackTTL uint8) *analyze.Flow {
	f := &analyze.Flow{Handshake: analyze.HandshakeComplete, SYNs: 1, SYNACKs: 1,
		ClientRTT: 20 * time.Millisecond, ServerRTT: 20 * time.Millisecond}
	f.SYN = analyze.HandshakeSegment{Seen: true, Packet: 1, Window: 64240, TTL: synTTL, Opts: layoutOpts(synShift, synKinds...)}
	f.AnsweredSYN = f.SYN
	f.SYNACK = analyze.HandshakeSegment{Seen: true, Packet: 2, Window: 65160, TTL: ackTTL, Opts: layoutOpts(ackShift, ackKinds...)}
	return f
}

// only returns the findings of one rule.
func only(t *testing.T, id string, f *analyze.Flow) []Finding {
	t.Helper()
	r := Lookup(id)
	require.NotNil(t, r, id)
	return r.check(f, r)
}

func TestWscaleStrippedEdges(t *testing.T) {
	t.Run("synack with nothing but mss is an old stack or a syn cookie", func(t *testing.T) {
		f := handBuilt(linuxSYN, 7, 64, []uint8{mss}, 0, 60)
		assert.Empty(t, only(t, "wscale-stripped", f), "no device in evidence")
		got := only(t, "wscale-declined", f)
		require.Len(t, got, 1)
		assert.Equal(t, Info, got[0].Severity)
		assert.Equal(t, Low, got[0].Confidence)
		assert.Contains(t, got[0].Why, "would look alike")
	})
	t.Run("client that never offered scaling", func(t *testing.T) {
		f := handBuilt([]uint8{mss, sok, ts}, 0, 64, []uint8{mss, sok, ts}, 0, 60)
		assert.Empty(t, only(t, "wscale-stripped", f))
	})
	t.Run("scaling on both ways", func(t *testing.T) {
		f := handBuilt(linuxSYN, 7, 64, linuxSYN, 7, 60)
		f.Negotiated.Scaling = analyze.Yes
		assert.Empty(t, only(t, "wscale-stripped", f))
	})
}

func TestSynProxyEdges(t *testing.T) {
	withTS := func(f *analyze.Flow, synack, after uint32) {
		f.SYNACK.Opts.TSVal = synack
		f.SYNACK.Time = int64(time.Second)
		f.Server.AfterHandshake = analyze.SegmentMark{Seen: true, Packet: 4, Time: int64(time.Second + time.Millisecond),
			TTL: f.SYNACK.TTL, HasTS: true, TSVal: after}
	}
	tests := []struct {
		name  string
		setup func(f *analyze.Flow)
		want  int
		conf  Confidence
	}{
		{"windows synack with tsval 0", func(f *analyze.Flow) { withTS(f, 0, 3247) }, 0, 0},
		{"clock that moves on by a tick", func(f *analyze.Flow) { withTS(f, 9000, 9001) }, 0, 0},
		{"clock that jumps", func(f *analyze.Flow) { withTS(f, 100000074, 3860900651) }, 1, Medium},
		{"ttl from another initial value", func(f *analyze.Flow) {
			withTS(f, 9000, 9001)
			f.Server.AfterHandshake.TTL = 55
			f.SYNACK.TTL = 254
		}, 1, Medium},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := handBuilt(linuxSYN, 7, 64, linuxSYN, 7, 60)
			tc.setup(f)
			got := only(t, "syn-proxy", f)
			require.Len(t, got, tc.want)
			if tc.want > 0 {
				assert.Equal(t, tc.conf, got[0].Confidence)
			}
		})
	}
}

func TestUnscaledWindowEnforcedNeedsAStall(t *testing.T) {
	f := handBuilt(linuxSYN, 7, 64, linuxSYN, 7, 60)
	f.Negotiated.Scaling = analyze.Yes
	f.Client.Shift = analyze.Shift{Basis: analyze.BasisNegotiated, Value: 7}
	f.Server.RetransBeyondUnscaled, f.Server.MaxBeyondRun = 12, 3
	f.Server.MaxStall = 300 * time.Millisecond
	assert.Empty(t, only(t, "unscaled-window-enforced", f), "lost and repaired: ordinary loss")
	f.Server.MaxStall, f.Server.StallToEnd = 5*time.Second, true
	got := only(t, "unscaled-window-enforced", f)
	require.Len(t, got, 1)
	assert.Equal(t, Error, got[0].Severity)
	assert.Equal(t, analyze.ServerToClient, got[0].Direction)
}

func TestAutotuningLevelEdges(t *testing.T) {
	tests := []struct {
		name  string
		kinds []uint8
		shift capture.Shift
		ttl   uint8
		level string // "" for no finding
	}{
		{"normal is the default", windowsLayout, 8, 128, ""},
		{"restricted", windowsLayout, 4, 128, "restricted"},
		{"a shift no level announces", windowsLayout, 5, 128, ""},
		{"linux with only sack looks like a disabled windows", []uint8{mss, nop, nop, sok}, 0, 64, ""},
		{"windows without scaling", []uint8{mss, nop, nop, sok}, 0, 128, "without window scaling"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := handBuilt(tc.kinds, tc.shift, tc.ttl, linuxSYN, 7, 60)
			got := only(t, "autotuning-level", f)
			if tc.level == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Contains(t, got[0].Summary, tc.level)
			assert.Contains(t, got[0].Advice, "netsh int tcp set global autotuninglevel=normal")
		})
	}
}

func TestMSSClampedEdges(t *testing.T) {
	clamp := func(f *analyze.Flow, syn, ack uint16) *analyze.Flow {
		f.SYN.Opts.MSS, f.SYNACK.Opts.MSS = syn, ack
		f.AnsweredSYN = f.SYN
		return f
	}
	tests := []struct {
		name string
		f    *analyze.Flow
		want []Confidence
	}{
		{"full-size both ways", clamp(handBuilt(linuxSYN, 7, 60, linuxSYN, 7, 60), 1460, 1460), nil},
		{"both clamped to the same value", clamp(handBuilt(linuxSYN, 7, 60, linuxSYN, 7, 60), 1360, 1360), []Confidence{Medium}},
		{"synack low after routers", clamp(handBuilt(linuxSYN, 7, 64, linuxSYN, 7, 60), 1460, 1400), []Confidence{Low}},
		{"syn low at its own host: its MTU", clamp(handBuilt(linuxSYN, 7, 64, linuxSYN, 7, 60), 1400, 1460), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []Confidence
			for _, x := range only(t, "mss-clamped", tc.f) {
				assert.Equal(t, Info, x.Severity)
				got = append(got, x.Confidence)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
