//go:build cgo || windows || ((linux || darwin) && (amd64 || arm64))

package capture

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
)

// Filter matches packets against a tcpdump-style BPF expression, the way
// `tcpdump -r FILE EXPR` does: libpcap compiles the expression and runs
// the program over each packet's captured bytes.
//
// It reaches libpcap through gopacket/pcap where cgo links it (and Npcap's
// wpcap.dll on Windows), or by loading libpcap at run time in the Linux and
// macOS builds without cgo. Either way it compiles not on a "dead" handle
// (pcap_open_dead, gopacket's package-level NewBPF): for those libpcap assumes a live capture on this host,
// so on BSD loopback "ip6" tests Linux's AF_INET6 (10) instead of the BSD
// values (24, 28, 30) that captures from macOS and the BSDs carry. Filter
// compiles on a handle reading a header-only savefile instead, exactly as
// tcpdump -r does.
//
// A pcapng file can mix link types, and one expression compiles to a
// different program for each (the IP header sits at offset 14 on Ethernet,
// 16 on Linux SLL, 0 on raw IP). The program for a link type is compiled
// the first time a packet of that type arrives and kept; Match itself does
// not allocate.
//
// A Filter is not safe for concurrent use.
type Filter struct {
	expr    string
	snaplen int
	progs   []linkProgram // one per link type met so far
	last    int           // index in progs of the last link type matched
	err     error         // the first compile failure after NewFilter
}

// linkProgram is the expression compiled for one link type. The programs
// are freed when they are collected.
type linkProgram struct {
	link LinkType
	// prog serves frames whose capture was written on a little-endian
	// machine, nearly all of them; nil when the expression cannot apply
	// to the link type.
	prog *bpfProgram
	// beProg, for BSD loopback only, serves frames written on a
	// big-endian machine: their 4-byte address family is in the writer's
	// byte order, and libpcap compiles it for the file's.
	beProg *bpfProgram
	err    error
}

// compileMu serialises pcap_compile, which is not reentrant in libpcap
// releases before 1.8 and shares the error buffer of its handle.
var compileMu sync.Mutex

// NewFilter compiles expr for packets of link type link with snapshot
// length snaplen (0 means libpcap's default, 262144). An expression
// libpcap rejects for that link type is an error carrying libpcap's
// message. Packets of other link types are compiled for when first seen.
func NewFilter(expr string, link LinkType, snaplen int) (*Filter, error) {
	if err := loadPcap(); err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	if snaplen <= 0 {
		snaplen = 262144
	}
	f := &Filter{expr: expr, snaplen: snaplen}
	prog := f.compile(link)
	if prog.err != nil {
		return nil, prog.err
	}
	f.progs = append(f.progs, prog)
	return f, nil
}

// String returns the expression the filter was made from.
func (f *Filter) String() string { return f.expr }

// Err reports the first link type met after NewFilter for which the
// expression does not compile (for example "ether host" on raw IP).
// Packets of such a link type never match; tcpdump would have refused the
// whole file, rwin keeps going and lets the caller warn.
func (f *Filter) Err() error { return f.err }

// Match reports whether the filter accepts p. The program sees the
// captured bytes and, for the `len` keyword, the original length, as in
// libpcap's offline filtering. With no captured bytes every load fails
// its bounds check, so only an expression that loads nothing (the empty
// one) accepts an empty packet.
func (f *Filter) Match(p *Packet) bool {
	prog := f.program(p.Link)
	bpf := prog.prog
	if bpf == nil {
		return false
	}
	d := p.Data
	// An address family below 65536 written big-endian starts with two
	// zero bytes; written little-endian it ends with them.
	if prog.beProg != nil && len(d) >= 4 && d[0] == 0 && d[1] == 0 && d[2]|d[3] != 0 {
		bpf = prog.beProg
	}
	return bpf.matches(d, max(p.OrigLen, len(d)))
}

// program returns the programs for link, compiling them on first use.
func (f *Filter) program(link LinkType) *linkProgram {
	if f.progs[f.last].link == link {
		return &f.progs[f.last]
	}
	i := -1
	for j := range f.progs {
		if f.progs[j].link == link {
			i = j
			break
		}
	}
	if i < 0 {
		prog := f.compile(link)
		if prog.err != nil && f.err == nil {
			f.err = prog.err
		}
		f.progs = append(f.progs, prog)
		i = len(f.progs) - 1
	}
	f.last = i
	return &f.progs[i]
}

// compile compiles the expression for link, as `tcpdump -r` would for a
// file of that link type.
func (f *Filter) compile(link LinkType) linkProgram {
	prog := linkProgram{link: link}
	prog.prog, prog.err = f.compileFor(link, binary.LittleEndian)
	if prog.err == nil && link == LinkNull {
		prog.beProg, prog.err = f.compileFor(link, binary.BigEndian)
	}
	if prog.err != nil {
		prog.prog, prog.beProg = nil, nil
		prog.err = fmt.Errorf("filter %q: link type %d: %w", f.expr, link, prog.err)
	}
	return prog
}

// compileFor compiles the expression on a handle reading a header-only
// pcap file of link type link written in byte order order. libpcap reads
// savefiles only from a path (or a C stdio stream gopacket does not
// offer on Windows), so the header goes to a temporary file.
func (f *Filter) compileFor(link LinkType, order binary.AppendByteOrder) (*bpfProgram, error) {
	hdr := order.AppendUint32(nil, magicMicro)
	hdr = order.AppendUint16(hdr, 2)
	hdr = order.AppendUint16(hdr, 4)
	hdr = order.AppendUint64(hdr, 0) // thiszone, sigfigs
	hdr = order.AppendUint32(hdr, uint32(f.snaplen))
	hdr = order.AppendUint32(hdr, uint32(link))
	tmp, err := os.CreateTemp("", "rwin-filter-*.pcap")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(hdr)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}

	compileMu.Lock()
	defer compileMu.Unlock()
	return compileSavefile(tmp.Name(), f.expr)
}
