package capture

/*
#cgo LDFLAGS: -lpcap
#include <stdio.h>
#include <stdlib.h>
#include <pcap/pcap.h>

// rwin_open_header opens a pcap "file" that is only the 24-byte file
// header in hdr, which must outlive the handle. The handle compiles
// filters with the semantics of a savefile (pcap_compile behaves
// differently for live and dead handles) and converts LINKTYPE_ values to
// DLT_ values itself.
static pcap_t *rwin_open_header(unsigned char *hdr, char *errbuf) {
	FILE *f = fmemopen(hdr, 24, "rb");
	if (f == NULL) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "fmemopen failed");
		return NULL;
	}
	pcap_t *p = pcap_fopen_offline(f, errbuf);
	if (p == NULL) {
		fclose(f);
	}
	return p;
}
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// Filter matches packets against a tcpdump-style BPF expression, the way
// `tcpdump -r FILE EXPR` does: libpcap compiles the expression and runs
// the program over each packet's captured bytes.
//
// It calls libpcap directly rather than through gopacket/pcap because
// gopacket v1.1.19 keeps link types in a uint8 (LINKTYPE_LINUX_SLL2 = 276
// would compile for link type 20), its BPF.Matches indexes data[0], which
// panics on an empty packet, and its NewBPF compiles on a "dead" handle:
// for those libpcap assumes a live capture on this host, so on BSD
// loopback "ip6" tests Linux's AF_INET6 (10) instead of the BSD values
// (24, 28, 30) that captures from macOS and the BSDs carry. Filter
// compiles on a handle reading a header-only savefile instead, exactly
// as tcpdump -r does.
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
// are Go copies of libpcap's, so nothing is left to free in C.
type linkProgram struct {
	link LinkType
	// insns serves frames whose capture was written on a little-endian
	// machine, nearly all of them; nil when the expression cannot apply
	// to the link type.
	insns []C.struct_bpf_insn
	// beInsns, for BSD loopback only, serves frames written on a
	// big-endian machine: their 4-byte address family is in the writer's
	// byte order, and libpcap compiles it for the file's.
	beInsns []C.struct_bpf_insn
	err     error
}

// compileMu serialises pcap_compile, which is not reentrant in libpcap
// releases before 1.8 and shares the error buffer of its handle.
var compileMu sync.Mutex

// NewFilter compiles expr for packets of link type link with snapshot
// length snaplen (0 means libpcap's default, 262144). An expression
// libpcap rejects for that link type is an error carrying libpcap's
// message. Packets of other link types are compiled for when first seen.
func NewFilter(expr string, link LinkType, snaplen int) (*Filter, error) {
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
// libpcap's offline filtering.
func (f *Filter) Match(p *Packet) bool {
	prog := f.program(p.Link)
	insns := prog.insns
	if insns == nil {
		return false
	}
	d := p.Data
	// An address family below 65536 written big-endian starts with two
	// zero bytes; written little-endian it ends with them.
	if prog.beInsns != nil && len(d) >= 4 && d[0] == 0 && d[1] == 0 && d[2]|d[3] != 0 {
		insns = prog.beInsns
	}
	var data *C.u_char
	if len(d) > 0 {
		data = (*C.u_char)(unsafe.Pointer(&d[0]))
	}
	// With no data, every load fails its bounds check inside bpf_filter
	// before touching the (nil) pointer.
	wire := max(p.OrigLen, len(d))
	return C.bpf_filter(&insns[0], data, C.u_int(wire), C.u_int(len(d))) != 0
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
	prog.insns, prog.err = f.compileFor(link, binary.LittleEndian)
	if prog.err == nil && link == LinkNull {
		prog.beInsns, prog.err = f.compileFor(link, binary.BigEndian)
	}
	if prog.err != nil {
		prog.insns, prog.beInsns = nil, nil
		prog.err = fmt.Errorf("filter %q: link type %d: %w", f.expr, link, prog.err)
	}
	return prog
}

// compileFor runs pcap_compile on a handle reading a header-only pcap file
// of link type link written in byte order order, and copies the program
// out of C memory.
func (f *Filter) compileFor(link LinkType, order binary.AppendByteOrder) ([]C.struct_bpf_insn, error) {
	hdr := order.AppendUint32(nil, magicMicro)
	hdr = order.AppendUint16(hdr, 2)
	hdr = order.AppendUint16(hdr, 4)
	hdr = order.AppendUint64(hdr, 0) // thiszone, sigfigs
	hdr = order.AppendUint32(hdr, uint32(f.snaplen))
	hdr = order.AppendUint32(hdr, uint32(link))
	chdr := C.CBytes(hdr)
	defer C.free(chdr)
	errbuf := (*C.char)(C.calloc(C.PCAP_ERRBUF_SIZE, 1))
	defer C.free(unsafe.Pointer(errbuf))
	cexpr := C.CString(f.expr)
	defer C.free(unsafe.Pointer(cexpr))

	compileMu.Lock()
	defer compileMu.Unlock()
	h := C.rwin_open_header((*C.uchar)(chdr), errbuf)
	if h == nil {
		return nil, errors.New(oneLine(C.GoString(errbuf)))
	}
	defer C.pcap_close(h)
	var bp C.struct_bpf_program
	if C.pcap_compile(h, &bp, cexpr, 1, C.PCAP_NETMASK_UNKNOWN) != 0 {
		return nil, errors.New(oneLine(C.GoString(C.pcap_geterr(h))))
	}
	defer C.pcap_freecode(&bp)
	if bp.bf_len == 0 {
		return nil, errors.New("libpcap returned an empty program")
	}
	return slices.Clone(unsafe.Slice(bp.bf_insns, bp.bf_len)), nil
}

// oneLine folds libpcap's message onto one line.
func oneLine(msg string) string {
	return strings.Join(strings.Fields(msg), " ")
}
