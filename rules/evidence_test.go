package rules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"rwin/analyze"
	"rwin/capture"
)

const (
	eol = capture.OptKindEOL
	nop = capture.OptKindNOP
	mss = capture.OptKindMSS
	ws  = capture.OptKindWScale
	sok = capture.OptKindSACKPerm
	ts  = capture.OptKindTimestamp
	tfo = 254 // the experimental TCP Fast Open kind
)

// layoutOpts parses an option area written in the given order, with MSS
// 1460, the given shift and timestamp 1000/0; no padding is added.
func layoutOpts(shift capture.Shift, kinds ...uint8) capture.Options {
	var b []byte
	for _, k := range kinds {
		switch k {
		case eol, nop:
			b = append(b, k)
		case mss:
			b = append(b, 2, 4, 0x05, 0xb4)
		case ws:
			b = append(b, 3, 3, byte(shift))
		case sok:
			b = append(b, 4, 2)
		case ts:
			b = append(b, 8, 10, 0, 0, 0x03, 0xe8, 0, 0, 0, 0)
		default:
			b = append(b, k, 4, 0, 0)
		}
	}
	var o capture.Options
	capture.ParseOptions(b, len(b), &o)
	return o
}

func TestRemovalTrace(t *testing.T) {
	nops := func(n int) []uint8 {
		out := make([]uint8, n)
		for i := range out {
			out[i] = nop
		}
		return out
	}
	join := func(parts ...[]uint8) []uint8 {
		var out []uint8
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name       string
		kinds      []uint8
		conf       Confidence // when found
		found      bool
		wsFits     bool
		sackFits   bool
		tsFits     bool
		cutOrBroke func(*capture.Options)
	}{
		{name: "linux syn after tcpoptstrip of ws", kinds: join([]uint8{mss, sok, ts}, nops(4)), found: true, conf: High,
			wsFits: true, sackFits: true},
		{name: "windows syn after tcpoptstrip of ws", kinds: join([]uint8{mss}, nops(6), []uint8{sok}), found: true, conf: High,
			wsFits: true, sackFits: true},
		{name: "linux synack with its timestamps overwritten", kinds: join([]uint8{mss, sok}, nops(11), []uint8{ws}), found: true,
			conf: High, wsFits: true, sackFits: true, tsFits: true},
		{name: "nop left before eol", kinds: []uint8{mss, sok, ts, nop, eol}, found: true, conf: Medium, wsFits: true, sackFits: true, tsFits: true},
		{name: "linux syn repacked without sack-permitted", kinds: []uint8{mss, ts, nop, ws, eol}, found: true, conf: Medium, sackFits: true},
		{name: "linux syn repacked without timestamps", kinds: []uint8{mss, sok, nop, ws, eol}, found: true, conf: Medium, tsFits: true},
		{name: "linux syn", kinds: []uint8{mss, sok, ts, nop, ws}},
		{name: "linux syn without sack", kinds: []uint8{mss, nop, nop, ts, nop, ws}},
		{name: "windows syn", kinds: []uint8{mss, nop, ws, nop, nop, sok}},
		{name: "windows syn with auto-tuning disabled", kinds: []uint8{mss, nop, nop, sok}},
		{name: "macos syn", kinds: []uint8{mss, nop, ws, nop, nop, ts, sok, eol}},
		{name: "crafted syn with ws not aligned", kinds: []uint8{mss, ws, eol}},
		{name: "nops padding a fast open cookie", kinds: []uint8{mss, tfo, nop, nop}},
		{name: "tcpoptstrip nops cut by the snaplen", kinds: join([]uint8{mss, sok, ts}, nops(4)),
			cutOrBroke: func(o *capture.Options) { o.Truncated = true }},
		{name: "malformed option area", kinds: join([]uint8{mss, sok, ts}, nops(4)),
			cutOrBroke: func(o *capture.Options) { o.Issue.Problem = capture.OptBadLength }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := layoutOpts(7, tc.kinds...)
			if tc.cutOrBroke != nil {
				tc.cutOrBroke(&o)
			}
			tr, found := removalTrace(&o)
			assert.Equal(t, tc.found, found, o.Layout.String())
			if !found {
				return
			}
			assert.Equal(t, tc.conf, tr.conf)
			assert.NotEmpty(t, tr.what)
			assert.Equal(t, tc.wsFits, tr.fits(capture.HasWScale, sizeWScale), "ws")
			assert.Equal(t, tc.sackFits, tr.fits(capture.HasSACKPerm, sizeSACKPerm), "sack")
			assert.Equal(t, tc.tsFits, tr.fits(capture.HasTimestamp, sizeTimestamp), "ts")
		})
	}
}

func TestStackOf(t *testing.T) {
	for want, kinds := range map[string][]uint8{
		"Linux":   {mss, sok, ts, nop, ws},
		"Windows": {mss, nop, ws, nop, nop, sok},
		"macOS":   {mss, nop, ws, nop, nop, ts, sok, eol},
		"":        {mss, ws, eol},
	} {
		o := layoutOpts(7, kinds...)
		assert.Equal(t, want, stackOf(&o.Layout), o.Layout.String())
	}
}

func TestInitialTTLAndHops(t *testing.T) {
	tests := []struct {
		ttl     uint8
		initial uint8
		hops    int
	}{{64, 64, 0}, {62, 64, 2}, {128, 128, 0}, {119, 128, 9}, {255, 255, 0}, {254, 255, 1}, {30, 32, 2}, {1, 32, 31}}
	for _, tc := range tests {
		assert.Equal(t, tc.initial, initialTTL(tc.ttl), "ttl %d", tc.ttl)
		assert.Equal(t, tc.hops, hops(tc.ttl), "ttl %d", tc.ttl)
	}
}

func TestVantage(t *testing.T) {
	ms := time.Millisecond
	flow := func(synTTL, ackTTL uint8, clientRTT, serverRTT time.Duration) *analyze.Flow {
		f := &analyze.Flow{ClientRTT: clientRTT, ServerRTT: serverRTT}
		f.SYN = analyze.HandshakeSegment{Seen: true, TTL: synTTL}
		f.SYNACK = analyze.HandshakeSegment{Seen: true, TTL: ackTTL}
		return f
	}
	tests := []struct {
		name string
		f    *analyze.Flow
		want vantage
	}{
		{"syn with its initial ttl", flow(64, 62, 0, 0), nearClient},
		{"synack with its initial ttl", flow(62, 64, 0, 0), nearServer},
		{"both initial ttls, server far", flow(64, 64, ms/10, 40*ms), nearClient},
		{"both routed, client far", flow(60, 55, 40*ms, ms), nearServer},
		{"both routed, halfway", flow(60, 55, 20*ms, 20*ms), midPath},
		{"no handshake", &analyze.Flow{}, vantageUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, why := vantageOf(tc.f)
			assert.Equal(t, tc.want, v)
			assert.Equal(t, tc.want == vantageUnknown, why == "")
		})
	}
}

func TestShiftAndWindowArithmetic(t *testing.T) {
	assert.Equal(t, capture.Shift(0), shiftFor(65535))
	assert.Equal(t, capture.Shift(1), shiftFor(65536))
	assert.Equal(t, capture.Shift(7), shiftFor(65535<<7))
	assert.Equal(t, capture.Shift(8), shiftFor(65535<<7+1))
	assert.Equal(t, capture.Shift(14), shiftFor(1<<40))
	assert.Equal(t, uint64(65536), windowFor(12_800_000, 40_960_000), "12.8 Mbit/s over 40.96 ms")
}
