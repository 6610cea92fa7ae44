package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testOrder is a byte order the builders can append in.
type testOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// pcapRec is one pcap record for the builders below.
type pcapRec struct {
	sec, frac uint32
	caplen    uint32 // 0: len(data)
	origlen   uint32 // 0: len(data)
	data      []byte
}

// pcapHdr is a pcap file header for the builders below.
type pcapHdr struct {
	order   testOrder
	magic   uint32 // magicMicro, magicNano or magicKuznetzov; written in order
	snaplen uint32
	link    uint32
}

func (h pcapHdr) file(recs ...pcapRec) []byte {
	var b []byte
	b = h.order.AppendUint32(b, h.magic)
	b = h.order.AppendUint16(b, 2)
	b = h.order.AppendUint16(b, 4)
	b = h.order.AppendUint32(b, 0) // thiszone
	b = h.order.AppendUint32(b, 0) // sigfigs
	b = h.order.AppendUint32(b, h.snaplen)
	b = h.order.AppendUint32(b, h.link)
	for _, r := range recs {
		caplen, origlen := r.caplen, r.origlen
		if caplen == 0 {
			caplen = uint32(len(r.data))
		}
		if origlen == 0 {
			origlen = uint32(len(r.data))
		}
		b = h.order.AppendUint32(b, r.sec)
		b = h.order.AppendUint32(b, r.frac)
		b = h.order.AppendUint32(b, caplen)
		b = h.order.AppendUint32(b, origlen)
		if h.magic == magicKuznetzov {
			b = append(b, 0, 0, 0, 3, 0x08, 0x00, 4, 0) // ifindex 3, IPv4, outgoing, pad
		}
		b = append(b, r.data...)
	}
	return b
}

func pcapFile(order testOrder, magic, link uint32, recs ...pcapRec) []byte {
	return pcapHdr{order: order, magic: magic, snaplen: 65535, link: link}.file(recs...)
}

func bytesOf(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }

func TestPcapReader(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	two := []pcapRec{
		{sec: 1_700_000_000, frac: 123456, data: []byte{1, 2, 3, 4}},
		{sec: 1_700_000_001, frac: 999999, origlen: 1514, data: bytesOf(60, 0xaa)},
	}
	twoWant := func(fracUnit int64, link LinkType, recLen int64) []Packet {
		return []Packet{
			{Data: []byte{1, 2, 3, 4}, OrigLen: 4, Time: 1_700_000_000*1e9 + 123456*fracUnit, Link: link, Index: 1, Offset: 24},
			{Data: bytesOf(60, 0xaa), OrigLen: 1514, Time: 1_700_000_001*1e9 + 999999*fracUnit, Link: link, Index: 2, Offset: 24 + recLen + 4},
		}
	}
	tests := []struct {
		name    string
		file    []byte
		want    []Packet
		kind    error // io.EOF for a clean end
		message string
	}{
		{
			name: "little-endian microseconds",
			file: pcapFile(le, magicMicro, 1, two...),
			want: twoWant(1000, LinkEthernet, 16),
			kind: io.EOF,
		},
		{
			name: "big-endian microseconds as written by sparc tcpdump",
			file: pcapFile(be, magicMicro, 1, two...),
			want: twoWant(1000, LinkEthernet, 16),
			kind: io.EOF,
		},
		{
			name: "little-endian nanoseconds",
			file: pcapFile(le, magicNano, 113, two...),
			want: twoWant(1, LinkLinuxSLL, 16),
			kind: io.EOF,
		},
		{
			name: "big-endian nanoseconds",
			file: pcapFile(be, magicNano, 101, two...),
			want: twoWant(1, LinkRaw, 16),
			kind: io.EOF,
		},
		{
			name: "kuznetzov modified format with 24-byte record headers",
			file: pcapFile(le, magicKuznetzov, 1, two...),
			want: twoWant(1000, LinkEthernet, 24),
			kind: io.EOF,
		},
		{
			name: "big-endian kuznetzov",
			file: pcapFile(be, magicKuznetzov, 1, two...),
			want: twoWant(1000, LinkEthernet, 24),
			kind: io.EOF,
		},
		{
			name: "fcs bits above the link type are masked off",
			file: pcapFile(le, magicMicro, 0x30000001, pcapRec{data: []byte{9}}),
			want: []Packet{{Data: []byte{9}, OrigLen: 1, Link: LinkEthernet, Index: 1, Offset: 24}},
			kind: io.EOF,
		},
		{
			name: "record longer than the header's snaplen is read whole",
			file: pcapHdr{order: le, magic: magicMicro, snaplen: 64, link: 1}.file(
				pcapRec{data: bytesOf(100, 7)}, pcapRec{data: []byte{8}}),
			want: []Packet{
				{Data: bytesOf(100, 7), OrigLen: 100, Link: LinkEthernet, Index: 1, Offset: 24},
				{Data: []byte{8}, OrigLen: 1, Link: LinkEthernet, Index: 2, Offset: 140},
			},
			kind: io.EOF,
		},
		{
			name: "captured length above the original length",
			file: pcapFile(le, magicMicro, 1, pcapRec{origlen: 2, data: bytesOf(10, 1)}),
			want: []Packet{{Data: bytesOf(10, 1), OrigLen: 10, Link: LinkEthernet, Index: 1, Offset: 24}},
			kind: io.EOF,
		},
		{
			name: "empty record",
			file: pcapFile(le, magicMicro, 1, pcapRec{origlen: 60}, pcapRec{data: []byte{1}}),
			want: []Packet{
				{OrigLen: 60, Link: LinkEthernet, Index: 1, Offset: 24},
				{Data: []byte{1}, OrigLen: 1, Link: LinkEthernet, Index: 2, Offset: 40},
			},
			kind: io.EOF,
		},
		{
			name: "seconds past 2038 are unsigned",
			file: pcapFile(le, magicMicro, 1, pcapRec{sec: 0xffffffff, data: []byte{1}}),
			want: []Packet{{Data: []byte{1}, OrigLen: 1, Time: 0xffffffff * 1e9, Link: LinkEthernet, Index: 1, Offset: 24}},
			kind: io.EOF,
		},
		{
			name: "header only",
			file: pcapFile(le, magicMicro, 1),
			kind: io.EOF,
		},
		{
			name:    "cut inside a record header",
			file:    pcapFile(le, magicMicro, 1, two...)[:24+16+4+10],
			want:    twoWant(1000, LinkEthernet, 16)[:1],
			kind:    ErrTruncated,
			message: "x: offset 44: packet 2: record header cut short (10 of 16 bytes): capture cut short",
		},
		{
			name:    "cut inside record data",
			file:    pcapFile(be, magicNano, 1, two...)[:24+16+4+16+59],
			want:    twoWant(1, LinkEthernet, 16)[:1],
			kind:    ErrTruncated,
			message: "x: offset 44: packet 2: record data cut short (59 of 60 bytes): capture cut short",
		},
		{
			name:    "captured length beyond the record limit",
			file:    pcapFile(le, magicMicro, 1, pcapRec{caplen: maxRecord + 1, data: bytesOf(100, 0)}),
			kind:    ErrMalformed,
			message: "x: offset 24: packet 1: captured length 268435457 exceeds the 256 MiB limit: malformed capture",
		},
		{
			name:    "lying captured length on a short file",
			file:    pcapFile(le, magicMicro, 1, pcapRec{caplen: 200 << 20, data: bytesOf(100, 0)}),
			kind:    ErrTruncated,
			message: "x: offset 24: packet 1: record data cut short (100 of 209715200 bytes): capture cut short",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewReader(bytes.NewReader(tt.file), "x")
			require.NoError(t, err)
			got, err := readPackets(t, src)
			assert.Equal(t, tt.want, got)
			require.ErrorIs(t, err, tt.kind)
			if tt.message != "" {
				assert.EqualError(t, err, tt.message)
			}
			var p Packet
			assert.Equal(t, err, src.Next(&p), "the error sticks")
		})
	}
}

// FuzzPcap feeds arbitrary bytes to the pcap reader: it must not panic,
// must fail only with the documented error kinds, and must never hand out
// more bytes than the input holds.
func FuzzPcap(f *testing.F) {
	le, be := binary.LittleEndian, binary.BigEndian
	f.Add(pcapFile(le, magicMicro, 1, pcapRec{sec: 1, data: []byte{1, 2, 3}}))
	f.Add(pcapFile(be, magicNano, 0x30000001, pcapRec{sec: 1, origlen: 1, data: []byte{1, 2, 3}}))
	f.Add(pcapFile(le, magicKuznetzov, 113, pcapRec{data: bytesOf(20, 1)}, pcapRec{data: nil}))
	f.Add(pcapHdr{order: le, magic: magicMicro, snaplen: 4, link: 1}.file(pcapRec{data: bytesOf(64, 2)}))
	f.Add(pcapFile(le, magicMicro, 1, pcapRec{caplen: 1 << 30, data: bytesOf(8, 0)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzSource(t, data)
	})
}

// fuzzSource is the invariant FuzzPcap and FuzzPcapng share.
func fuzzSource(t *testing.T, data []byte) {
	src, err := NewReader(bytes.NewReader(data), "fuzz")
	if err != nil {
		if !errorsIsAny(err, ErrTruncated, ErrMalformed) {
			t.Fatalf("open: unexpected error kind: %v", err)
		}
		return
	}
	var p Packet
	for i := 0; ; i++ {
		err := src.Next(&p)
		if err == io.EOF {
			return
		}
		if err != nil {
			if !errorsIsAny(err, ErrTruncated, ErrMalformed) {
				t.Fatalf("next: unexpected error kind: %v", err)
			}
			return
		}
		expands := bytes.HasPrefix(data, magicGzip) || bytes.HasPrefix(data, magicZstd)
		if (len(p.Data) > len(data) && !expands) || p.OrigLen < len(p.Data) || p.Index != uint64(i+1) {
			t.Fatalf("packet %d: %d bytes (orig %d) from a %d-byte input", p.Index, len(p.Data), p.OrigLen, len(data))
		}
		if i > len(data) {
			t.Fatalf("more packets (%d) than input bytes", i)
		}
	}
}
