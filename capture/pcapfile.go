package capture

import "io"

// The classic libpcap file format
// (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html): a
// 24-byte file header, then records of a 16-byte header and the captured
// bytes.
const (
	pcapFileHeaderLen = 24
	pcapRecordLen     = 16
	// kuznetzovRecordLen is the record header of the "modified" format of
	// Alexey Kuznetzov's patched libpcap: the usual 16 bytes, then the
	// interface index (4), protocol (2), packet type (1) and a pad byte.
	kuznetzovRecordLen = 24
)

// pcapReader reads the classic pcap format.
//
// It departs from libpcap and pcapgo on purpose where real files break the
// format's promises: a record longer than the header's snaplen is read as
// it is (zeek/timestamp.pcap, and files rewritten by editcap, have them),
// and a captured length above the original length makes the original
// length the captured one.
type pcapReader struct {
	*stream
	order  endian
	link   LinkType
	recLen int   // record header length: 16, or 24 in Kuznetzov's format
	fracNs int64 // nanoseconds per unit of the fraction field: 1000 or 1
}

func newPcapReader(s *stream, magic uint32) (*pcapReader, error) {
	r := &pcapReader{stream: s, recLen: pcapRecordLen, fracNs: 1000}
	switch magic {
	case magicMicroSwapped, magicNanoSwapped, magicKuzSwapped:
		r.order.big = true
	}
	switch magic {
	case magicNano, magicNanoSwapped:
		r.fracNs = 1
	case magicKuznetzov, magicKuzSwapped:
		r.recLen = kuznetzovRecordLen
	}
	h, err := s.read(pcapFileHeaderLen)
	if err != nil {
		if isEOF(err) {
			return nil, s.errorf(ErrTruncated, 0, "pcap file header cut short (%d of %d bytes)", len(h), pcapFileHeaderLen)
		}
		return nil, s.ioError(s.off, err)
	}
	// Bytes 4..19 are the format version, the time zone (always 0 in
	// practice, and ignored by libpcap too), the unused sigfigs and the
	// snaplen, which is advisory only: records are framed by their own
	// caplen.
	// The upper 16 bits of the link-type field carry FCS length and
	// reserved bits (tcpdump's tcp-auth-heapoverflow.pcap has 0x30000001):
	// only the low 16 bits name the link type.
	r.link = LinkType(r.order.u32(h[20:]) & 0xffff)
	return r, nil
}

// Next reads the next record into p. p.Data points into the reader's
// buffer and is valid until the next call.
func (r *pcapReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	// The common case: the record header and data lie in the window.
	if avail := r.end - r.pos; avail >= r.recLen {
		h := r.win[r.pos : r.pos+r.recLen]
		if caplen := r.order.u32(h[8:]); int64(caplen) <= int64(avail-r.recLen) {
			start := r.pos + r.recLen
			r.record(p, h, r.win[start:start+int(caplen)], r.off)
			r.pos = start + int(caplen)
			r.off += int64(r.recLen) + int64(caplen)
			return nil
		}
	}
	return r.nextSlow(p)
}

// record makes p the next packet: record header h, captured bytes data,
// at file offset off.
func (r *pcapReader) record(p *Packet, h, data []byte, off int64) {
	sec := int64(r.order.u32(h[0:]))
	frac := int64(r.order.u32(h[4:]))
	origlen := r.order.u32(h[12:])
	r.count++
	p.Data = data
	p.OrigLen = max(int(origlen), len(data))
	// The seconds field is unsigned in the format's specification, which
	// keeps files valid past 2038.
	p.Time = sec*1e9 + frac*r.fracNs
	p.Link = r.link
	p.Index = r.count
	p.Offset = off
}

// nextSlow is Next for a record that is not wholly in the window: it
// refills the window, or reads a record larger than the window, and
// reports a record cut short or damaged.
func (r *pcapReader) nextSlow(p *Packet) error {
	off, num := r.off, r.count+1
	h, err := r.peek(r.recLen)
	if err != nil {
		switch {
		case len(h) == 0 && err == io.EOF:
			return r.fail(io.EOF)
		case isEOF(err):
			return r.fail(r.packetErrorf(ErrTruncated, off, num, "record header cut short (%d of %d bytes)", len(h), r.recLen))
		default:
			return r.fail(r.ioError(off, err))
		}
	}
	// The header is copied: reading the data may move the window.
	var hdr [kuznetzovRecordLen]byte
	copy(hdr[:], h)
	caplen := r.order.u32(h[8:])
	if _, err := r.skip(r.recLen); err != nil {
		return r.fail(r.ioError(off, err))
	}
	if caplen > maxRecord {
		return r.fail(r.packetErrorf(ErrMalformed, off, num, "captured length %d exceeds the %d MiB limit", caplen, maxRecord>>20))
	}
	data, err := r.read(int(caplen))
	if err != nil {
		if isEOF(err) {
			return r.fail(r.packetErrorf(ErrTruncated, off, num, "record data cut short (%d of %d bytes)", len(data), caplen))
		}
		return r.fail(r.ioError(r.off, err))
	}
	r.record(p, hdr[:], data, off)
	return nil
}
