package capture

/*
#cgo LDFLAGS: -lpcap
#include <stdlib.h>
#include <pcap/pcap.h>
*/
import "C"

import (
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
// would compile for link type 20) and its BPF.Matches indexes data[0],
// which panics on an empty packet.
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

// linkProgram is the expression compiled for one link type. insns is a Go
// copy of libpcap's program, so nothing is left to free in C.
type linkProgram struct {
	link  LinkType
	insns []C.struct_bpf_insn
	err   error
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
	if prog == nil {
		return false
	}
	var data *C.u_char
	if len(p.Data) > 0 {
		data = (*C.u_char)(unsafe.Pointer(&p.Data[0]))
	}
	// With no data, every load fails its bounds check inside bpf_filter
	// before touching the (nil) pointer.
	wire := max(p.OrigLen, len(p.Data))
	return C.bpf_filter(&prog[0], data, C.u_int(wire), C.u_int(len(p.Data))) != 0
}

// program returns the instructions for link, compiling them on first use,
// or nil when the expression cannot apply to link.
func (f *Filter) program(link LinkType) []C.struct_bpf_insn {
	if f.progs[f.last].link == link {
		return f.progs[f.last].insns
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
	return f.progs[i].insns
}

// compile runs pcap_compile on a dead handle of link's DLT and copies the
// program out of C memory.
func (f *Filter) compile(link LinkType) linkProgram {
	compileMu.Lock()
	defer compileMu.Unlock()
	prog := linkProgram{link: link}
	h := C.pcap_open_dead(C.int(dltOf(link)), C.int(f.snaplen))
	if h == nil {
		prog.err = fmt.Errorf("filter %q: link type %d: libpcap cannot open a dead handle", f.expr, link)
		return prog
	}
	defer C.pcap_close(h)
	cexpr := C.CString(f.expr)
	defer C.free(unsafe.Pointer(cexpr))
	var bp C.struct_bpf_program
	if C.pcap_compile(h, &bp, cexpr, 1, C.PCAP_NETMASK_UNKNOWN) != 0 {
		msg := strings.Join(strings.Fields(C.GoString(C.pcap_geterr(h))), " ")
		prog.err = fmt.Errorf("filter %q: link type %d: %s", f.expr, link, msg)
		return prog
	}
	defer C.pcap_freecode(&bp)
	if bp.bf_len == 0 {
		prog.err = fmt.Errorf("filter %q: link type %d: libpcap returned an empty program", f.expr, link)
		return prog
	}
	prog.insns = slices.Clone(unsafe.Slice(bp.bf_insns, bp.bf_len))
	return prog
}

// dltOf maps a LINKTYPE_ value, as files carry it, to the DLT_ value
// pcap_open_dead expects. They differ only where BSDs disagreed: raw IP
// is LINKTYPE 101 in files but DLT 12 (14 on OpenBSD) in the API.
func dltOf(link LinkType) int {
	switch link {
	case LinkRaw, LinkRawAlt12, LinkRawAlt14:
		return C.DLT_RAW
	}
	return int(link)
}
