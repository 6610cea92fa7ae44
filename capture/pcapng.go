package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

// pcapng (draft-ietf-opsawg-pcapng) is a sequence of blocks, each framed
// as type (4), total length (4), body, total length again (4). A Section
// Header Block starts every section and fixes its byte order; Interface
// Description Blocks define interfaces (link type, timestamp resolution)
// that packet blocks refer to by index within the section.
const (
	blockSHB = 0x0a0d0d0a // Section Header Block (§4.1)
	blockIDB = 0x00000001 // Interface Description Block (§4.2)
	blockPB  = 0x00000002 // Packet Block, obsolete (Appendix A) but still written by old tools
	blockSPB = 0x00000003 // Simple Packet Block (§4.4)
	blockEPB = 0x00000006 // Enhanced Packet Block (§4.3)

	byteOrderMagic = 0x1a2b3c4d // SHB field that reveals the writer's byte order

	// Minimum total lengths: the fixed fields plus both length words.
	minBlockLen = 12
	minSHBLen   = 28
	minIDBLen   = 20
	minEPBLen   = 32 // also the obsolete Packet Block's
	minSPBLen   = 16

	optEndOfOpt  = 0  // opt_endofopt: ends an option list early
	optTSResol   = 9  // if_tsresol: timestamp unit (§4.2)
	optTSOffset  = 14 // if_tsoffset: seconds added to every timestamp (§4.2)
	defaultResol = 6  // microseconds, when an IDB has no if_tsresol
)

// pcapngReader reads pcapng. It handles several sections (each may switch
// byte order and starts with no interfaces), interfaces of different link
// types and timestamp resolutions, and skips every block it does not need.
type pcapngReader struct {
	*stream
	order  endian
	ifaces []iface // interfaces of the current section; reused across sections
	// lastTime is the timestamp of the latest packet that had one, for
	// the Simple Packet Blocks that follow it.
	lastTime int64
}

// iface is what a packet block needs from its Interface Description Block.
type iface struct {
	link    LinkType
	snaplen uint32
	ts      tsUnit
}

// tsUnit converts an interface's 64-bit timestamps to nanoseconds since
// the epoch.
type tsUnit struct {
	mul    uint64 // ns per tick when the resolution is 10^-n with n <= 9; else 0
	div    uint64 // ticks per ns when the resolution is 10^-n with n > 9; else 0
	shift  uint   // n when the resolution is 2^-n
	pow2   bool   // resolution is a power of two
	offset int64  // if_tsoffset in seconds
}

// newTSUnit decodes if_tsresol: the most significant bit picks base 2 or
// 10, the rest is the negative exponent (§4.2).
func newTSUnit(resol uint8) tsUnit {
	exp := uint(resol & 0x7f)
	switch {
	case resol&0x80 != 0:
		return tsUnit{pow2: true, shift: exp}
	case exp <= 9:
		return tsUnit{mul: pow10(9 - exp)}
	case exp-9 <= 19: // 10^19 is the largest power of ten in a uint64
		return tsUnit{div: pow10(exp - 9)}
	default:
		return tsUnit{} // ticks far below a nanosecond: every time is 0
	}
}

func pow10(n uint) uint64 {
	v := uint64(1)
	for range n {
		v *= 10
	}
	return v
}

// ns converts ticks to nanoseconds since the epoch. Like Wireshark, it
// wraps rather than fails on timestamps beyond the year 2262.
func (u tsUnit) ns(ticks uint64) int64 {
	var ns uint64
	switch {
	case u.mul != 0:
		ns = ticks * u.mul
	case u.div != 0:
		ns = ticks / u.div
	case u.pow2:
		// ticks * 1e9 / 2^shift, in 128 bits so that fine binary
		// resolutions (2^-30 and below) do not overflow.
		hi, lo := bits.Mul64(ticks, 1e9)
		if u.shift >= 64 {
			ns = hi >> (u.shift - 64)
		} else {
			ns = lo>>u.shift | hi<<(64-u.shift)
		}
	}
	return int64(ns) + u.offset*1e9
}

func newPcapngReader(s *stream) (*pcapngReader, error) {
	r := &pcapngReader{stream: s}
	if err := r.readSection(); err != nil {
		return nil, err
	}
	return r, nil
}

// Next reads blocks until the next packet and fills p with it. p.Data
// points into the reader's buffer and is valid until the next call.
func (r *pcapngReader) Next(p *Packet) error {
	if r.err != nil {
		return r.err
	}
	for {
		off := r.off
		h, err := r.peek(8)
		if err != nil {
			switch {
			case len(h) == 0 && err == io.EOF:
				return r.fail(io.EOF)
			case isEOF(err):
				return r.fail(r.errorf(ErrTruncated, off, "block header cut short (%d of 8 bytes)", len(h)))
			default:
				return r.fail(r.ioError(off, err))
			}
		}
		typ, blen := r.order.u32(h), r.order.u32(h[4:])
		switch typ {
		case blockSHB:
			err = r.readSection()
		case blockIDB:
			err = r.readInterface(blen, off)
		case blockEPB, blockPB, blockSPB:
			err = r.readPacket(p, typ, blen, off)
			if err == nil {
				return nil
			}
		default:
			err = r.skipBlock(typ, blen, off)
		}
		if err != nil {
			return r.fail(err)
		}
	}
}

// readSection reads a Section Header Block. Its byte-order magic decides
// how every later number in the section, its own length included, is read.
func (r *pcapngReader) readSection() error {
	off := r.off
	h, err := r.peek(12)
	if err != nil {
		if isEOF(err) {
			return r.errorf(ErrTruncated, off, "section header block cut short (%d of %d bytes)", len(h), minSHBLen)
		}
		return r.ioError(off, err)
	}
	switch bom := binary.BigEndian.Uint32(h[8:]); bom {
	case byteOrderMagic:
		r.order.big = true
	case 0x4d3c2b1a:
		r.order.big = false
	default:
		return r.errorf(ErrMalformed, off, "section header block: bad byte-order magic 0x%08x", bom)
	}
	b, err := r.readBlock(blockSHB, r.order.u32(h[4:]), off, minSHBLen, 0)
	if err != nil {
		return err
	}
	// Version 1.x is the only one ever written; 1.2 differs only in rules
	// for writers. The section length (bytes 16..23) is optional (-1) and
	// not needed to read sequentially.
	if major, minor := r.order.u16(b[12:]), r.order.u16(b[14:]); major != 1 {
		return r.errorf(ErrMalformed, off, "section header block: unsupported pcapng version %d.%d", major, minor)
	}
	if err := r.checkOptions(b[24:len(b)-4], blockSHB, off, 0); err != nil {
		return err
	}
	// Interface numbers restart in every section (§4.1).
	r.ifaces = r.ifaces[:0]
	return nil
}

// readInterface reads an Interface Description Block into the section's
// interface list.
func (r *pcapngReader) readInterface(blen uint32, off int64) error {
	b, err := r.readBlock(blockIDB, blen, off, minIDBLen, 0)
	if err != nil {
		return err
	}
	ifc := iface{
		link:    LinkType(r.order.u16(b[8:])),
		snaplen: r.order.u32(b[12:]),
		ts:      newTSUnit(defaultResol),
	}
	opts := b[16 : len(b)-4]
	if err := r.checkOptions(opts, blockIDB, off, 0); err != nil {
		return err
	}
	var offset int64
	for len(opts) > 0 {
		code, val, rest, _ := r.order.option(opts)
		if code == optEndOfOpt {
			break
		}
		// An option of the wrong size is ignored, as Wireshark does.
		switch {
		case code == optTSResol && len(val) == 1:
			ifc.ts = newTSUnit(val[0])
		case code == optTSOffset && len(val) == 8:
			offset = int64(r.order.u64(val))
		}
		opts = rest
	}
	ifc.ts.offset = offset
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// readPacket reads an Enhanced, Simple or obsolete Packet Block into p.
func (r *pcapngReader) readPacket(p *Packet, typ, blen uint32, off int64) error {
	num := r.count + 1
	minLen := uint32(minEPBLen)
	if typ == blockSPB {
		minLen = minSPBLen
	}
	b, err := r.readBlock(typ, blen, off, minLen, num)
	if err != nil {
		return err
	}
	var (
		id            uint32
		ticks         uint64
		caplen, wire  uint32
		data, options []byte
	)
	if typ == blockSPB {
		// A Simple Packet Block belongs to interface 0 and has no
		// timestamp; its captured length is what the block holds, cut to
		// the original length and the interface's snaplen (§4.4).
		wire = r.order.u32(b[8:])
		caplen = min(wire, blen-minSPBLen)
		if len(r.ifaces) > 0 && r.ifaces[0].snaplen != 0 {
			caplen = min(caplen, r.ifaces[0].snaplen)
		}
		data = b[12 : 12+caplen]
	} else {
		if typ == blockPB {
			id = uint32(r.order.u16(b[8:])) // then a 2-byte drops count
		} else {
			id = r.order.u32(b[8:])
		}
		ticks = uint64(r.order.u32(b[12:]))<<32 | uint64(r.order.u32(b[16:]))
		caplen, wire = r.order.u32(b[20:]), r.order.u32(b[24:])
		if caplen > blen-minEPBLen {
			return r.blockError(ErrMalformed, off, typ, num, "captured length %d overruns the block (room for %d)", caplen, blen-minEPBLen)
		}
		data = b[28 : 28+caplen]
		options = b[28+(caplen+3)&^3 : len(b)-4]
	}
	if int(id) >= len(r.ifaces) {
		return r.blockError(ErrMalformed, off, typ, num, "refers to interface %d, but the section defines %d", id, len(r.ifaces))
	}
	if err := r.checkOptions(options, typ, off, num); err != nil {
		return err
	}
	ifc := &r.ifaces[id]
	r.count = num
	p.Data = data
	p.OrigLen = int(max(wire, caplen))
	// A Simple Packet Block has no timestamp. It repeats the last one
	// known rather than reading as 1970, so that it never stretches a
	// duration or a rate; Untimed says so.
	p.Untimed = typ == blockSPB
	if !p.Untimed {
		r.lastTime = ifc.ts.ns(ticks)
	}
	p.Time = r.lastTime
	p.Link = ifc.link
	p.Index = num
	p.Offset = off
	return nil
}

// skipBlock passes over a block rwin has no use for (statistics, name
// resolution, decryption secrets, custom blocks, …) without buffering it,
// checking only its framing.
func (r *pcapngReader) skipBlock(typ, blen uint32, off int64) error {
	if err := r.checkLength(typ, blen, off, minBlockLen, 0); err != nil {
		return err
	}
	n, err := r.skip(int(blen) - 4)
	if err == nil {
		var t []byte
		t, err = r.peek(4)
		if err == nil {
			if trail := r.order.u32(t); trail != blen {
				return r.blockError(ErrMalformed, off, typ, 0, "trailing length %d differs from leading length %d", trail, blen)
			}
			_, err = r.skip(4)
			return err
		}
		n += len(t)
	}
	if isEOF(err) {
		return r.blockError(ErrTruncated, off, typ, 0, "cut short (%d of %d bytes)", n, blen)
	}
	return r.ioError(r.off, err)
}

// readBlock reads a whole block of total length blen, at least minLen, and
// checks its framing. num is the packet number for packet blocks, else 0.
func (r *pcapngReader) readBlock(typ, blen uint32, off int64, minLen uint32, num uint64) ([]byte, error) {
	if err := r.checkLength(typ, blen, off, minLen, num); err != nil {
		return nil, err
	}
	b, err := r.read(int(blen))
	if err != nil {
		if isEOF(err) {
			return nil, r.blockError(ErrTruncated, off, typ, num, "cut short (%d of %d bytes)", len(b), blen)
		}
		return nil, r.ioError(r.off, err)
	}
	if trail := r.order.u32(b[len(b)-4:]); trail != blen {
		return nil, r.blockError(ErrMalformed, off, typ, num, "trailing length %d differs from leading length %d", trail, blen)
	}
	return b, nil
}

// checkLength validates a block's total length before anything is read:
// every block is 32-bit aligned (§3.1) and holds at least its fixed fields.
func (r *pcapngReader) checkLength(typ, blen uint32, off int64, minLen uint32, num uint64) error {
	switch {
	case blen < minLen:
		return r.blockError(ErrMalformed, off, typ, num, "length %d is below the minimum %d", blen, minLen)
	case blen%4 != 0:
		return r.blockError(ErrMalformed, off, typ, num, "length %d is not a multiple of 4", blen)
	case blen > maxRecord:
		return r.blockError(ErrMalformed, off, typ, num, "length %d exceeds the %d MiB limit", blen, maxRecord>>20)
	}
	return nil
}

// checkOptions validates the framing of an option list: every option must
// fit in the block. Wireshark and libpcap reject such a block the same way
// (libpcap's shb-option-too-long.pcapng).
func (r *pcapngReader) checkOptions(opts []byte, typ uint32, off int64, num uint64) error {
	for len(opts) > 0 {
		code, val, rest, ok := r.order.option(opts)
		if !ok {
			if len(opts) < 4 {
				return r.blockError(ErrMalformed, off, typ, num, "option header cut short (%d bytes left)", len(opts))
			}
			return r.blockError(ErrMalformed, off, typ, num, "option %d of length %d overruns the block (%d bytes left)", code, r.order.u16(opts[2:]), len(val))
		}
		if code == optEndOfOpt {
			return nil
		}
		opts = rest
	}
	return nil
}

// option splits the first option off an option list (§3.5): a 2-byte
// code, a 2-byte length and the value padded to 32 bits. ok is false when
// the option does not fit; val then holds what is left of the list.
func (e endian) option(opts []byte) (code uint16, val, rest []byte, ok bool) {
	if len(opts) < 4 {
		return 0, nil, nil, false
	}
	code, n := e.u16(opts), int(e.u16(opts[2:]))
	if padded := (n + 3) &^ 3; 4+padded <= len(opts) {
		return code, opts[4 : 4+n], opts[4+padded:], true
	}
	return code, opts[4:], nil, false
}

// blockError is errorf for a block: it names the block type and, for
// packet blocks (num > 0), the packet number.
func (r *pcapngReader) blockError(kind error, off int64, typ uint32, num uint64, format string, args ...any) error {
	what := blockName(typ) + ": " + fmt.Sprintf(format, args...)
	if num > 0 {
		return r.packetErrorf(kind, off, num, "%s", what)
	}
	return r.errorf(kind, off, "%s", what)
}

func blockName(typ uint32) string {
	switch typ {
	case blockSHB:
		return "section header block"
	case blockIDB:
		return "interface description block"
	case blockPB:
		return "packet block"
	case blockSPB:
		return "simple packet block"
	case blockEPB:
		return "enhanced packet block"
	}
	return fmt.Sprintf("block type 0x%08x", typ)
}
