//go:build !cgo && (linux || darwin) && (amd64 || arm64)

package capture

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Without cgo, Go cannot link libpcap, but purego can open it at run time
// the way cgo's loader would, so a release binary filters files wherever
// libpcap is installed (every macOS; libpcap0.8 on Debian and Ubuntu,
// pulled in by tcpdump and Wireshark). Only what offline filtering needs
// is bound; live capture stays with the cgo build.

// pcapLibraries are the names libpcap goes by: the runtime package's
// soname first (Debian's libpcap0.8 ships libpcap.so.0.8 as a link to
// libpcap.so.1), the development link last.
var pcapLibraries = map[string][]string{
	"linux":  {"libpcap.so.1", "libpcap.so.0.8", "libpcap.so"},
	"darwin": {"/usr/lib/libpcap.A.dylib", "libpcap.dylib"},
}

// pcapErrbufSize is PCAP_ERRBUF_SIZE.
const pcapErrbufSize = 256

// pcapNetmaskUnknown is PCAP_NETMASK_UNKNOWN: a savefile has no netmask,
// which only the `ip broadcast` primitive needs.
const pcapNetmaskUnknown = 0xffffffff

// The libpcap functions offline filtering needs (pcap(3PCAP)).
var (
	pcapOpenOffline   func(fname string, errbuf *byte) uintptr
	pcapCompile       func(p uintptr, prog *cBPFProgram, expr string, optimize int32, netmask uint32) int32
	pcapGeterr        func(p uintptr) string
	pcapClose         func(p uintptr)
	pcapFreecode      func(prog *cBPFProgram)
	pcapOfflineFilter uintptr // called through purego.SyscallN: no allocation per packet

	pcapOnce    sync.Once
	pcapLoadErr error
)

// loadPcap opens libpcap once, or says in one line that it is missing and
// how to install it.
func loadPcap() error {
	pcapOnce.Do(func() { pcapLoadErr = openPcap() })
	return pcapLoadErr
}

func openPcap() error {
	names := pcapLibraries[runtime.GOOS]
	var lib uintptr
	var errs []string
	for _, name := range names {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			lib = h
			break
		}
		errs = append(errs, oneLine(err.Error()))
	}
	if lib == 0 {
		return fmt.Errorf("%w: libpcap was not found (tried %s): install it (Debian, Ubuntu: apt-get install libpcap0.8; Fedora: dnf install libpcap; macOS ships it), "+
			"or filter a file with tcpdump: tcpdump -r FILE -w - EXPR | rwin read - (%s)",
			ErrNoPcap, strings.Join(names, ", "), strings.Join(errs, "; "))
	}
	// RegisterLibFunc panics on a missing symbol; every libpcap since 0.8
	// (2004) has these, but a stray library of that name must not crash rwin.
	sym, err := purego.Dlsym(lib, "pcap_offline_filter")
	if err != nil {
		return fmt.Errorf("%w: the libpcap found is too old for offline filters: %s", ErrNoPcap, oneLine(err.Error()))
	}
	for _, name := range []string{"pcap_open_offline", "pcap_compile", "pcap_geterr", "pcap_close", "pcap_freecode"} {
		if _, err := purego.Dlsym(lib, name); err != nil {
			return fmt.Errorf("%w: the libpcap found lacks %s: %s", ErrNoPcap, name, oneLine(err.Error()))
		}
	}
	pcapOfflineFilter = sym
	purego.RegisterLibFunc(&pcapOpenOffline, lib, "pcap_open_offline")
	purego.RegisterLibFunc(&pcapCompile, lib, "pcap_compile")
	purego.RegisterLibFunc(&pcapGeterr, lib, "pcap_geterr")
	purego.RegisterLibFunc(&pcapClose, lib, "pcap_close")
	purego.RegisterLibFunc(&pcapFreecode, lib, "pcap_freecode")
	return nil
}

// cBPFProgram is struct bpf_program: the instruction count and libpcap's
// malloc'd instructions.
type cBPFProgram struct {
	len   uint32
	insns uintptr
}

// cPkthdr is struct pcap_pkthdr on 64-bit Linux and macOS: a 16-byte
// struct timeval (macOS's 4-byte tv_usec is padded to 8), then the
// captured and wire lengths. Filters never read the timestamp.
type cPkthdr struct {
	tsSec, tsUsec int64
	caplen, len   uint32
}

// bpfProgram is a compiled filter. It lives in Go memory so libpcap can
// read it during pcap_offline_filter; its instructions are freed by
// pcap_freecode when it is collected.
type bpfProgram struct {
	prog cBPFProgram
	// hdr, args and data serve every match, so matching does not
	// allocate: SyscallN's variadic arguments, built in the call, would
	// escape to the heap.
	hdr  cPkthdr
	args [3]uintptr
	// data holds the packet during the call. Storing it here makes escape
	// analysis put every packet buffer on the heap, where Go never moves
	// it, so its address stays valid while libpcap reads it.
	data  unsafe.Pointer
	empty [1]byte // a valid address for an empty packet, never read
}

// compileSavefile compiles expr on a handle reading the savefile at path.
// The caller holds compileMu.
func compileSavefile(path, expr string) (*bpfProgram, error) {
	var errbuf [pcapErrbufSize]byte
	h := pcapOpenOffline(path, &errbuf[0])
	if h == 0 {
		msg := string(errbuf[:]) // NUL-terminated
		if i := strings.IndexByte(msg, 0); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("%s", oneLine(msg))
	}
	defer pcapClose(h)
	b := &bpfProgram{}
	if pcapCompile(h, &b.prog, expr, 1, pcapNetmaskUnknown) < 0 {
		return nil, fmt.Errorf("%s", oneLine(pcapGeterr(h)))
	}
	runtime.AddCleanup(b, func(prog cBPFProgram) { pcapFreecode(&prog) }, b.prog)
	return b, nil
}

// matches runs the program over data, a frame of wireLen bytes on the
// wire, as pcap_offline_filter does for tcpdump -r.
func (b *bpfProgram) matches(data []byte, wireLen int) bool {
	b.hdr.caplen, b.hdr.len = uint32(len(data)), uint32(wireLen)
	b.data = unsafe.Pointer(&b.empty[0])
	if len(data) > 0 {
		b.data = unsafe.Pointer(&data[0])
	}
	b.args = [3]uintptr{uintptr(unsafe.Pointer(&b.prog)), uintptr(unsafe.Pointer(&b.hdr)), uintptr(b.data)}
	r, _, _ := purego.SyscallN(pcapOfflineFilter, b.args[:]...)
	b.data = nil
	return int32(r) != 0
}
