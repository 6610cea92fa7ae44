package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcap"
	"github.com/google/gopacket/pcapgo"
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

// Live is a Source reading from a network interface with libpcap (through
// gopacket/pcap), in immediate mode so each packet is analyzed as it
// arrives.
//
// Next reads without copying: Packet.Data points into libpcap's ring
// buffer and is valid until the next call, as for every Source. A Live is
// read by one goroutine; Stop may be called from any.
type Live struct {
	h       *pcap.Handle
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
	ih, err := pcap.NewInactiveHandle(iface)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", where, oneLine(err.Error()))
	}
	defer ih.CleanUp()
	for _, set := range []struct {
		what string
		err  error
	}{
		{"snaplen", ih.SetSnapLen(cfg.Snaplen)},
		{"buffer size", ih.SetBufferSize(cfg.BufferSize)},
		{"promiscuous mode", ih.SetPromisc(cfg.Promiscuous)},
		{"immediate mode", ih.SetImmediateMode(true)},
		{"read timeout", ih.SetTimeout(liveReadTimeout)},
	} {
		if set.err != nil {
			return nil, fmt.Errorf("%s: setting %s: %s", where, set.what, oneLine(set.err.Error()))
		}
	}
	h, err := ih.Activate()
	if err != nil {
		return nil, activateError(where, iface, err, ih)
	}
	l := &Live{h: h, name: iface, link: linkTypeOf(h), snaplen: h.SnapLen()}
	if cfg.Filter != "" {
		if err := h.SetBPFFilter(cfg.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("%s: %w %q: %s", where, ErrFilter, cfg.Filter, oneLine(err.Error()))
		}
	}
	return l, nil
}

// activateError turns pcap_activate's failure into an error callers can
// match. gopacket v1.1.19 returns an unexported error type whose message
// names the libpcap status (PCAP_ERROR_NO_SUCH_DEVICE is "No Such
// Device", PCAP_ERROR_PERM_DENIED "Permission Denied", and
// PCAP_ERROR_PROMISC_PERM_DENIED, which it does not know, "unknown
// activated error: -11"); libpcap's own explanation is still on the
// inactive handle.
func activateError(where, iface string, err error, ih *pcap.InactiveHandle) error {
	detail := ""
	if e := ih.Error(); e != nil {
		detail = oneLine(e.Error())
	}
	status := err.Error()
	switch {
	case status == "No Such Device":
		return fmt.Errorf("%s: %w", where, ErrNoInterface)
	case status == "Permission Denied" || strings.HasSuffix(status, ": -11"):
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
	msg := oneLine(status)
	if detail != "" && !strings.Contains(msg, detail) {
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

// linkTypeOf returns the LINKTYPE_ value of an activated handle.
// gopacket v1.1.19 reads pcap_datalink(3PCAP) into a uint8
// (layers.LinkType), so LINUX_SLL2 (276) comes back as 20. The handle's
// list of the link types it offers keeps their names, and
// pcap_datalink_name_to_val gives back the full value whose low byte
// matches. DLT_RAW and DLT_LOOP have platform-dependent DLT values (12 and
// 108 on Linux, 14 and 12 on OpenBSD); by name they map to the one
// LINKTYPE_ each has in files.
func linkTypeOf(h *pcap.Handle) LinkType {
	low := int(h.LinkType())
	dlt := low
	if links, err := h.ListDataLinks(); err == nil {
		for _, d := range links {
			v := pcap.DatalinkNameToVal(d.Name)
			if v == low {
				dlt = v
				break
			}
			if v >= 0 && v&0xff == low {
				dlt = v
			}
		}
	}
	switch pcap.DatalinkValToName(dlt) {
	case "RAW":
		return LinkRaw
	case "LOOP":
		return LinkLoop
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
	data, ci, err := l.h.ZeroCopyReadPacketData()
	switch {
	case err == nil:
	case err == pcap.NextErrorTimeoutExpired:
		if l.stop.Load() {
			return io.EOF
		}
		return ErrNoPacket
	case err == io.EOF:
		return io.EOF
	default:
		return fmt.Errorf("live: %s: %s", l.name, oneLine(err.Error()))
	}
	l.index++
	*p = Packet{Data: data, OrigLen: ci.Length, Time: ci.Timestamp.UnixNano(), Link: l.link, Index: l.index, Offset: -1}
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
	s, err := l.h.Stats()
	if err != nil {
		return LiveStats{}, fmt.Errorf("live: %s: stats: %s", l.name, oneLine(err.Error()))
	}
	return LiveStats{Received: uint64(uint32(s.PacketsReceived)), Dropped: uint64(uint32(s.PacketsDropped)),
		IfDropped: uint64(uint32(s.PacketsIfDropped))}, nil
}

// Close releases the capture.
func (l *Live) Close() error {
	l.h.Close()
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
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil, fmt.Errorf("live: listing interfaces: %s", oneLine(err.Error()))
	}
	out := make([]Interface, 0, len(devs))
	for _, d := range devs {
		i := Interface{Name: d.Name, Description: d.Description,
			Loopback: d.Flags&pcapIfLoopback != 0, Up: d.Flags&pcapIfUp != 0,
			Running: d.Flags&pcapIfRunning != 0, Wireless: d.Flags&pcapIfWireless != 0}
		switch d.Flags & pcapIfConnStatus {
		case 0x10:
			i.Connection = "connected"
		case 0x20:
			i.Connection = "disconnected"
		case 0x30:
			i.Connection = "not applicable"
		}
		for _, a := range d.Addresses {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			bits := ip.BitLen()
			if ones, size := a.Netmask.Size(); size == bits {
				bits = ones
			}
			i.Addrs = append(i.Addrs, netip.PrefixFrom(ip, bits))
		}
		out = append(out, i)
	}
	return out, nil
}

// PcapWriter saves packets to a pcap file (nanosecond timestamps,
// little-endian), so a live capture leaves evidence anyone can open.
//
// The file header is written here rather than by pcapgo.Writer, whose
// WriteFileHeader takes gopacket's 8-bit layers.LinkType: LINKTYPE_LINUX_SLL2
// (276) would be written as 20. The records are pcapgo's.
type PcapWriter struct {
	w *pcapgo.Writer
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
	return &PcapWriter{w: pcapgo.NewWriterNanos(w)}, nil
}

// Write appends p as one record. It does not allocate.
func (pw *PcapWriter) Write(p *Packet) error {
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, p.Time), CaptureLength: len(p.Data), Length: max(p.OrigLen, len(p.Data))}
	if err := pw.w.WritePacket(ci, p.Data); err != nil {
		return fmt.Errorf("pcap writer: packet %d: %w", p.Index, err)
	}
	return nil
}
