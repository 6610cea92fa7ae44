package capture

/*
#cgo LDFLAGS: -lpcap
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <pcap/pcap.h>

// rwin_pkt receives what pcap_next_ex returns. It lives in C memory, so
// Next hands libpcap no Go pointer (which would make it escape and
// allocate on every packet).
typedef struct {
	const u_char *data;
	unsigned int caplen, len;
	long long sec, frac;
} rwin_pkt;

// The handle is non-blocking: in immediate mode libpcap's own timeout
// does not bound the wait on Linux, so it polls the handle's descriptor
// for up to timeout_ms when nothing is buffered, and returns 0 if still
// nothing came.
static int rwin_next(pcap_t *p, rwin_pkt *out, int timeout_ms) {
	struct pcap_pkthdr *h;
	int rc = pcap_next_ex(p, &h, &out->data);
	if (rc == 0) {
		struct pollfd pfd = {pcap_get_selectable_fd(p), POLLIN, 0};
		if (pfd.fd >= 0) {
			poll(&pfd, 1, timeout_ms);
		}
		rc = pcap_next_ex(p, &h, &out->data);
	}
	if (rc == 1) {
		out->caplen = h->caplen;
		out->len = h->len;
		out->sec = h->ts.tv_sec;
		out->frac = h->ts.tv_usec;
	}
	return rc;
}

// rwin_setfilter compiles expr for the activated handle and installs it.
static int rwin_setfilter(pcap_t *p, const char *dev, const char *expr) {
	bpf_u_int32 net, mask;
	char errbuf[PCAP_ERRBUF_SIZE];
	if (pcap_lookupnet(dev, &net, &mask, errbuf) < 0) {
		mask = PCAP_NETMASK_UNKNOWN;
	}
	struct bpf_program prog;
	if (pcap_compile(p, &prog, expr, 1, mask) < 0) {
		return -1;
	}
	int rc = pcap_setfilter(p, &prog);
	pcap_freecode(&prog);
	return rc;
}

// rwin_addr copies the address in sa (IPv4 or IPv6) to out and returns
// its length, 0 for other families or none.
static int rwin_addr(struct sockaddr *sa, unsigned char *out) {
	if (sa == NULL) {
		return 0;
	}
	switch (sa->sa_family) {
	case AF_INET:
		memcpy(out, &((struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	case AF_INET6:
		memcpy(out, &((struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 16;
	}
	return 0;
}
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"
)

// Defaults for LiveConfig.
const (
	// DefaultLiveSnaplen keeps the headers and drops the payload: 256 bytes
	// hold a link header (Ethernet with two VLAN tags, 22 bytes, or Linux
	// SLL2, 20), an IPv6 header with 134 bytes of extension headers and a
	// TCP header with the full 40 bytes of options (60). Short frames keep
	// less of the kernel's buffer busy, so bursts drop fewer packets.
	DefaultLiveSnaplen = 256
	// DefaultLiveBuffer is the kernel buffer: 4 MiB holds about 12,000
	// frames at the default snaplen, a few hundred milliseconds of a
	// saturated gigabit link. libpcap's own default is 2 MiB.
	DefaultLiveBuffer = 4 << 20
	// liveReadTimeout bounds how long Next waits for a packet, so a caller
	// can notice a stop request or do periodic work on a quiet link.
	liveReadTimeout = 100 * time.Millisecond
)

// Errors of OpenLive and Next that callers branch on; match them with
// errors.Is.
var (
	// ErrPermission: the process may not capture (it needs root, or the
	// CAP_NET_RAW and CAP_NET_ADMIN capabilities on Linux).
	ErrPermission = errors.New("no permission to capture")
	// ErrNoInterface: no interface of that name.
	ErrNoInterface = errors.New("no such interface")
	// ErrFilter: libpcap rejected the BPF expression.
	ErrFilter = errors.New("invalid filter")
	// ErrNoPacket is what a live source's Next returns when its read
	// timeout passed without a packet: not an end, a chance to do periodic
	// work and call Next again.
	ErrNoPacket = errors.New("no packet within the read timeout")
)

// LiveConfig says how to open an interface for capture.
type LiveConfig struct {
	// Snaplen is the most bytes kept of each frame; 0 means
	// DefaultLiveSnaplen.
	Snaplen int
	// BufferSize is the kernel capture buffer in bytes; 0 means
	// DefaultLiveBuffer.
	BufferSize int
	// Promiscuous also captures frames not addressed to this host. Off by
	// default, as with `tcpdump -p`'s opposite: rwin looks at the host's
	// own connections unless asked to watch a mirror port.
	Promiscuous bool
	// Filter is a BPF expression compiled by libpcap for the interface's
	// link type and run in the kernel, so rejected frames never reach
	// rwin; empty captures everything.
	Filter string
}

// LiveStats are the capture counters the kernel keeps for a live source
// (pcap_stats(3PCAP)).
type LiveStats struct {
	// Received counts the frames that passed the filter (on Linux, those
	// the kernel handed to the capture buffer, including dropped ones).
	Received uint64
	// Dropped counts frames the kernel dropped because the capture buffer
	// was full: rwin was not reading fast enough.
	Dropped uint64
	// IfDropped counts frames the interface or its driver dropped
	// (not supported everywhere; 0 then).
	IfDropped uint64
}

// Live is a Source reading from a network interface with libpcap, in
// immediate mode so each packet is analyzed as it arrives.
//
// It calls libpcap directly, as Filter does, rather than through
// gopacket/pcap: gopacket v1.1.19 keeps link types in a uint8
// (LINKTYPE_LINUX_SLL2 = 276 came back as 20), knows activation errors
// only by message, and its layers package, which gopacket/pcap imports,
// fills 10 MB of decoder tables at start-up: two thirds of rwin's
// resident memory before it reads a packet, on every command.
//
// Next reads without copying: Packet.Data points into libpcap's ring
// buffer and is valid until the next call, as for every Source. A Live is
// read by one goroutine; Stop may be called from any.
type Live struct {
	p       *C.pcap_t
	pkt     *C.rwin_pkt // Next's out-parameters, in C memory
	nanos   bool        // timestamps come in ns, not µs
	name    string
	link    LinkType
	snaplen int
	index   uint64
	stop    atomic.Bool
}

// OpenLive opens the interface iface for capture. Errors wrap
// ErrNoInterface, ErrPermission or ErrFilter where those apply, and carry
// libpcap's message.
func OpenLive(iface string, cfg LiveConfig) (*Live, error) {
	if cfg.Snaplen <= 0 {
		cfg.Snaplen = DefaultLiveSnaplen
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = DefaultLiveBuffer
	}
	where := "live: " + iface
	cname := C.CString(iface)
	defer C.free(unsafe.Pointer(cname))
	errbuf := (*C.char)(C.calloc(C.PCAP_ERRBUF_SIZE, 1))
	defer C.free(unsafe.Pointer(errbuf))
	p := C.pcap_create(cname, errbuf)
	if p == nil {
		return nil, fmt.Errorf("%s: %s", where, oneLine(C.GoString(errbuf)))
	}
	promisc := C.int(0)
	if cfg.Promiscuous {
		promisc = 1
	}
	for _, set := range []struct {
		what string
		rc   C.int
	}{
		{"snaplen", C.pcap_set_snaplen(p, C.int(cfg.Snaplen))},
		{"buffer size", C.pcap_set_buffer_size(p, C.int(cfg.BufferSize))},
		{"promiscuous mode", C.pcap_set_promisc(p, promisc)},
		{"immediate mode", C.pcap_set_immediate_mode(p, 1)},
		{"read timeout", C.pcap_set_timeout(p, C.int(liveReadTimeout/time.Millisecond))},
	} {
		if set.rc != 0 {
			C.pcap_close(p)
			return nil, fmt.Errorf("%s: setting %s: %s", where, set.what, oneLine(C.GoString(C.pcap_statustostr(set.rc))))
		}
	}
	// A positive status is a warning (PCAP_WARNING_PROMISC_NOTSUP, …):
	// the capture works.
	if rc := C.pcap_activate(p); rc < 0 {
		err := activateError(where, iface, rc, C.GoString(C.pcap_geterr(p)))
		C.pcap_close(p)
		return nil, err
	}
	if C.pcap_setnonblock(p, 1, errbuf) != 0 {
		err := fmt.Errorf("%s: setting non-blocking mode: %s", where, oneLine(C.GoString(errbuf)))
		C.pcap_close(p)
		return nil, err
	}
	l := &Live{p: p, name: iface, link: linkTypeOf(p), snaplen: int(C.pcap_snapshot(p)),
		nanos: C.pcap_get_tstamp_precision(p) == C.PCAP_TSTAMP_PRECISION_NANO}
	if cfg.Filter != "" {
		cexpr := C.CString(cfg.Filter)
		defer C.free(unsafe.Pointer(cexpr))
		if C.rwin_setfilter(p, cname, cexpr) != 0 {
			err := fmt.Errorf("%s: %w %q: %s", where, ErrFilter, cfg.Filter, oneLine(C.GoString(C.pcap_geterr(p))))
			C.pcap_close(p)
			return nil, err
		}
	}
	l.pkt = (*C.rwin_pkt)(C.calloc(1, C.sizeof_rwin_pkt))
	return l, nil
}

// activateError turns pcap_activate's failure status into an error
// callers can match, with libpcap's own explanation (detail) where it
// has one.
func activateError(where, iface string, status C.int, detail string) error {
	detail = oneLine(detail)
	switch status {
	case C.PCAP_ERROR_NO_SUCH_DEVICE:
		return fmt.Errorf("%s: %w", where, ErrNoInterface)
	case C.PCAP_ERROR_PERM_DENIED, C.PCAP_ERROR_PROMISC_PERM_DENIED:
		// Without the capability Linux refuses the socket before libpcap
		// looks the device up: say what is really wrong with a name that
		// does not exist.
		if !interfaceExists(iface) {
			return fmt.Errorf("%s: %w", where, ErrNoInterface)
		}
		if detail != "" {
			return fmt.Errorf("%s: %w (%s)", where, ErrPermission, detail)
		}
		return fmt.Errorf("%s: %w", where, ErrPermission)
	}
	msg := oneLine(C.GoString(C.pcap_statustostr(status)))
	if detail != "" && detail != msg {
		msg += ": " + detail
	}
	return fmt.Errorf("%s: %s", where, msg)
}

// interfaceExists reports whether libpcap lists iface; true when the list
// cannot be had, so that the caller's first diagnosis stands.
func interfaceExists(iface string) bool {
	ifs, err := Interfaces()
	if err != nil {
		return true
	}
	return slices.ContainsFunc(ifs, func(i Interface) bool { return i.Name == iface })
}

// linkTypeOf returns the LINKTYPE_ value of an activated handle. DLT_RAW
// and DLT_LOOP have platform-dependent DLT values (12 and 108 on Linux,
// 14 and 12 on OpenBSD); by name they map to the one LINKTYPE_ each has
// in files.
func linkTypeOf(p *C.pcap_t) LinkType {
	dlt := C.pcap_datalink(p)
	if name := C.pcap_datalink_val_to_name(dlt); name != nil {
		switch C.GoString(name) {
		case "RAW":
			return LinkRaw
		case "LOOP":
			return LinkLoop
		}
	}
	return LinkType(dlt)
}

// Next fills p with the next packet. It returns ErrNoPacket when the read
// timeout (100 ms) passes without one, io.EOF once Stop was called, and an
// error naming the interface if the capture fails (the interface went
// away).
func (l *Live) Next(p *Packet) error {
	if l.stop.Load() {
		return io.EOF
	}
	switch rc := C.rwin_next(l.p, l.pkt, C.int(liveReadTimeout/time.Millisecond)); rc {
	case 1:
	case 0: // the read timeout expired
		if l.stop.Load() {
			return io.EOF
		}
		return ErrNoPacket
	case C.PCAP_ERROR_BREAK:
		return io.EOF
	default:
		return fmt.Errorf("live: %s: %s", l.name, oneLine(C.GoString(C.pcap_geterr(l.p))))
	}
	k := l.pkt
	ns := int64(k.frac)
	if !l.nanos {
		ns *= 1000
	}
	l.index++
	*p = Packet{Data: unsafe.Slice((*byte)(unsafe.Pointer(k.data)), int(k.caplen)), OrigLen: int(k.len),
		Time: int64(k.sec)*int64(time.Second) + ns, Link: l.link, Index: l.index, Offset: -1}
	return nil
}

// Stop makes Next return io.EOF from its next call, or within the read
// timeout if it is waiting. Safe to call from any goroutine, more than
// once.
func (l *Live) Stop() { l.stop.Store(true) }

// Name returns the interface name.
func (l *Live) Name() string { return l.name }

// Link returns the interface's link type.
func (l *Live) Link() LinkType { return l.link }

// Snaplen returns the snapshot length libpcap applies.
func (l *Live) Snaplen() int { return l.snaplen }

// Stats returns the kernel's counters for this capture so far. Call it
// before Close.
func (l *Live) Stats() (LiveStats, error) {
	var s C.struct_pcap_stat
	if C.pcap_stats(l.p, &s) != 0 {
		return LiveStats{}, fmt.Errorf("live: %s: stats: %s", l.name, oneLine(C.GoString(C.pcap_geterr(l.p))))
	}
	return LiveStats{Received: uint64(s.ps_recv), Dropped: uint64(s.ps_drop), IfDropped: uint64(s.ps_ifdrop)}, nil
}

// Close releases the capture.
func (l *Live) Close() error {
	if l.p != nil {
		C.pcap_close(l.p)
		C.free(unsafe.Pointer(l.pkt))
		l.p, l.pkt = nil, nil
	}
	return nil
}

// Interface is a capture device as libpcap lists it (pcap_findalldevs).
type Interface struct {
	Name        string
	Description string
	// Addrs are its IPv4 and IPv6 addresses with their prefix lengths.
	Addrs []netip.Prefix
	// Loopback, Up and Running mirror the PCAP_IF_ flags; Wireless marks
	// a Wi-Fi interface.
	Loopback, Up, Running, Wireless bool
	// Connection is "connected", "disconnected", "not applicable" or ""
	// when libpcap does not know (PCAP_IF_CONNECTION_STATUS).
	Connection string
}

// PCAP_IF_ flags of pcap_findalldevs(3PCAP).
const (
	pcapIfLoopback   = 0x01
	pcapIfUp         = 0x02
	pcapIfRunning    = 0x04
	pcapIfWireless   = 0x08
	pcapIfConnStatus = 0x30
)

// Interfaces lists the devices libpcap can capture on, in its order (the
// order `tcpdump -D` shows). Listing needs no privilege.
func Interfaces() ([]Interface, error) {
	errbuf := (*C.char)(C.calloc(C.PCAP_ERRBUF_SIZE, 1))
	defer C.free(unsafe.Pointer(errbuf))
	var devs *C.pcap_if_t
	if C.pcap_findalldevs(&devs, errbuf) != 0 {
		return nil, fmt.Errorf("live: listing interfaces: %s", oneLine(C.GoString(errbuf)))
	}
	defer C.pcap_freealldevs(devs)
	addrBuf := (*[16]byte)(C.calloc(16, 1))
	defer C.free(unsafe.Pointer(addrBuf))
	var out []Interface
	for d := devs; d != nil; d = d.next {
		flags := uint32(d.flags)
		i := Interface{Name: C.GoString(d.name),
			Loopback: flags&pcapIfLoopback != 0, Up: flags&pcapIfUp != 0,
			Running: flags&pcapIfRunning != 0, Wireless: flags&pcapIfWireless != 0}
		if d.description != nil {
			i.Description = C.GoString(d.description)
		}
		switch flags & pcapIfConnStatus {
		case 0x10:
			i.Connection = "connected"
		case 0x20:
			i.Connection = "disconnected"
		case 0x30:
			i.Connection = "not applicable"
		}
		for a := d.addresses; a != nil; a = a.next {
			n := int(C.rwin_addr(a.addr, (*C.uchar)(unsafe.Pointer(addrBuf))))
			ip, ok := netip.AddrFromSlice(addrBuf[:n])
			if !ok {
				continue
			}
			ip = ip.Unmap()
			bits := ip.BitLen()
			if m := int(C.rwin_addr(a.netmask, (*C.uchar)(unsafe.Pointer(addrBuf)))); m > 0 {
				if ones, size := net.IPMask(addrBuf[:m]).Size(); size == bits {
					bits = ones
				}
			}
			i.Addrs = append(i.Addrs, netip.PrefixFrom(ip, bits))
		}
		out = append(out, i)
	}
	return out, nil
}

// PcapWriter saves packets to a pcap file (nanosecond timestamps,
// little-endian), so a live capture leaves evidence anyone can open. The
// link type is written as its full 16 bits (LINKTYPE_LINUX_SLL2 is 276).
type PcapWriter struct {
	w   io.Writer
	hdr [16]byte // the record header, reused
}

// NewPcapWriter writes the file header for packets of link type link cut
// at snaplen, and returns a writer for the records. Buffering is the
// caller's: wrap w in a bufio.Writer and flush it.
func NewPcapWriter(w io.Writer, link LinkType, snaplen int) (*PcapWriter, error) {
	var hdr [pcapFileHeaderLen]byte
	binary.LittleEndian.PutUint32(hdr[0:], magicNano)
	binary.LittleEndian.PutUint16(hdr[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	// Bytes 8..15, time zone and sigfigs, stay 0.
	binary.LittleEndian.PutUint32(hdr[16:], uint32(snaplen))
	binary.LittleEndian.PutUint32(hdr[20:], uint32(link))
	if _, err := w.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("pcap writer: file header: %w", err)
	}
	return &PcapWriter{w: w}, nil
}

// Write appends p as one record. It does not allocate.
func (pw *PcapWriter) Write(p *Packet) error {
	t := time.Unix(0, p.Time)
	binary.LittleEndian.PutUint32(pw.hdr[0:], uint32(t.Unix()))
	binary.LittleEndian.PutUint32(pw.hdr[4:], uint32(t.Nanosecond()))
	binary.LittleEndian.PutUint32(pw.hdr[8:], uint32(len(p.Data)))
	binary.LittleEndian.PutUint32(pw.hdr[12:], uint32(max(p.OrigLen, len(p.Data))))
	if _, err := pw.w.Write(pw.hdr[:]); err != nil {
		return fmt.Errorf("pcap writer: packet %d: %w", p.Index, err)
	}
	if _, err := pw.w.Write(p.Data); err != nil {
		return fmt.Errorf("pcap writer: packet %d: %w", p.Index, err)
	}
	return nil
}
