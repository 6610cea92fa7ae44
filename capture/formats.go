package capture

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Compressed captures are read transparently, as tshark reads them: gzip
// (stdlib) and zstd (klauspost/compress, the maintained pure-Go codec).
// Offsets in messages about a compressed capture count decompressed bytes.
var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompressor is the reader of a compressed capture and what closing it
// must release (zstd's decoder holds goroutines).
type decompressor struct {
	r     io.Reader
	codec string
	close func()
}

// Read decompresses. Damaged compressed data is a damaged capture
// (ErrMalformed); the input ending early stays io.ErrUnexpectedEOF, which
// the reader reports as a capture cut short.
func (d *decompressor) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%s data: %v: %w", d.codec, err, ErrMalformed)
	}
	return n, err
}

// openCompressed returns a decompressing reader over r when head, the
// first bytes of the input, is a gzip or zstd magic number; nil, nil when
// it is neither.
func openCompressed(r io.Reader, head []byte) (*decompressor, string, error) {
	switch {
	case bytes.HasPrefix(head, magicGzip):
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, "gzip", err
		}
		// A ring buffer's files concatenated by cat are one capture only
		// for the first; keep tshark's reading: one member, one file.
		z.Multistream(false)
		return &decompressor{r: z, codec: "gzip", close: func() { z.Close() }}, "gzip", nil
	case bytes.HasPrefix(head, magicZstd):
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, "zstd", err
		}
		return &decompressor{r: z, codec: "zstd", close: z.Close}, "zstd", nil
	}
	return nil, "", nil
}

// foreignFormat is a capture format rwin does not read, recognised by its
// first bytes, with how to convert it.
type foreignFormat struct {
	magic []byte
	name  string
	how   string
}

// editcapHow converts what Wireshark reads and rwin does not.
const editcapHow = "convert it with Wireshark's editcap: editcap -F pcapng FILE FILE.pcapng"

var foreignFormats = []foreignFormat{
	{[]byte("snoop\x00\x00\x00"), "a Solaris snoop capture", editcapHow},
	{[]byte{0xaa, 0xaa, 0xaa, 0xaa}, "an Accellent 5Views capture", editcapHow},
	{[]byte("XCP\x00"), "a NetXRay / Windows Sniffer capture", editcapHow},
	{[]byte("TRSNIFF data"), "a Network General Sniffer capture", editcapHow},
	{[]byte{0x4d, 0x3c, 0x2b, 0xa1}, "a Navtel pcap variant", editcapHow},
	{[]byte{0xa1, 0x2b, 0x3c, 0x4d}, "a Navtel pcap variant", editcapHow},
	{[]byte("\x7fver"), "a WildPackets (Peek) capture", editcapHow},
	{[]byte("BZh"), "a bzip2-compressed file", "decompress it first: bzip2 -d FILE"},
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, "an xz-compressed file", "decompress it first: xz -d FILE"},
	{[]byte{0x04, 0x22, 0x4d, 0x18}, "an lz4-compressed file", "decompress it first: lz4 -d FILE"},
}

// foreignByExt names formats without a magic number of their own by the
// file's extension: only to explain an unreadable file, never to choose a
// reader.
var foreignByExt = map[string]foreignFormat{
	".erf": {name: "an Endace ERF capture", how: editcapHow},
	".etl": {name: "a Windows event trace (ETL, from pktmon or netsh trace)",
		how: "convert it to pcapng: pktmon etl2pcap FILE.etl --out FILE.pcapng (pktmon captures), or etl2pcapng FILE.etl FILE.pcapng (netsh trace)"},
	".5vw":   {name: "an Accellent 5Views capture", how: editcapHow},
	".snoop": {name: "a Solaris snoop capture", how: editcapHow},
}

// unknownFormatError is the one-line error for input that is no capture
// rwin reads: it names the format where the first bytes or, failing those,
// the extension say which, and how to convert it.
func (s *stream) unknownFormatError(head []byte) error {
	for _, f := range foreignFormats {
		if bytes.HasPrefix(head, f.magic) {
			return s.errorf(ErrMalformed, 0, "%s, not pcap, pcapng or Network Monitor: %s", f.name, f.how)
		}
	}
	if f, ok := foreignByExt[strings.ToLower(filepath.Ext(s.name))]; ok {
		return s.errorf(ErrMalformed, 0, "not a pcap, pcapng or Network Monitor file (magic 0x%x); if it is %s: %s", head, f.name, f.how)
	}
	return s.errorf(ErrMalformed, 0, "not a pcap, pcapng or Network Monitor file (magic 0x%x): %s", head, editcapHow)
}
