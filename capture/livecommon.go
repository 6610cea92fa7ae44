package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
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
	// ErrNoPcap: no capture library can be used, so neither live capture
	// nor BPF filters work: Npcap is not installed on Windows, or rwin was
	// built without cgo on a system where libpcap is reached only through
	// it. The error says how to get one.
	ErrNoPcap = errors.New("no packet capture library")
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

// oneLine folds libpcap's message onto one line.
func oneLine(msg string) string {
	return strings.Join(strings.Fields(msg), " ")
}
