package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ngBlock frames body as a pcapng block of type typ, padding it to 32 bits.
func ngBlock(o testOrder, typ uint32, body []byte) []byte {
	body = append(slices.Clone(body), make([]byte, -len(body)&3)...)
	n := uint32(12 + len(body))
	b := o.AppendUint32(nil, typ)
	b = o.AppendUint32(b, n)
	b = append(b, body...)
	return o.AppendUint32(b, n)
}

// ngOpt is one pcapng option, padded.
func ngOpt(o testOrder, code uint16, val []byte) []byte {
	b := o.AppendUint16(nil, code)
	b = o.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return append(b, make([]byte, -len(val)&3)...)
}

func shb(o testOrder, opts ...[]byte) []byte {
	b := o.AppendUint32(nil, byteOrderMagic)
	b = o.AppendUint16(b, 1)
	b = o.AppendUint16(b, 0)
	b = o.AppendUint64(b, ^uint64(0)) // section length unknown
	return ngBlock(o, blockSHB, append(b, slices.Concat(opts...)...))
}

func idb(o testOrder, link uint16, snaplen uint32, opts ...[]byte) []byte {
	b := o.AppendUint16(nil, link)
	b = o.AppendUint16(b, 0)
	b = o.AppendUint32(b, snaplen)
	return ngBlock(o, blockIDB, append(b, slices.Concat(opts...)...))
}

func epb(o testOrder, id uint32, ticks uint64, data []byte, origlen uint32, opts ...[]byte) []byte {
	b := o.AppendUint32(nil, id)
	b = o.AppendUint32(b, uint32(ticks>>32))
	b = o.AppendUint32(b, uint32(ticks))
	b = o.AppendUint32(b, uint32(len(data)))
	b = o.AppendUint32(b, origlen)
	b = append(b, data...)
	b = append(b, make([]byte, -len(data)&3)...)
	return ngBlock(o, blockEPB, append(b, slices.Concat(opts...)...))
}

// pb is the obsolete Packet Block: a 16-bit interface id and drop count.
func pb(o testOrder, id uint16, ticks uint64, data []byte, origlen uint32) []byte {
	b := o.AppendUint16(nil, id)
	b = o.AppendUint16(b, 0)
	b = o.AppendUint32(b, uint32(ticks>>32))
	b = o.AppendUint32(b, uint32(ticks))
	b = o.AppendUint32(b, uint32(len(data)))
	b = o.AppendUint32(b, origlen)
	return ngBlock(o, blockPB, append(b, data...))
}

func spb(o testOrder, origlen uint32, data []byte) []byte {
	return ngBlock(o, blockSPB, append(o.AppendUint32(nil, origlen), data...))
}

// pcapngFile is a section header followed by blocks.
func pcapngFile(o testOrder, blocks ...[]byte) []byte {
	return slices.Concat(append([][]byte{shb(o)}, blocks...)...)
}

// offsetOf is the offset of blocks[i] in slices.Concat(blocks...).
func offsetOf(blocks [][]byte, i int) int64 {
	return int64(len(slices.Concat(blocks[:i]...)))
}

func TestPcapngReader(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	const us = 1_700_000_000_123_456 // a time in microseconds
	tsresol := func(o testOrder, v byte) []byte { return ngOpt(o, optTSResol, []byte{v}) }
	tsoffset := func(o testOrder, s int64) []byte { return ngOpt(o, optTSOffset, o.AppendUint64(nil, uint64(s))) }
	comment := ngOpt(le, 1, []byte("hello"))

	type tcase struct {
		name    string
		blocks  [][]byte
		want    func(b [][]byte) []Packet
		kind    error // io.EOF for a clean end
		message string
	}
	basic := func(o testOrder) tcase {
		return tcase{
			blocks: [][]byte{shb(o), idb(o, 1, 65535), epb(o, 0, us, []byte{1, 2, 3}, 3), epb(o, 0, us+1, bytesOf(60, 9), 1514)},
			want: func(b [][]byte) []Packet {
				return []Packet{
					{Data: []byte{1, 2, 3}, OrigLen: 3, Time: us * 1000, Link: LinkEthernet, Index: 1, Offset: offsetOf(b, 2)},
					{Data: bytesOf(60, 9), OrigLen: 1514, Time: (us + 1) * 1000, Link: LinkEthernet, Index: 2, Offset: offsetOf(b, 3)},
				}
			},
			kind: io.EOF,
		}
	}
	named := func(name string, tc tcase) tcase { tc.name = name; return tc }
	none := func([][]byte) []Packet { return nil }

	tests := []tcase{
		named("little-endian section", basic(le)),
		named("big-endian section", basic(be)),
		{
			name: "two interfaces of different link types and resolutions",
			blocks: [][]byte{shb(le),
				idb(le, 1, 0),
				idb(le, 276, 0, tsresol(le, 9), tsoffset(le, 100)),
				epb(le, 1, 5_000_000_007, []byte{0x45}, 1),
				epb(le, 0, us, []byte{0x60}, 1),
			},
			want: func(b [][]byte) []Packet {
				return []Packet{
					{Data: []byte{0x45}, OrigLen: 1, Time: 105_000_000_007, Link: LinkLinuxSLL2, Index: 1, Offset: offsetOf(b, 3)},
					{Data: []byte{0x60}, OrigLen: 1, Time: us * 1000, Link: LinkEthernet, Index: 2, Offset: offsetOf(b, 4)},
				}
			},
			kind: io.EOF,
		},
		{
			name:   "power-of-two resolution",
			blocks: [][]byte{shb(be), idb(be, 101, 0, tsresol(be, 0x80|20)), epb(be, 0, 7<<19, []byte{1}, 1)},
			want: func(b [][]byte) []Packet {
				return []Packet{{Data: []byte{1}, OrigLen: 1, Time: 3_500_000_000, Link: LinkRaw, Index: 1, Offset: offsetOf(b, 2)}}
			},
			kind: io.EOF,
		},
		{
			name:   "picosecond resolution",
			blocks: [][]byte{shb(le), idb(le, 1, 0, tsresol(le, 12)), epb(le, 0, 1_000_000_000_123_999, []byte{1}, 1)},
			want: func(b [][]byte) []Packet {
				return []Packet{{Data: []byte{1}, OrigLen: 1, Time: 1_000_000_000_123, Link: LinkEthernet, Index: 1, Offset: offsetOf(b, 2)}}
			},
			kind: io.EOF,
		},
		{
			name:   "simple packet blocks cut to the snaplen and the original length",
			blocks: [][]byte{shb(le), idb(le, 1, 4), spb(le, 8, bytesOf(8, 1)), idb(le, 113, 0), spb(le, 2, []byte{5, 6, 7})},
			want: func(b [][]byte) []Packet {
				return []Packet{
					{Data: bytesOf(4, 1), OrigLen: 8, Link: LinkEthernet, Index: 1, Offset: offsetOf(b, 2), Untimed: true},
					{Data: []byte{5, 6}, OrigLen: 2, Link: LinkEthernet, Index: 2, Offset: offsetOf(b, 4), Untimed: true},
				}
			},
			kind: io.EOF,
		},
		{
			// A 1970 timestamp would stretch the capture over 56 years.
			name:   "simple packet block borrows the time of the packet before it",
			blocks: [][]byte{shb(le), idb(le, 1, 0), epb(le, 0, 1_700_000_000_000_000, []byte{1}, 1), spb(le, 1, []byte{2}), epb(le, 0, 1_700_000_001_000_000, []byte{3}, 1)},
			want: func(b [][]byte) []Packet {
				return []Packet{
					{Data: []byte{1}, OrigLen: 1, Time: 1_700_000_000_000_000_000, Link: LinkEthernet, Index: 1, Offset: offsetOf(b, 2)},
					{Data: []byte{2}, OrigLen: 1, Time: 1_700_000_000_000_000_000, Link: LinkEthernet, Index: 2, Offset: offsetOf(b, 3), Untimed: true},
					{Data: []byte{3}, OrigLen: 1, Time: 1_700_000_001_000_000_000, Link: LinkEthernet, Index: 3, Offset: offsetOf(b, 4)},
				}
			},
			kind: io.EOF,
		},
		{
			name:   "obsolete packet block",
			blocks: [][]byte{shb(be), idb(be, 0, 0), idb(be, 1, 0), pb(be, 1, us, []byte{1, 2, 3, 4, 5}, 70)},
			want: func(b [][]byte) []Packet {
				return []Packet{{Data: []byte{1, 2, 3, 4, 5}, OrigLen: 70, Time: us * 1000, Link: LinkEthernet, Index: 1, Offset: offsetOf(b, 3)}}
			},
			kind: io.EOF,
		},
		{
			name: "unknown blocks and packet options are skipped",
			blocks: [][]byte{shb(le, comment), idb(le, 1, 0, comment, ngOpt(le, optEndOfOpt, nil)),
				ngBlock(le, 4, bytesOf(20, 0)),            // name resolution
				ngBlock(le, 0x40000bad, bytesOf(1000, 1)), // custom, not to be copied
				epb(le, 0, us, []byte{1}, 1, comment, ngOpt(le, 2, []byte{0, 0, 0, 1})),
				ngBlock(le, 5, bytesOf(16, 0)), // interface statistics
			},
			want: func(b [][]byte) []Packet {
				return []Packet{{Data: []byte{1}, OrigLen: 1, Time: us * 1000, Link: LinkEthernet, Index: 1, Offset: offsetOf(b, 4)}}
			},
			kind: io.EOF,
		},
		{
			name: "second section switches byte order and renumbers interfaces",
			blocks: [][]byte{shb(le), idb(le, 1, 0), epb(le, 0, us, []byte{1}, 1),
				shb(be), idb(be, 101, 0, tsresol(be, 9)), epb(be, 0, 42, []byte{2}, 1)},
			want: func(b [][]byte) []Packet {
				return []Packet{
					{Data: []byte{1}, OrigLen: 1, Time: us * 1000, Link: LinkEthernet, Index: 1, Offset: offsetOf(b, 2)},
					{Data: []byte{2}, OrigLen: 1, Time: 42, Link: LinkRaw, Index: 2, Offset: offsetOf(b, 5)},
				}
			},
			kind: io.EOF,
		},
		{
			name:   "section with no packets",
			blocks: [][]byte{shb(be)},
			want:   none,
			kind:   io.EOF,
		},
		{
			name:    "packet of an interface the new section has not defined",
			blocks:  [][]byte{shb(le), idb(le, 1, 0), shb(le), epb(le, 0, us, []byte{1}, 1)},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 76: packet 1: enhanced packet block: refers to interface 0, but the section defines 0: malformed capture",
		},
		{
			name:   "undefined interface id",
			blocks: [][]byte{shb(le), idb(le, 1, 0), epb(le, 0, us, []byte{1}, 1), epb(le, 7, us, []byte{1}, 1)},
			want: func(b [][]byte) []Packet {
				return []Packet{{Data: []byte{1}, OrigLen: 1, Time: us * 1000, Link: LinkEthernet, Index: 1, Offset: 48}}
			},
			kind:    ErrMalformed,
			message: "x: offset 84: packet 2: enhanced packet block: refers to interface 7, but the section defines 1: malformed capture",
		},
		{
			name:    "simple packet block before any interface",
			blocks:  [][]byte{shb(le), spb(le, 1, []byte{1})},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 28: packet 1: simple packet block: refers to interface 0, but the section defines 0: malformed capture",
		},
		{
			name:    "block length not a multiple of 4",
			blocks:  [][]byte{shb(le), {1, 0, 0, 0, 21, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 28: interface description block: length 21 is not a multiple of 4: malformed capture",
		},
		{
			name:    "block length below the block's fixed fields",
			blocks:  [][]byte{shb(le), idb(le, 1, 0), {6, 0, 0, 0, 28, 0, 0, 0}},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 48: packet 1: enhanced packet block: length 28 is below the minimum 32: malformed capture",
		},
		{
			name:    "unknown block shorter than any block",
			blocks:  [][]byte{shb(le), {9, 0, 0, 0, 8, 0, 0, 0}},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 28: block type 0x00000009: length 8 is below the minimum 12: malformed capture",
		},
		{
			name:    "trailing length differs from leading length",
			blocks:  [][]byte{shb(le), idb(le, 1, 0), epb(le, 0, us, []byte{1}, 1)[:32], le.AppendUint32(nil, 99)},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 48: packet 1: enhanced packet block: trailing length 99 differs from leading length 36: malformed capture",
		},
		{
			name:    "skipped block with a wrong trailing length",
			blocks:  [][]byte{shb(le), ngBlock(le, 5, bytesOf(8, 0))[:16], le.AppendUint32(nil, 24)},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 28: block type 0x00000005: trailing length 24 differs from leading length 20: malformed capture",
		},
		{
			name:    "captured length overruns the block",
			blocks:  [][]byte{shb(le), idb(le, 1, 0), patchU32(epb(le, 0, us, bytesOf(8, 1), 8), 20, 9)},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 48: packet 1: enhanced packet block: captured length 9 overruns the block (room for 8): malformed capture",
		},
		{
			name:    "interface option overruns the block",
			blocks:  [][]byte{shb(le), patchU32(idb(le, 1, 0, tsresol(le, 9)), 16, 0x00400009)},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 28: interface description block: option 9 of length 64 overruns the block (4 bytes left): malformed capture",
		},
		{
			name:    "cut inside a block header",
			blocks:  [][]byte{shb(le), idb(le, 1, 0), {6, 0, 0}},
			want:    none,
			kind:    ErrTruncated,
			message: "x: offset 48: block header cut short (3 of 8 bytes): capture cut short",
		},
		{
			name:    "cut inside packet data",
			blocks:  [][]byte{shb(le), idb(le, 1, 0), epb(le, 0, us, bytesOf(100, 1), 100)[:90]},
			want:    none,
			kind:    ErrTruncated,
			message: "x: offset 48: packet 1: enhanced packet block: cut short (90 of 132 bytes): capture cut short",
		},
		{
			name:    "cut inside a skipped block",
			blocks:  [][]byte{shb(le), ngBlock(le, 5, bytesOf(100, 0))[:50]},
			want:    none,
			kind:    ErrTruncated,
			message: "x: offset 28: block type 0x00000005: cut short (50 of 112 bytes): capture cut short",
		},
		{
			name:    "cut inside a second section header",
			blocks:  [][]byte{shb(le), shb(be)[:20]},
			want:    none,
			kind:    ErrTruncated,
			message: "x: offset 28: section header block: cut short (20 of 28 bytes): capture cut short",
		},
		{
			name:    "bad byte-order magic",
			blocks:  [][]byte{patchU32(shb(le), 8, 0x11223344)},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 0: section header block: bad byte-order magic 0x44332211: malformed capture",
		},
		{
			name:    "unknown major version",
			blocks:  [][]byte{patchU32(shb(le), 12, 2)},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 0: section header block: unsupported pcapng version 2.0: malformed capture",
		},
		{
			name:    "block length beyond the record limit",
			blocks:  [][]byte{shb(le), idb(le, 1, 0), {6, 0, 0, 0, 0, 0, 0, 0x20}},
			want:    none,
			kind:    ErrMalformed,
			message: "x: offset 48: packet 1: enhanced packet block: length 536870912 exceeds the 256 MiB limit: malformed capture",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Packet
			src, err := NewReader(bytes.NewReader(slices.Concat(tt.blocks...)), "x")
			if err == nil {
				got, err = readPackets(t, src)
			}
			assert.Equal(t, tt.want(tt.blocks), got)
			require.ErrorIs(t, err, tt.kind)
			if tt.message != "" {
				assert.EqualError(t, err, tt.message)
			}
		})
	}
}

// patchU32 overwrites the little-endian word at off in a copy of b.
func patchU32(b []byte, off int, v uint32) []byte {
	b = slices.Clone(b)
	binary.LittleEndian.PutUint32(b[off:], v)
	return b
}

func TestTimestampUnits(t *testing.T) {
	tests := []struct {
		name  string
		resol uint8
		ticks uint64
		want  int64
	}{
		{"microseconds", 6, 1_000_001, 1_000_001_000},
		{"nanoseconds", 9, 1_234_567_891, 1_234_567_891},
		{"seconds", 0, 3, 3_000_000_000},
		{"picoseconds round down", 12, 1_999, 1},
		{"2^-10 seconds", 0x80 | 10, 1024 + 512, 1_500_000_000},
		{"2^-64 seconds", 0x80 | 64, 1 << 63, 500_000_000},
		{"2^-0 seconds", 0x80, 2, 2_000_000_000},
		{"10^-40 seconds is below a nanosecond", 40, 1 << 60, 0},
		{"2^-127 seconds is below a nanosecond", 0xff, 1 << 63, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, newTSUnit(tt.resol).ns(tt.ticks))
		})
	}
}

// FuzzPcapng: see FuzzPcap.
func FuzzPcapng(f *testing.F) {
	le, be := binary.LittleEndian, binary.BigEndian
	f.Add(pcapngFile(le, idb(le, 1, 0), epb(le, 0, 1, []byte{1, 2, 3}, 3)))
	f.Add(pcapngFile(be, idb(be, 276, 0, ngOpt(be, optTSResol, []byte{0x88}), ngOpt(be, optTSOffset, make([]byte, 8))),
		epb(be, 0, 1, []byte{1}, 1), spb(be, 3, []byte{1, 2, 3})))
	f.Add(pcapngFile(le, idb(le, 1, 4), ngBlock(le, 5, bytesOf(12, 0)), pb(le, 0, 9, []byte{1}, 1), shb(be), idb(be, 0, 0)))
	f.Add(pcapngFile(le, idb(le, 1, 0), []byte{6, 0, 0, 0, 0xfc, 0xff, 0xff, 0x0f}))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzSource(t, data)
	})
}
