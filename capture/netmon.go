package capture

import (
	"encoding/binary"
	"io"
	"time"
)

// Microsoft Network Monitor capture files (.cap), versions 1.x and 2.x,
// the format of Network Monitor 3.4 and of many Windows support cases.
// All integers are little-endian. The layout follows Wireshark's
// wiretap/netmon.c, checked against files editcap writes (-F netmon1,
// -F netmon2):
//
//	file header (128 bytes): magic "RTSS" (1.x) or
//	"GMBU" (2.x), minor and major version, media type (u16), the capture's
//	start as a SYSTEMTIME in local time (year, month, day of week, day,
//	hour, minute, second, millisecond: u16 each), frame table offset and
//	length (u32 each), then offsets of user data, comments, process and
//	network information this reader does not need.
//	frame table: one u32 file offset per frame, in capture order.
//	frame 1.x: milliseconds since the start (u32), wire length (u16),
//	captured length (u16), the bytes.
//	frame 2.x: microseconds since the start (u64), wire length (u32),
//	captured length (u32), the bytes, then from version 2.1 a trailer
//	whose first two bytes are the frame's own media type.
const (
	magicNetmon1 = 0x53535452 // "RTSS" read little-endian
	magicNetmon2 = 0x55424d47 // "GMBU"

	netmonHeaderLen = 128
	// netmonTableChunk is how many frame-table entries are read at once:
	// the table grows with the frames, the reader's memory must not.
	netmonTableChunk = 4096
)

// Network Monitor media types rwin reads. A media type at or above
// netmonPcapBase is a pcap LINKTYPE_ value plus that base (Wireshark writes
// raw IP, among others, so).
const (
	netmonEthernet = 1
	netmonWiFi     = 6 // 802.11 behind Network Monitor's own metadata header
	netmonPcapBase = 0xe000
)

// netmonReader reads Network Monitor 1.x and 2.x files.
type netmonReader struct {
	*stream
	v2      bool
	minor   int
	media   uint16
	start   int64 // the capture's start, ns since the Unix epoch
	table   int64 // offset of the frame table
	frames  uint64
	ra      io.ReaderAt // the file, to read the frame table; nil for a stream
	offsets []uint32    // the frame table's entries from tableAt on
	tableAt uint64
	raw     []byte // the chunk of the table last read
}

func newNetmonReader(s *stream, magic uint32, ra io.ReaderAt) (*netmonReader, error) {
	h, err := s.read(netmonHeaderLen)
	if err != nil {
		if isEOF(err) {
			return nil, s.errorf(ErrTruncated, 0, "Network Monitor file header cut short (%d of %d bytes)", len(h), netmonHeaderLen)
		}
		return nil, s.ioError(s.off, err)
	}
	le := binary.LittleEndian
	r := &netmonReader{stream: s, v2: magic == magicNetmon2, minor: int(h[4]), media: le.Uint16(h[6:]),
		table: int64(le.Uint32(h[24:])), frames: uint64(le.Uint32(h[28:]) / 4), ra: ra}
	if major := int(h[5]); (r.v2 && major != 2) || (!r.v2 && major != 1) {
		return nil, s.errorf(ErrMalformed, 5, "Network Monitor version %d.%d with magic %q is not one rwin reads", major, r.minor, h[:4])
	}
	// SYSTEMTIME: Network Monitor writes the local time of the capturing
	// machine, and Wireshark reads it as local time too.
	f := func(i int) int { return int(le.Uint16(h[8+2*i:])) }
	r.start = time.Date(f(0), time.Month(f(1)), f(3), f(4), f(5), f(6), f(7)*int(time.Millisecond), time.Local).UnixNano()
	if r.table < s.off {
		return nil, s.errorf(ErrMalformed, 24, "frame table offset %d lies inside the file header", r.table)
	}
	return r, nil
}

// frameOffset returns where frame i (0-based) starts according to the
// frame table, or -1 when the table cannot be read before the frames (a
// stream): the frames are then taken to follow one another, as Network
// Monitor and editcap write them.
func (r *netmonReader) frameOffset(i uint64) (int64, error) {
	if r.ra == nil {
		return -1, nil
	}
	if i < r.tableAt || i >= r.tableAt+uint64(len(r.offsets)) {
		n := min(netmonTableChunk, r.frames-i)
		if cap(r.raw) < int(4*n) {
			r.raw = make([]byte, 4*netmonTableChunk)
		}
		raw := r.raw[:4*n]
		at := r.table + int64(4*i)
		if _, err := r.ra.ReadAt(raw, at); err != nil {
			if isEOF(err) {
				return 0, r.errorf(ErrTruncated, at, "frame table cut short (frame %d)", i+1)
			}
			return 0, r.ioError(at, err)
		}
		r.offsets = r.offsets[:0]
		for k := 0; k < len(raw); k += 4 {
			r.offsets = append(r.offsets, binary.LittleEndian.Uint32(raw[k:]))
		}
		r.tableAt = i
	}
	return int64(r.offsets[i-r.tableAt]), nil
}

// Next reads the next frame into p. p.Data points into the reader's buffer
// and is valid until the next call.
func (r *netmonReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	num := r.count + 1
	if r.count == r.frames || (r.ra == nil && r.off >= r.table) {
		if r.count != r.frames {
			return r.fail(r.errorf(ErrMalformed, r.off, "frame table lists %d frames, the file holds %d", r.frames, r.count))
		}
		return r.fail(io.EOF)
	}
	at, err := r.frameOffset(r.count)
	if err != nil {
		return r.fail(err)
	}
	if at >= 0 {
		if at < r.off || at >= r.table {
			return r.fail(r.packetErrorf(ErrMalformed, r.off, num, "frame table gives offset %d, outside the frames", at))
		}
		if n, err := r.skip(int(at - r.off)); err != nil {
			return r.fail(r.packetErrorf(ErrTruncated, r.off, num, "file ends %d bytes before the frame", int(at-r.off)-n))
		}
	}
	off := r.off
	hlen := 8
	if r.v2 {
		hlen = 16
	}
	h, err := r.read(hlen)
	if err != nil {
		if isEOF(err) {
			return r.fail(r.packetErrorf(ErrTruncated, off, num, "frame header cut short (%d of %d bytes)", len(h), hlen))
		}
		return r.fail(r.ioError(off, err))
	}
	le := binary.LittleEndian
	var ts int64
	var orig, caplen int
	if r.v2 {
		ts = r.start + int64(le.Uint64(h))*int64(time.Microsecond)
		orig, caplen = int(le.Uint32(h[8:])), int(le.Uint32(h[12:]))
	} else {
		ts = r.start + int64(le.Uint32(h))*int64(time.Millisecond)
		orig, caplen = int(le.Uint16(h[4:])), int(le.Uint16(h[6:]))
	}
	if caplen > maxRecord {
		return r.fail(r.packetErrorf(ErrMalformed, off, num, "captured length %d exceeds the %d MiB limit", caplen, maxRecord>>20))
	}
	data, err := r.read(caplen)
	if err != nil {
		if isEOF(err) {
			return r.fail(r.packetErrorf(ErrTruncated, off, num, "frame data cut short (%d of %d bytes)", len(data), caplen))
		}
		return r.fail(r.ioError(r.off, err))
	}
	media := r.media
	if r.v2 && r.minor >= 1 {
		// The trailer's media type; the rest of it (process index, UTC
		// time stamp, time zone) is skipped with the gap to the next
		// frame, which the frame table or the trailer size gives.
		tl := netmonTrailerLen(r.minor)
		t, err := r.peek(tl)
		if err != nil {
			return r.fail(r.packetErrorf(ErrTruncated, r.off, num, "frame trailer cut short (%d of %d bytes)", len(t), tl))
		}
		if m := le.Uint16(t); m != 0 {
			media = m
		}
		if r.ra == nil {
			r.skip(tl)
		}
	}
	link, data := netmonLink(media, data)
	r.count++
	*p = Packet{Data: data, OrigLen: max(orig, len(data)), Time: ts, Link: link, Index: r.count, Offset: off}
	return nil
}

// netmonTrailerLen is the size of the per-frame trailer of version 2.minor:
// media type (2.1), process index (2.2), UTC time stamp and time zone
// index (2.3 on, as Network Monitor 3.x writes).
func netmonTrailerLen(minor int) int {
	switch minor {
	case 1:
		return 2
	case 2:
		return 6
	}
	return 15
}

// A link type a Network Monitor file can yield besides those rwin decodes.
const (
	// LinkUnknown is no LINKTYPE_ value: a frame of a medium that has
	// none, such as Network Monitor's event and network-information
	// frames. Packets keep their numbers (tshark's frame numbers) and are
	// counted as of an unsupported link type.
	LinkUnknown LinkType = 0xffff
)

// netmonLink maps a media type to the link type of the frame and the
// bytes that link type starts with.
func netmonLink(media uint16, data []byte) (LinkType, []byte) {
	switch {
	case media == netmonEthernet:
		return LinkEthernet, data
	case media == netmonWiFi:
		// Network Monitor's 802.11 metadata header: version (1 byte), its
		// own length (2 bytes), then radio details; the 802.11 frame
		// follows it.
		if len(data) >= 3 {
			if n := int(binary.LittleEndian.Uint16(data[1:])); n >= 3 && n <= len(data) {
				return LinkIEEE80211, data[n:]
			}
		}
	case media >= netmonPcapBase && media < 0xffe0:
		return LinkType(media - netmonPcapBase), data
	}
	return LinkUnknown, data
}
