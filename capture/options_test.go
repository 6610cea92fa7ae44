package capture

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opts concatenates option byte strings, so cases read option by option.
func opts(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// Option encodings used by the cases.
var (
	oNOP     = []byte{1}
	oEOL     = []byte{0}
	oMSS1460 = []byte{2, 4, 0x05, 0xb4}
	oSOK     = []byte{4, 2}
	oTS      = []byte{8, 10, 0, 0, 0, 1, 0, 0, 0, 2} // TSval 1, TSecr 2
)

func oWS(shift byte) []byte { return []byte{3, 3, shift} }

// oSACK encodes n SACK blocks [1000+100k, 1050+100k).
func oSACK(n int) []byte {
	b := []byte{5, byte(2 + 8*n)}
	for k := range n {
		l, r := uint32(1000+100*k), uint32(1050+100*k)
		b = append(b, byte(l>>24), byte(l>>16), byte(l>>8), byte(l), byte(r>>24), byte(r>>16), byte(r>>8), byte(r))
	}
	return b
}

func sackBlocks(n int) [MaxSACKBlocks]SACKBlock {
	var s [MaxSACKBlocks]SACKBlock
	for k := range n {
		s[k] = SACKBlock{Left: Seq(1000 + 100*k), Right: Seq(1050 + 100*k)}
	}
	return s
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		// hdrLen is the option area length per the data offset; -1 means
		// len(b) (nothing cut).
		hdrLen    int
		has       OptSet
		mss       uint16
		ws        Shift
		tsVal     uint32
		tsEcr     uint32
		nsack     uint8
		layout    string
		issue     OptIssue
		truncated bool
	}{
		{
			name: "linux syn mss,sok,ts,nop,ws", b: opts(oMSS1460, oSOK, oTS, oNOP, oWS(7)), hdrLen: -1,
			has: HasMSS | HasSACKPerm | HasTimestamp | HasWScale, mss: 1460, ws: 7, tsVal: 1, tsEcr: 2,
			layout: "mss,sok,ts,nop,ws",
		},
		{
			name: "windows syn mss,nop,ws,nop,nop,sok", b: opts(oMSS1460, oNOP, oWS(8), oNOP, oNOP, oSOK), hdrLen: -1,
			has: HasMSS | HasWScale | HasSACKPerm, mss: 1460, ws: 8,
			layout: "mss,nop,ws,nop,nop,sok",
		},
		{
			name: "macos syn mss,nop,ws,nop,nop,ts,sok,eol", b: opts(oMSS1460, oNOP, oWS(6), oNOP, oNOP, oTS, oSOK, oEOL, oEOL), hdrLen: -1,
			has: HasMSS | HasWScale | HasTimestamp | HasSACKPerm, mss: 1460, ws: 6, tsVal: 1, tsEcr: 2,
			layout: "mss,nop,ws,nop,nop,ts,sok,eol",
		},
		{
			name: "linux syn with ws turned into nops by tcpoptstrip", b: opts(oMSS1460, oSOK, oTS, oNOP, oNOP, oNOP, oNOP), hdrLen: -1,
			has: HasMSS | HasSACKPerm | HasTimestamp, mss: 1460, tsVal: 1, tsEcr: 2,
			layout: "mss,sok,ts,nop,nop,nop,nop",
		},
		{
			name: "windows syn with ws turned into nops by tcpoptstrip", b: opts(oMSS1460, oNOP, oNOP, oNOP, oNOP, oNOP, oNOP, oSOK), hdrLen: -1,
			has: HasMSS | HasSACKPerm, mss: 1460,
			layout: "mss,nop,nop,nop,nop,nop,nop,sok",
		},
		{
			name: "empty option area", b: nil, hdrLen: -1,
		},
		{
			name: "ws shift 255 kept as on the wire", b: opts(oNOP, oWS(255)), hdrLen: -1,
			has: HasWScale, ws: 255, layout: "nop,ws",
		},
		{
			name: "ws length 4 is malformed but framed, parsing goes on", b: opts([]byte{3, 4, 7, 0}, oSOK, oNOP, oNOP), hdrLen: -1,
			has: HasSACKPerm, layout: "ws,sok,nop,nop",
			issue: OptIssue{Problem: OptBadLength, Kind: OptKindWScale, Offset: 0, Length: 4},
		},
		{
			name: "option length 0 stops parsing", b: opts(oNOP, []byte{2, 0, 5, 0xb4}), hdrLen: -1,
			layout: "nop,mss",
			issue:  OptIssue{Problem: OptBadLength, Kind: OptKindMSS, Offset: 1, Length: 0},
		},
		{
			name: "option length 1 stops parsing", b: opts([]byte{8, 1}, oSOK), hdrLen: -1,
			layout: "ts",
			issue:  OptIssue{Problem: OptBadLength, Kind: OptKindTimestamp, Offset: 0, Length: 1},
		},
		{
			name: "option running past the header", b: opts(oNOP, oNOP, []byte{8, 10, 0, 0}), hdrLen: -1,
			layout: "nop,nop,ts",
			issue:  OptIssue{Problem: OptPastHeader, Kind: OptKindTimestamp, Offset: 2, Length: 10},
		},
		{
			name: "kind byte is the last byte of the header", b: opts(oNOP, oNOP, oNOP, []byte{3}), hdrLen: -1,
			layout: "nop,nop,nop,ws",
			issue:  OptIssue{Problem: OptNoLengthByte, Kind: OptKindWScale, Offset: 3},
		},
		{
			name: "snaplen cut inside ts option", b: opts(oMSS1460, oNOP, oNOP, oTS[:4]), hdrLen: 16,
			has: HasMSS, mss: 1460, layout: "mss,nop,nop", truncated: true,
		},
		{
			name: "snaplen cut between kind and length byte", b: opts(oNOP, oNOP, []byte{8}), hdrLen: 12,
			layout: "nop,nop", truncated: true,
		},
		{
			name: "snaplen cut after the last whole option", b: opts(oNOP, oNOP, oTS), hdrLen: 24,
			has: HasTimestamp, tsVal: 1, tsEcr: 2, layout: "nop,nop,ts", truncated: true,
		},
		{
			name: "snaplen cut inside an option that also runs past the header", b: opts(oNOP, []byte{30, 40, 0}), hdrLen: 8,
			layout: "nop,mptcp", truncated: true,
			issue: OptIssue{Problem: OptPastHeader, Kind: OptKindMPTCP, Offset: 1, Length: 40},
		},
		{
			name: "bytes past the declared header are ignored", b: opts(oMSS1460, oWS(7)), hdrLen: 4,
			has: HasMSS, mss: 1460, layout: "mss",
		},
		{
			name: "data segment nop,nop,ts", b: opts(oNOP, oNOP, oTS), hdrLen: -1,
			has: HasTimestamp, tsVal: 1, tsEcr: 2, layout: "nop,nop,ts",
		},
		{
			name: "nop,nop,ts with bytes past the header", b: opts(oNOP, oNOP, oTS, oNOP, oWS(7)), hdrLen: 12,
			has: HasTimestamp, tsVal: 1, tsEcr: 2, layout: "nop,nop,ts",
		},
		{
			name: "nop,nop then a ts option of bad length", b: opts(oNOP, oNOP, []byte{8, 9, 0, 0, 0, 1, 0, 0, 0}, oNOP), hdrLen: -1,
			layout: "nop,nop,ts,nop",
			issue:  OptIssue{Problem: OptBadLength, Kind: OptKindTimestamp, Offset: 2, Length: 9},
		},
		{
			name: "4 sack blocks", b: opts(oNOP, oNOP, oSACK(4)), hdrLen: -1,
			has: HasSACK, nsack: 4, layout: "nop,nop,sack",
		},
		{
			name: "ack with ts and 3 sack blocks", b: opts(oNOP, oNOP, oTS, oSACK(3)), hdrLen: -1,
			has: HasTimestamp | HasSACK, tsVal: 1, tsEcr: 2, nsack: 3, layout: "nop,nop,ts,sack",
		},
		{
			name: "sack with 5 blocks' worth cannot fit in 40 bytes", b: opts(oSACK(5)[:40]), hdrLen: -1,
			layout: "sack",
			issue:  OptIssue{Problem: OptPastHeader, Kind: OptKindSACK, Offset: 0, Length: 42},
		},
		{
			name: "sack length not a multiple of 8", b: opts([]byte{5, 6, 0, 0, 0, 1}, oNOP, oNOP), hdrLen: -1,
			layout: "sack,nop,nop",
			issue:  OptIssue{Problem: OptBadLength, Kind: OptKindSACK, Offset: 0, Length: 6},
		},
		{
			name: "sack without blocks", b: opts([]byte{5, 2}, oNOP, oNOP), hdrLen: -1,
			layout: "sack,nop,nop",
			issue:  OptIssue{Problem: OptBadLength, Kind: OptKindSACK, Offset: 0, Length: 2},
		},
		{
			name: "eol followed by garbage", b: opts(oMSS1460, oEOL, []byte{0xff, 0xff, 0xff}), hdrLen: -1,
			has: HasMSS, mss: 1460, layout: "mss,eol",
		},
		{
			name: "unknown kinds render as ?N", b: opts([]byte{254, 4, 0xf9, 0x89}, []byte{99, 2}, oNOP, oNOP), hdrLen: -1,
			has: HasOther, layout: "?254,?99,nop,nop",
		},
		{
			name: "mptcp, fast open, md5 and ao are recognised", b: opts([]byte{30, 4, 0, 0}, []byte{34, 2}, []byte{19, 18}, make([]byte, 16), []byte{29, 4, 0, 0}), hdrLen: -1,
			has: HasMPTCP | HasFastOpen | HasMD5 | HasAO, layout: "mptcp,tfo,md5,ao",
		},
		{
			name: "mss with length 3 is malformed", b: opts([]byte{2, 3, 5}, oNOP), hdrLen: -1,
			layout: "mss,nop",
			issue:  OptIssue{Problem: OptBadLength, Kind: OptKindMSS, Offset: 0, Length: 3},
		},
		{
			name: "only the first malformed option is recorded", b: opts([]byte{3, 2}, []byte{4, 3, 0}, oWS(2)), hdrLen: -1,
			has: HasWScale, ws: 2, layout: "ws,sok,ws",
			issue: OptIssue{Problem: OptBadLength, Kind: OptKindWScale, Offset: 0, Length: 2},
		},
		{
			name: "40 nops fill the layout", b: opts(make40(1)), hdrLen: -1,
			layout: "nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop," +
				"nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop,nop",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdrLen := tc.hdrLen
			if hdrLen < 0 {
				hdrLen = len(tc.b)
			}
			var o Options
			o.Has = ^OptSet(0) // ParseOptions must overwrite, not merge
			ParseOptions(tc.b, hdrLen, &o)
			assert.Equal(t, tc.has, o.Has, "Has")
			assert.Equal(t, tc.layout, o.Layout.String(), "Layout")
			assert.Equal(t, tc.issue, o.Issue, "Issue")
			assert.Equal(t, tc.truncated, o.Truncated, "Truncated")
			if o.Has&HasMSS != 0 {
				assert.Equal(t, tc.mss, o.MSS, "MSS")
			}
			if o.Has&HasWScale != 0 {
				assert.Equal(t, tc.ws, o.WScale, "WScale")
			}
			if o.Has&HasTimestamp != 0 {
				assert.Equal(t, tc.tsVal, o.TSVal, "TSVal")
				assert.Equal(t, tc.tsEcr, o.TSEcr, "TSEcr")
			}
			assert.Equal(t, tc.nsack, o.NSACK, "NSACK")
			assert.Equal(t, sackBlocks(int(tc.nsack)), o.SACK, "SACK")
			checkOptionInvariants(t, tc.b, hdrLen, &o)
		})
	}
}

func make40(kind byte) []byte {
	b := make([]byte, MaxOptionBytes)
	for i := range b {
		b[i] = kind
	}
	return b
}

func TestOptionsCarries(t *testing.T) {
	var o Options
	ParseOptions(opts([]byte{2, 4, 5, 0xb4}, []byte{1, 3, 3, 7}), 8, &o) // MSS 1460, NOP, WS 7
	tests := []struct {
		name string
		set  OptSet
		want bool
	}{
		{"an option it carries", HasWScale, true},
		{"one it does not", HasTimestamp, false},
		{"any of two, one carried", HasTimestamp | HasMSS, true},
		{"any of two, neither carried", HasTimestamp | HasSACKPerm, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, o.Carries(tc.set)) })
	}
}

func TestShiftEffective(t *testing.T) {
	tests := []struct {
		name   string
		shift  Shift
		eff    Shift
		window uint32 // Scale(1000)
	}{
		{"shift 0 leaves the window as is", 0, 0, 1000},
		{"linux default shift 7", 7, 7, 128000},
		{"shift 14 is the largest allowed", 14, 14, 1000 << 14},
		{"shift 15 is used as 14", 15, 14, 1000 << 14},
		{"shift 255 is used as 14", 255, 14, 1000 << 14},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.eff, tc.shift.Effective())
			assert.Equal(t, tc.window, tc.shift.Scale(1000))
		})
	}
}

// checkOptionInvariants asserts what must hold for any option area: the
// fuzz target's oracle.
func checkOptionInvariants(t *testing.T, b []byte, hdrLen int, o *Options) {
	t.Helper()
	assert.LessOrEqual(t, int(o.NSACK), MaxSACKBlocks, "NSACK")
	assert.LessOrEqual(t, o.Layout.Len(), MaxOptionBytes, "layout length")
	assert.LessOrEqual(t, o.Layout.Len(), min(len(b), hdrLen), "layout longer than the captured area")
	assert.Equal(t, len(b) < hdrLen, o.Truncated, "Truncated iff the area was cut")
	if o.Issue.Problem != OptOK {
		assert.Less(t, int(o.Issue.Offset), hdrLen, "issue offset inside the header")
	}
	inLayout := func(kind uint8) bool {
		for i := range o.Layout.Len() {
			if o.Layout.Kind(i) == kind {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		bit  OptSet
		kind uint8
	}{
		{HasMSS, OptKindMSS}, {HasWScale, OptKindWScale}, {HasSACKPerm, OptKindSACKPerm}, {HasSACK, OptKindSACK},
		{HasTimestamp, OptKindTimestamp}, {HasMD5, OptKindMD5}, {HasAO, OptKindAO}, {HasMPTCP, OptKindMPTCP}, {HasFastOpen, OptKindFastOpen},
	} {
		if o.Has&c.bit != 0 {
			assert.True(t, inLayout(c.kind), "option %s set without a layout entry", OptKindName(c.kind))
		}
	}
	if o.Has&HasSACK != 0 {
		assert.Positive(t, o.NSACK, "SACK without blocks")
	} else {
		assert.Zero(t, o.NSACK, "blocks without SACK")
	}
}

func FuzzParseOptions(f *testing.F) {
	f.Add(opts(oMSS1460, oSOK, oTS, oNOP, oWS(7)), uint8(20))
	f.Add(opts(oMSS1460, oNOP, oWS(8), oNOP, oNOP, oSOK), uint8(12))
	f.Add(opts(oNOP, oNOP, oTS, oSACK(3)), uint8(36))
	f.Add(opts(oNOP, oNOP, oTS[:6]), uint8(12))
	f.Add(opts(oNOP, oNOP, oTS), uint8(12))
	f.Add(opts(oSACK(5)[:40]), uint8(40))
	f.Add([]byte{3, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, hdrLen uint8) {
		// The decoder declares 0–40 bytes; b may be shorter (snaplen) or,
		// from other callers, longer than that.
		h := int(hdrLen) % (MaxOptionBytes + 1)
		var o Options
		ParseOptions(b, h, &o)
		checkOptionInvariants(t, b, h, &o)
		var general Options
		parseOptionList(b, h, &general)
		require.Equal(t, general, o, "the timestamps-only fast path must agree with the general parse")
	})
}

func TestLayoutIs(t *testing.T) {
	var o Options
	ParseOptions(opts(oMSS1460, oNOP, oWS(8), oNOP, oNOP, oSOK), 12, &o)
	l := &o.Layout
	assert.True(t, l.Is(OptKindMSS, OptKindNOP, OptKindWScale, OptKindNOP, OptKindNOP, OptKindSACKPerm))
	assert.False(t, l.Is(OptKindMSS, OptKindNOP, OptKindWScale, OptKindNOP, OptKindNOP), "a prefix")
	assert.False(t, l.Is(OptKindMSS, OptKindNOP, OptKindWScale, OptKindNOP, OptKindNOP, OptKindSACKPerm, OptKindEOL), "longer")
	assert.False(t, l.Is(OptKindMSS, OptKindNOP, OptKindNOP, OptKindNOP, OptKindNOP, OptKindSACKPerm), "another kind")
	assert.True(t, (&Layout{}).Is(), "no options")
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		l.Is(OptKindMSS, OptKindNOP, OptKindWScale, OptKindNOP, OptKindNOP, OptKindSACKPerm)
	}))
}
