package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForeignFormatsSayWhatTheyAreAndHowToConvert(t *testing.T) {
	tests := []struct {
		name, file string
		head       []byte
		says       string
	}{
		{"snoop", "a.snoop", []byte("snoop\x00\x00\x00\x00\x00\x00\x02"), "a Solaris snoop capture, not pcap, pcapng or Network Monitor: convert it with Wireshark's editcap: editcap -F pcapng"},
		{"5views", "a.5vw", []byte{0xaa, 0xaa, 0xaa, 0xaa, 0, 0, 0, 0}, "an Accellent 5Views capture"},
		{"windows sniffer", "a.cap", []byte("XCP\x00001.001"), "a NetXRay / Windows Sniffer capture"},
		{"network general sniffer", "a.cap", []byte("TRSNIFF data    \x1a"), "a Network General Sniffer capture"},
		{"navtel", "a.pcap", []byte{0x4d, 0x3c, 0x2b, 0xa1, 0, 0, 0, 0}, "a Navtel pcap variant"},
		{"peek", "a.pkt", []byte("\x7fver\x00\x00\x00\x00"), "a WildPackets (Peek) capture"},
		{"bzip2", "a.pcap.bz2", []byte("BZh91AY&SY"), "a bzip2-compressed file, not pcap, pcapng or Network Monitor: decompress it first: bzip2 -d FILE"},
		{"xz", "a.pcap.xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 4}, "xz -d FILE"},
		{"lz4", "a.pcap.lz4", []byte{0x04, 0x22, 0x4d, 0x18, 0x64, 0x40}, "lz4 -d FILE"},
		{"endace erf by its extension", "trace.erf", []byte{0x4d, 0x3c, 0x2b, 0xa0, 2, 0, 0, 0x50}, "if it is an Endace ERF capture: convert it with Wireshark's editcap: editcap -F pcapng"},
		{"windows etl by its extension", "PktMon.etl", []byte{0, 0, 1, 0, 0x10, 0, 0, 0}, "if it is a Windows event trace (ETL, from pktmon or netsh trace): convert it to pcapng: pktmon etl2pcap FILE.etl --out FILE.pcapng (pktmon captures), or etl2pcapng FILE.etl FILE.pcapng (netsh trace)"},
		{"anything else", "notes.txt", []byte("hello, world"), "not a pcap, pcapng or Network Monitor file (magic 0x68656c6c6f2c20776f726c64): convert it with Wireshark's editcap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := NewReader(bytes.NewReader(tt.head), tt.file)
			require.Error(t, err)
			assert.Nil(t, src)
			assert.ErrorIs(t, err, ErrMalformed)
			assert.Contains(t, err.Error(), tt.says)
			assert.True(t, strings.HasPrefix(err.Error(), tt.file+": offset 0: "), err.Error())
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

// netmonFile builds a Network Monitor 2.minor file (1.x when minor < 0)
// with media type media and the frames given, each with its trailer's
// media type frameMedia (2.1 on).
func netmonFile(minor int, media uint16, frameMedia uint16, frames ...[]byte) []byte {
	le := binary.LittleEndian
	h := make([]byte, 128)
	copy(h, "GMBU")
	h[4], h[5] = byte(minor), 2
	if minor < 0 {
		copy(h, "RTSS")
		h[4], h[5] = 1, 1
	}
	le.PutUint16(h[6:], media)
	for i, v := range []uint16{2024, 3, 5, 12, 10, 30, 15, 250} { // 2024-03-12 10:30:15.250, a Tuesday
		le.PutUint16(h[8+2*i:], v)
	}
	var offsets []uint32
	body := h
	for i, f := range frames {
		offsets = append(offsets, uint32(len(body)))
		if minor < 0 {
			body = le.AppendUint32(body, uint32(i)) // ms since the start
			body = le.AppendUint16(body, uint16(len(f)+100))
			body = le.AppendUint16(body, uint16(len(f)))
		} else {
			body = le.AppendUint64(body, uint64(1000*i+7)) // µs since the start
			body = le.AppendUint32(body, uint32(len(f)+100))
			body = le.AppendUint32(body, uint32(len(f)))
		}
		body = append(body, f...)
		if minor >= 1 {
			tr := make([]byte, netmonTrailerLen(minor))
			le.PutUint16(tr, frameMedia)
			body = append(body, tr...)
		}
	}
	le.PutUint32(body[24:], uint32(len(body)))
	le.PutUint32(body[28:], uint32(4*len(offsets)))
	for _, o := range offsets {
		body = le.AppendUint32(body, o)
	}
	return body
}

func TestNetmonReadsFramesTimesAndMediaTypes(t *testing.T) {
	eth := framed(LinkEthernet, ipTCP(3389))
	raw := ipTCP(445)
	wifi := append([]byte{2, 5, 0, 0xaa, 0xbb}, 0x08, 0x01, 0, 0) // 5-byte metadata, then 802.11
	tests := []struct {
		name        string
		minor       int
		media, each uint16
		frame       []byte
		link        LinkType
		data        []byte
	}{
		{"2.0 ethernet", 0, 1, 0, eth, LinkEthernet, eth},
		{"2.1 trailer names ethernet", 1, 0, 1, eth, LinkEthernet, eth},
		{"2.2 raw ip as pcap link type 101", 2, 1, 0xe000 + 101, raw, LinkRaw, raw},
		{"2.3 wi-fi without its metadata header", 3, 6, 0, wifi, LinkIEEE80211, wifi[5:]},
		{"2.3 an event frame is passed on, not decoded", 3, 1, 0xffe0, []byte{1, 2, 3}, LinkUnknown, []byte{1, 2, 3}},
		{"1.1 ethernet", -1, 1, 0, eth, LinkEthernet, eth},
	}
	// The header's SYSTEMTIME is the capturing machine's local time.
	start := time.Date(2024, 3, 12, 10, 30, 15, 250*int(time.Millisecond), time.Local).UnixNano()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := netmonFile(tt.minor, tt.media, tt.each, tt.frame, tt.frame)
			path := filepath.Join(t.TempDir(), "x.cap")
			require.NoError(t, os.WriteFile(path, file, 0o644))
			for _, open := range []func() (Source, error){
				func() (Source, error) { return Open(path) },                                // frame table read first
				func() (Source, error) { return NewReader(bytes.NewReader(file), "stdin") }, // frames in a row
			} {
				src, err := open()
				require.NoError(t, err)
				for i := range 2 {
					var p Packet
					require.NoError(t, src.Next(&p))
					assert.Equal(t, tt.link, p.Link)
					assert.Equal(t, tt.data, p.Data)
					assert.Equal(t, len(tt.frame)+100, p.OrigLen)
					assert.Equal(t, uint64(i+1), p.Index)
					if tt.minor < 0 {
						assert.Equal(t, start+int64(i)*1e6, p.Time, "ms since the start")
					} else {
						assert.Equal(t, start+int64(1000*i+7)*1e3, p.Time, "µs since the start")
					}
				}
				var p Packet
				assert.Equal(t, io.EOF, src.Next(&p))
				src.Close()
			}
		})
	}
}

func TestNetmonCutShortReportsWhatWasRead(t *testing.T) {
	eth := framed(LinkEthernet, ipTCP(3389))
	file := netmonFile(0, 1, 0, eth, eth)
	cut := file[:128+16+len(eth)+10] // inside the second frame's header
	src, err := NewReader(bytes.NewReader(cut), "cut.cap")
	require.NoError(t, err)
	var p Packet
	require.NoError(t, src.Next(&p))
	err = src.Next(&p)
	assert.ErrorIs(t, err, ErrTruncated)
	assert.Contains(t, err.Error(), "cut.cap: offset 198: packet 2: frame header cut short (10 of 16 bytes)")
}

func TestCompressedCaptureCutShortReportsWhatWasRead(t *testing.T) {
	eth := framed(LinkEthernet, ipTCP(3389))
	var plain bytes.Buffer
	w, err := NewPcapWriter(&plain, LinkEthernet, 256)
	require.NoError(t, err)
	for i := range 5000 {
		binary.BigEndian.PutUint32(eth[38:], uint32(i*2654435761)) // sequence numbers that do not compress away
		require.NoError(t, w.Write(&Packet{Data: eth, OrigLen: len(eth), Time: int64(i) * 12345, Index: uint64(i + 1)}))
	}
	var gz bytes.Buffer
	z := gzip.NewWriter(&gz)
	z.Write(plain.Bytes())
	z.Close()
	src, err := NewReader(bytes.NewReader(gz.Bytes()[:gz.Len()/2]), "cut.pcap.gz")
	require.NoError(t, err)
	n := 0
	for {
		var p Packet
		if err = src.Next(&p); err != nil {
			break
		}
		n++
	}
	assert.ErrorIs(t, err, ErrTruncated)
	assert.Positive(t, n, "packets before the cut")
	assert.Contains(t, err.Error(), "cut.pcap.gz: offset ")
}

// FuzzNetmon feeds arbitrary bytes, seeded with Network Monitor and
// compressed captures, to the readers: the invariants of FuzzPcap hold.
func FuzzNetmon(f *testing.F) {
	eth := framed(LinkEthernet, ipTCP(3389))
	f.Add(netmonFile(0, 1, 0, eth, eth))
	f.Add(netmonFile(3, 6, 0xe065, ipTCP(80)))
	f.Add(netmonFile(-1, 1, 0, eth))
	var gz bytes.Buffer
	z := gzip.NewWriter(&gz)
	z.Write(netmonFile(1, 1, 1, eth))
	z.Close()
	f.Add(gz.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzSource(t, data)
	})
}
