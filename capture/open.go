package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

const (
	// readBufSize is the bufio buffer in front of a capture file: large
	// enough that a 1500-byte record rarely straddles two reads.
	readBufSize = 256 << 10
	// maxRecord caps one record (pcap caplen, pcapng block length). A length
	// field beyond it is damage, not data: libpcap's own limit is 256 KiB,
	// and TSO super-frames stay far below this.
	maxRecord = 256 << 20
	// growStep is the first step in which the record buffer grows while a
	// large record arrives.
	growStep = 64 << 10
)

// Magic numbers of the two container formats, as read little-endian from
// the first four bytes of a file.
const (
	magicMicro        = 0xa1b2c3d4 // pcap, microsecond timestamps
	magicNano         = 0xa1b23c4d // pcap, nanosecond timestamps
	magicKuznetzov    = 0xa1b2cd34 // pcap with Alexey Kuznetzov's 24-byte record headers
	magicMicroSwapped = 0xd4c3b2a1
	magicNanoSwapped  = 0x4d3cb2a1
	magicKuzSwapped   = 0x34cdb2a1
	magicPcapng       = 0x0a0d0d0a // pcapng Section Header Block type; a palindrome
)

// Open opens the capture file name for reading; "-" reads standard input.
// The format (pcap or pcapng, either byte order; Network Monitor 1.x or
// 2.x; any of them compressed with gzip or zstd) is chosen by the file's
// magic number, never by its extension.
func Open(name string) (Source, error) {
	if name == "-" {
		// Standard input stays open: it is not ours to close.
		return NewReader(os.Stdin, name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	src, err := newSource(f, name, f, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return src, nil
}

// NewReader reads a capture from r, which needs no seeking (a pipe will
// do). name is used in messages and returned by Name. Closing the Source
// does not close r.
func NewReader(r io.Reader, name string) (Source, error) {
	return newSource(r, name, nil, nil)
}

// newSource reads the capture in r. closer, when not nil, is closed with
// the source; ra, when not nil, reads the same file at any offset (for
// Network Monitor's frame table).
func newSource(r io.Reader, name string, closer io.Closer, ra io.ReaderAt) (Source, error) {
	s := &stream{name: name, r: r, win: make([]byte, readBufSize), closer: closer}
	head, err := s.peek(4)
	switch {
	case len(head) == 0 && err == io.EOF:
		return nil, s.errorf(ErrTruncated, 0, "empty file")
	case len(head) < 4 && (err == io.EOF || err == io.ErrUnexpectedEOF):
		return nil, s.errorf(ErrTruncated, 0, "file header cut short (%d bytes)", len(head))
	case err != nil:
		return nil, s.ioError(0, err)
	}
	dec, codec, err := openCompressed(rest{s}, head)
	switch {
	case isEOF(err):
		return nil, s.errorf(ErrTruncated, 0, "%s header cut short", codec)
	case err != nil:
		return nil, s.errorf(ErrMalformed, 0, "%s header: %v", codec, err)
	}
	if dec != nil {
		src, err := newSource(dec, name, closeBoth{dec, closer}, nil)
		if err != nil {
			dec.close()
			return nil, fmt.Errorf("%w (%s-compressed; offsets count decompressed bytes)", err, codec)
		}
		return src, nil
	}
	switch magic := binary.LittleEndian.Uint32(head); magic {
	case magicPcapng:
		return newPcapngReader(s)
	case magicMicro, magicNano, magicKuznetzov, magicMicroSwapped, magicNanoSwapped, magicKuzSwapped:
		return newPcapReader(s, magic)
	case magicNetmon1, magicNetmon2:
		return newNetmonReader(s, magic, ra)
	}
	head, _ = s.peek(12)
	return nil, s.unknownFormatError(head)
}

// rest reads what a stream has not consumed: the bytes already in its
// window first, then the input.
type rest struct{ s *stream }

func (r rest) Read(p []byte) (int, error) {
	s := r.s
	if s.pos == s.end {
		if s.rerr != nil {
			return 0, s.rerr
		}
		s.fill(1)
		if s.pos == s.end {
			return 0, s.rerr
		}
	}
	n := copy(p, s.win[s.pos:s.end])
	s.pos += n
	s.off += int64(n)
	return n, nil
}

// closeBoth closes a decompressor, then the file under it.
type closeBoth struct {
	dec   *decompressor
	inner io.Closer
}

func (c closeBoth) Close() error {
	c.dec.close()
	if c.inner == nil {
		return nil
	}
	return c.inner.Close()
}

// stream is what the pcap and pcapng readers share: buffered input that
// counts its offset, one record buffer reused for every packet, the packet
// counter and the sticky error that ends the stream.
//
// The input buffer is its own rather than a bufio.Reader: a record that
// lies wholly in the window win[pos:end] is framed with two comparisons
// (see pcapReader.Next), where bufio's Peek and Discard, three calls per
// record with their checks, were a third of the reader's time on
// headers-only captures (BenchmarkNext).
type stream struct {
	name   string
	r      io.Reader
	closer io.Closer // nil when the caller owns the input
	win    []byte    // input buffer, readBufSize bytes; unread bytes are win[pos:end]
	pos    int
	end    int
	rerr   error  // the error r returned, sticky; reported once the window runs dry
	off    int64  // file offset of the next unread byte
	buf    []byte // record buffer for records larger than the window
	count  uint64 // packets handed out so far
	err    error  // once set, every Next returns it
}

// Name says where the packets come from.
func (s *stream) Name() string { return s.name }

// Close closes the file if Open opened it.
func (s *stream) Close() error {
	if s.err == nil {
		s.err = fmt.Errorf("%s: read after close", s.display())
	}
	if s.closer == nil {
		return nil
	}
	c := s.closer
	s.closer = nil
	return c.Close()
}

// display is the name as messages show it.
func (s *stream) display() string {
	if s.name == "-" {
		return "stdin"
	}
	return s.name
}

// errorf builds the one-line error of the stream at offset off:
// "<name>: offset <N>: <what>: <kind>".
func (s *stream) errorf(kind error, off int64, format string, args ...any) error {
	return fmt.Errorf("%s: offset %d: %s: %w", s.display(), off, fmt.Sprintf(format, args...), kind)
}

// packetErrorf is errorf for a problem inside the record of packet num.
func (s *stream) packetErrorf(kind error, off int64, num uint64, format string, args ...any) error {
	return fmt.Errorf("%s: offset %d: packet %d: %s: %w", s.display(), off, num, fmt.Sprintf(format, args...), kind)
}

// ioError reports a read error that is neither truncation nor damage (a
// failing disk, a closed pipe).
func (s *stream) ioError(off int64, err error) error {
	return fmt.Errorf("%s: offset %d: read: %w", s.display(), off, err)
}

// fail makes err the stream's sticky error and returns it.
func (s *stream) fail(err error) error {
	s.err = err
	return err
}

// isEOF says whether err means the input ended, as opposed to failed.
func isEOF(err error) bool {
	return err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)
}

// maxEmptyReads is how many reads in a row may return nothing before the
// input counts as broken, as in bufio.
const maxEmptyReads = 100

// fill reads until at least n bytes (n <= readBufSize) are unread in the
// window, or the input ends or fails (s.rerr). It first moves the unread
// bytes to the front of the window.
func (s *stream) fill(n int) {
	if s.pos > 0 {
		s.end = copy(s.win, s.win[s.pos:s.end])
		s.pos = 0
	}
	for empty := 0; s.end < n && s.rerr == nil; {
		m, err := s.r.Read(s.win[s.end:])
		if m < 0 || m > len(s.win)-s.end {
			s.rerr = errors.New("reader returned an invalid count")
			return
		}
		s.end += m
		s.rerr = err
		if m > 0 {
			empty = 0
		} else if empty++; empty == maxEmptyReads && err == nil {
			s.rerr = io.ErrNoProgress
		}
	}
}

// peek returns the next n bytes without consuming them. n must not exceed
// readBufSize. Fewer bytes come back with an error when the input ends:
// io.EOF, or the input's own error.
func (s *stream) peek(n int) ([]byte, error) {
	if s.end-s.pos < n {
		s.fill(n)
		if s.end-s.pos < n {
			return s.win[s.pos:s.end], s.rerr
		}
	}
	return s.win[s.pos : s.pos+n], nil
}

// skip consumes n bytes (n <= what a successful peek returned, or any n
// when the bytes are not needed) and returns how many were consumed, with
// an error when the input ended or failed first.
func (s *stream) skip(n int) (int, error) {
	done := 0
	for {
		k := min(n-done, s.end-s.pos)
		s.pos += k
		s.off += int64(k)
		done += k
		if done == n {
			return done, nil
		}
		if s.rerr != nil {
			return done, s.rerr
		}
		s.fill(1)
	}
}

// read consumes the next n bytes and returns them. They stay valid until
// the next peek, skip or read. When the input ends early it returns what
// arrived and io.EOF or io.ErrUnexpectedEOF.
//
// A record that fits the window is returned in place, without a copy:
// copying every record into the record buffer was a fifth of the reader's
// time on headers-only captures (BenchmarkNext, BenchmarkRun). Larger
// records, and the last bytes of a file cut short, go through the record
// buffer, which grows only as bytes actually arrive, so a length field
// that lies cannot make a 100-byte file allocate hundreds of megabytes;
// once grown it is kept, so steady-state reads do not allocate.
func (s *stream) read(n int) ([]byte, error) {
	if n <= readBufSize {
		if b, err := s.peek(n); err == nil {
			s.pos += n
			s.off += int64(n)
			return b, nil
		}
	}
	b := s.buf[:0]
	for len(b) < n {
		step := min(n-len(b), max(len(b), growStep))
		b = slices.Grow(b, step)
		m, err := s.readFull(b[len(b) : len(b)+step])
		b = b[:len(b)+m]
		if err != nil {
			s.buf = b[:0]
			if len(b) > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return b, err
		}
	}
	s.buf = b
	return b, nil
}

// readFull consumes len(p) bytes into p, with io.ReadFull's errors: io.EOF
// when none arrived, io.ErrUnexpectedEOF when some did.
func (s *stream) readFull(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		if s.pos == s.end {
			if s.rerr != nil {
				break
			}
			s.fill(1)
			continue
		}
		k := copy(p[done:], s.win[s.pos:s.end])
		s.pos += k
		s.off += int64(k)
		done += k
	}
	switch {
	case done == len(p):
		return done, nil
	case s.rerr != io.EOF:
		return done, s.rerr
	case done > 0:
		return done, io.ErrUnexpectedEOF
	}
	return 0, io.EOF
}

// endian reads the integers of a capture in the byte order its writer
// used. Both formats record the writer's order in their magic.
type endian struct{ big bool }

func (e endian) u16(b []byte) uint16 {
	if e.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (e endian) u32(b []byte) uint32 {
	if e.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (e endian) u64(b []byte) uint64 {
	if e.big {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}
