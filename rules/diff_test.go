package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rwin/analyze"
	"rwin/capture"
)

// diffFixture is a flow pair with the client's end in A, both ends
// scaling by shift 7 as their own captures show it.
func diffFixture() (*analyze.FlowPair, *analyze.Flow, *analyze.Flow) {
	scaled := analyze.Shift{Basis: analyze.BasisNegotiated, Value: 7}
	a, b := &analyze.Flow{}, &analyze.Flow{}
	for _, f := range []*analyze.Flow{a, b} {
		f.Client.Shift, f.Server.Shift = scaled, scaled
	}
	p := &analyze.FlowPair{Confidence: analyze.PairHigh, Score: 1, ClientSide: analyze.CaptureA,
		Signals: []analyze.SignalCount{{Signal: analyze.SignalTimestamps, Count: 9}}}
	p.Dirs[analyze.ClientToServer].Upstream = analyze.CaptureA
	p.Dirs[analyze.ServerToClient].Upstream = analyze.CaptureB
	return p, a, b
}

func findingsByID(found []DiffFinding) map[string]DiffFinding {
	m := make(map[string]DiffFinding)
	for _, f := range found {
		m[f.ID] = f
	}
	return m
}

func TestDiffRulesAreInTheCatalogButNeverFireOnOneFlow(t *testing.T) {
	for _, d := range diffRules {
		assert.Same(t, d.rule, Lookup(d.rule.ID))
	}
	for _, f := range Evaluate(&analyze.Flow{}) {
		assert.NotContains(t, f.ID, "path-", "diff rules need two captures")
	}
}

func TestPathEnforcesUnscaledWindow(t *testing.T) {
	lost := analyze.UnscaledCheck{BeyondSent: 20, BeyondLost: 20, WithinSent: 5, Window: 4000, Excess: 1448,
		MinBeyondLost: 1448, MaxWithinDelivered: 1448,
		FirstBeyondLost: analyze.PacketPair{A: analyze.PacketRef{Packet: 6}, B: analyze.PacketRef{Packet: 9}}}
	tests := []struct {
		name     string
		check    analyze.UnscaledCheck
		shift    capture.Shift
		pairing  analyze.PairConfidence
		wantConf Confidence
		want     bool
	}{
		{"full segments arrived within the edge: proven", lost, 7, analyze.PairHigh, Proven, true},
		{"nothing as large arrived within the edge: an mtu black hole would look the same",
			withUnscaled(lost, func(u *analyze.UnscaledCheck) { u.MaxWithinDelivered = 120 }), 7, analyze.PairHigh, High, true},
		{"pairing only likely", lost, 7, analyze.PairMedium, Medium, true},
		{"pairing weak: no findings", lost, 7, analyze.PairLow, 0, false},
		{"receiver does not scale: beyond its window is the sender's fault", lost, 0, analyze.PairHigh, 0, false},
		{"data within the edge lost too: plain loss", withUnscaled(lost, func(u *analyze.UnscaledCheck) { u.WithinLost = 2 }),
			7, analyze.PairHigh, 0, false},
		{"most data beyond the edge arrived", withUnscaled(lost, func(u *analyze.UnscaledCheck) { u.BeyondSent = 200 }),
			7, analyze.PairHigh, 0, false},
		{"a single segment proves nothing", withUnscaled(lost, func(u *analyze.UnscaledCheck) { u.BeyondSent, u.BeyondLost = 1, 1 }),
			7, analyze.PairHigh, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, a, b := diffFixture()
			p.Confidence = tc.pairing
			p.Dirs[analyze.ServerToClient].Unscaled = tc.check
			p.Dirs[analyze.ServerToClient].OnlyData[analyze.CaptureB] = tc.check.BeyondLost + tc.check.WithinLost
			a.Client.Shift.Value = tc.shift // the client's own end: A
			f, ok := findingsByID(EvaluateDiff(p, a, b))["path-enforces-unscaled-window"]
			require.Equal(t, tc.want, ok)
			if !ok {
				return
			}
			assert.Equal(t, tc.wantConf, f.Confidence, f.Why)
			assert.Equal(t, analyze.ServerToClient, f.Direction)
			assert.Contains(t, f.Summary, "20 of 20 data segments the server sent beyond the client's unscaled window")
			require.Len(t, f.Pairs, 1)
			assert.Equal(t, uint64(9), f.Pairs[0].B.Packet, "the lost segment, at the server's end")
			assert.Equal(t, uint64(6), f.Pairs[0].A.Packet, "the client's ACK that set the edge")
		})
	}
}

// TestPathDropsSegmentsBesideTheUnscaledFirewall counts what the path
// lost beyond what the unscaled-window firewall explains: the segments past
// both edges and, once that pattern holds, those the receiver's ACKs in
// flight left between the edges.
func TestPathDropsSegmentsBesideTheUnscaledFirewall(t *testing.T) {
	firewall := analyze.UnscaledCheck{BeyondSent: 20, BeyondLost: 20, WithinSent: 30, BetweenSent: 12, BetweenLost: 10,
		MinBeyondLost: 1448, MaxWithinDelivered: 1448}
	tests := []struct {
		name      string
		check     analyze.UnscaledCheck
		extraLost uint64
		wantDrops string // "" for no path-drops-segments
		wantProof bool
	}{
		{"the firewall explains every loss", firewall, 0, "", true},
		{"three more lost for another reason", firewall, 3, "3 data segments", true},
		{"no firewall pattern: every loss counts", withUnscaled(firewall, func(u *analyze.UnscaledCheck) { u.WithinLost = 2 }), 0,
			"32 data segments", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, a, b := diffFixture()
			d := &p.Dirs[analyze.ServerToClient]
			d.Unscaled = tc.check
			d.OnlyData[analyze.CaptureB] = tc.check.BeyondLost + tc.check.BetweenLost + tc.check.WithinLost + tc.extraLost
			found := findingsByID(EvaluateDiff(p, a, b))
			fw, ok := found["path-enforces-unscaled-window"]
			require.Equal(t, tc.wantProof, ok)
			if ok {
				assert.Contains(t, fw.Summary, "10 of 12 that ended where the client's ACKs in flight were moving the edge vanished too")
			}
			drops, ok := found["path-drops-segments"]
			if tc.wantDrops == "" {
				assert.False(t, ok, drops.Summary)
				return
			}
			require.True(t, ok)
			assert.Contains(t, drops.Summary, tc.wantDrops)
		})
	}
}

func withUnscaled(u analyze.UnscaledCheck, change func(*analyze.UnscaledCheck)) analyze.UnscaledCheck {
	change(&u)
	return u
}

func TestPathHandshakeRules(t *testing.T) {
	syn := func(opts ...analyze.OptionDiff) analyze.HandshakeDiff {
		return analyze.HandshakeDiff{Compared: true, SentIn: analyze.CaptureA, Options: opts,
			Pair:       analyze.PacketPair{A: analyze.PacketRef{Packet: 3}, B: analyze.PacketRef{Packet: 4}},
			LayoutSent: "mss,sok,ts,nop,ws", LayoutReceived: "mss,sok,ts,nop,nop,nop,nop", TTLSent: 64, TTLReceived: 62}
	}
	wsNOPs := analyze.OptionDiff{Kind: capture.OptKindWScale, Change: analyze.OptionRemoved, Sent: 7, NOPs: true}
	tests := []struct {
		name    string
		set     func(p *analyze.FlowPair, a, b *analyze.Flow)
		want    string
		sev     Severity
		summary string
	}{
		{
			name: "syn's window scale overwritten with nops, neither end scales",
			set: func(p *analyze.FlowPair, a, b *analyze.Flow) {
				p.SYN = syn(wsNOPs)
				off := analyze.Shift{Basis: analyze.BasisNegotiated}
				a.Client.Shift, a.Server.Shift, b.Client.Shift, b.Server.Shift = off, off, off, off
			},
			want: "path-strips-option", sev: Error,
			summary: "window scale (shift 7) from the client's SYN (overwritten with NOPs, as iptables TCPOPTSTRIP does)",
		},
		{
			name: "synack's window scale removed, the ends disagree",
			set: func(p *analyze.FlowPair, a, b *analyze.Flow) {
				p.SYNACK = syn(analyze.OptionDiff{Kind: capture.OptKindWScale, Change: analyze.OptionRemoved, Sent: 7})
				p.SYNACK.SentIn = analyze.CaptureB
				off := analyze.Shift{Basis: analyze.BasisNegotiated}
				a.Client.Shift, a.Server.Shift = off, off // the client saw no scaling
			},
			want: "path-strips-option", sev: Error,
			summary: "the server scales its windows by shift 7, the client reads them with shift 0 (128 times too small)",
		},
		{
			name: "sack-permitted stripped",
			set: func(p *analyze.FlowPair, _, _ *analyze.Flow) {
				p.SYN = syn(analyze.OptionDiff{Kind: capture.OptKindSACKPerm, Change: analyze.OptionRemoved})
			},
			want: "path-strips-option", sev: Warn, summary: "removed SACK-permitted from the client's SYN (removed and the header repacked)",
		},
		{
			name: "shift zeroed",
			set: func(p *analyze.FlowPair, _, b *analyze.Flow) {
				p.SYN = syn(analyze.OptionDiff{Kind: capture.OptKindWScale, Change: analyze.OptionValue, Sent: 7})
				b.Client.Shift.Value = 0
			},
			want: "path-rewrites-wscale", sev: Error, summary: "from 7 to 0; now the client scales its windows by shift 7, the server reads them with shift 0",
		},
		{
			name: "mss clamped",
			set: func(p *analyze.FlowPair, _, _ *analyze.Flow) {
				p.SYN = syn(analyze.OptionDiff{Kind: capture.OptKindMSS, Change: analyze.OptionValue, Sent: 1460, Received: 1360})
			},
			want: "path-clamps-mss", sev: Info, summary: "clamped the MSS in the client's SYN from 1460 to 1360",
		},
		{
			name: "syn-ack made by a syn proxy",
			set: func(p *analyze.FlowPair, _, _ *analyze.Flow) {
				p.SYNACK = syn(wsNOPs)
				p.SYNACK.SentIn, p.SYNACK.TTLSent, p.SYNACK.TTLReceived, p.SYNACK.Originated = analyze.CaptureB, 64, 254, true
			},
			want: "path-answers-handshake", sev: Error, summary: "it arrived with TTL 254 but left with 64",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, a, b := diffFixture()
			tc.set(p, a, b)
			found := findingsByID(EvaluateDiff(p, a, b))
			f, ok := found[tc.want]
			require.True(t, ok, "%v", found)
			assert.Equal(t, tc.sev, f.Severity)
			assert.Equal(t, Proven, f.Confidence)
			assert.Contains(t, f.Summary, tc.summary)
			require.NotEmpty(t, f.Pairs)
			assert.NotZero(t, f.Pairs[0].A.Packet)
			assert.NotZero(t, f.Pairs[0].B.Packet)
			if tc.want == "path-answers-handshake" {
				assert.NotContains(t, found, "path-strips-option", "a made-up SYN-ACK was not stripped")
			}
		})
	}
}

func TestPathSegmentRules(t *testing.T) {
	p, a, b := diffFixture()
	p.NAT = true
	d := &p.Dirs[analyze.ServerToClient]
	d.Compared, d.SeqOffset = true, 1000
	d.OnlyData[analyze.CaptureB], d.OnlyBytes[analyze.CaptureB] = 3, 3*1448
	d.FirstOnly[analyze.CaptureB] = analyze.PacketRef{Packet: 40}
	c := &p.Dirs[analyze.ClientToServer]
	c.WindowRewrites, c.WindowA, c.WindowB = 12, 502, 65535
	c.FirstWindowRewrite = analyze.PacketPair{A: analyze.PacketRef{Packet: 5}, B: analyze.PacketRef{Packet: 6}}
	found := findingsByID(EvaluateDiff(p, a, b))
	for id, want := range map[string]string{
		"path-drops-segments":       "3 data segments (4.2 KiB in all with any other unmatched data) left the server",
		"path-rewrites-window":      "the window fields of 12 of the client's segments changed on the path (first: 502 in A, 65535 in B)",
		"path-rewrites-seq":         "the server's sequence numbers are shifted by 1000",
		"path-translates-addresses": "the path translates addresses or ports",
	} {
		f, ok := found[id]
		if assert.True(t, ok, id) {
			assert.Contains(t, f.Summary, want, id)
			assert.Equal(t, Proven, f.Confidence, id)
		}
	}
	assert.Equal(t, uint64(40), found["path-drops-segments"].Pairs[0].B.Packet)
	assert.Zero(t, found["path-drops-segments"].Pairs[0].A.Packet, "the segment never reached A")
}
