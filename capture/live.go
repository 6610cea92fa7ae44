//go:build cgo || windows

package capture

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"sync/atomic"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// libpcap's pcap_activate(3PCAP) statuses that rwin explains itself.
const (
	pcapErrorNoSuchDevice      = -5
	pcapErrorPermDenied        = -8
	pcapErrorPromiscPermDenied = -11
)

// Live is a Source reading from a network interface through
// gopacket/pcap: libpcap through cgo on Linux and macOS, Npcap's
// wpcap.dll, loaded at run time, on Windows. It captures in immediate
// mode so each packet is analyzed as it arrives.
//
// It uses the maintained fork github.com/gopacket/gopacket: the original
// google/gopacket v1.1.19 does not build for windows/arm64 (its pcap
// package has Windows type definitions for 386 and amd64 only) and keeps
// link types in a uint8 (LINKTYPE_LINUX_SLL2 = 276 came back as 20). The
// fork's layers package, which pcap imports, fills its decoder tables at
// start-up; see README.md (Performance) for what that costs.
//
// Next reads without copying (ZeroCopyReadPacketData): Packet.Data points
// into libpcap's ring buffer and is valid until the next call, as for
// every Source. A Live is read by one goroutine; Stop may be called from
// any.
type Live struct {
	h       *pcap.Handle
	name    string
	link    LinkType
	snaplen int
	index   uint64
	stop    atomic.Bool
}

// OpenLive opens the interface iface for capture. Errors wrap
// ErrNoInterface, ErrPermission, ErrFilter or ErrNoPcap where those apply,
// and carry libpcap's message.
func OpenLive(iface string, cfg LiveConfig) (*Live, error) {
	where := "live: " + iface
	if err := loadPcap(); err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	if cfg.Snaplen <= 0 {
		cfg.Snaplen = DefaultLiveSnaplen
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = DefaultLiveBuffer
	}
	in, err := pcap.NewInactiveHandle(iface)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", where, oneLine(err.Error()))
	}
	defer in.CleanUp()
	for _, set := range []struct {
		what string
		err  error
	}{
		{"snaplen", in.SetSnapLen(cfg.Snaplen)},
		{"buffer size", in.SetBufferSize(cfg.BufferSize)},
		{"promiscuous mode", in.SetPromisc(cfg.Promiscuous)},
		{"immediate mode", in.SetImmediateMode(true)},
		// The timeout also bounds gopacket's poll(2) of the handle, which
		// it puts in non-blocking mode, so Next returns on a quiet link.
		{"read timeout", in.SetTimeout(liveReadTimeout)},
	} {
		if set.err != nil {
			return nil, fmt.Errorf("%s: setting %s: %s", where, set.what, oneLine(set.err.Error()))
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, activateError(where, iface, err, in.Error())
	}
	l := &Live{h: h, name: iface, snaplen: h.SnapLen()}
	l.link = linkTypeOf(h.LinkType())
	if cfg.Filter != "" {
		if err := h.SetBPFFilter(cfg.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("%s: %w %q: %s", where, ErrFilter, cfg.Filter, oneLine(err.Error()))
		}
	}
	return l, nil
}

// activateError turns Activate's failure into an error callers can match,
// with libpcap's own explanation (detail) where it has one. gopacket
// reports the pcap_activate status as an unexported integer type; its
// value is the status.
func activateError(where, iface string, err, detail error) error {
	msg := oneLine(err.Error())
	var more string
	if detail != nil {
		if more = oneLine(detail.Error()); more == msg {
			more = ""
		}
	}
	status := 0
	if v := reflect.ValueOf(err); v.Kind() == reflect.Int {
		status = int(v.Int())
	}
	switch status {
	case pcapErrorNoSuchDevice:
		return fmt.Errorf("%s: %w", where, ErrNoInterface)
	case pcapErrorPermDenied, pcapErrorPromiscPermDenied:
		// Without the capability Linux refuses the socket before libpcap
		// looks the device up: say what is really wrong with a name that
		// does not exist.
		if !interfaceExists(iface) {
			return fmt.Errorf("%s: %w", where, ErrNoInterface)
		}
		if more != "" {
			return fmt.Errorf("%s: %w (%s)", where, ErrPermission, more)
		}
		return fmt.Errorf("%s: %w", where, ErrPermission)
	}
	if more != "" {
		msg += ": " + more
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

// linkTypeOf returns the LINKTYPE_ value of a handle's DLT_ value. DLT_RAW
// and DLT_LOOP have platform-dependent DLT values (12 and 108 on Linux,
// 14 and 12 on OpenBSD); by name they map to the one LINKTYPE_ each has
// in files. The fork's layers.LinkType is 16 bits wide, so
// DLT_LINUX_SLL2 (276) arrives whole.
func linkTypeOf(dlt layers.LinkType) LinkType {
	switch pcap.DatalinkValToName(int(dlt)) {
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
	case errors.Is(err, pcap.NextErrorTimeoutExpired):
		if l.stop.Load() {
			return io.EOF
		}
		return ErrNoPacket
	case err == io.EOF:
		return io.EOF
	default:
		msg := oneLine(err.Error())
		if detail := oneLine(l.h.Error().Error()); detail != "" {
			msg = detail
		}
		return fmt.Errorf("live: %s: %s", l.name, msg)
	}
	l.index++
	*p = Packet{Data: data, OrigLen: ci.Length, Time: ci.Timestamp.UnixNano(), Link: l.link,
		Index: l.index, Offset: -1}
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
	// pcap_stat's counters are 32-bit unsigned; gopacket hands them out
	// as int, which on 32-bit systems is signed.
	return LiveStats{Received: uint64(uint32(s.PacketsReceived)), Dropped: uint64(uint32(s.PacketsDropped)),
		IfDropped: uint64(uint32(s.PacketsIfDropped))}, nil
}

// Close releases the capture.
func (l *Live) Close() error {
	if l.h != nil {
		l.h.Close()
		l.h = nil
	}
	return nil
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
	if err := loadPcap(); err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
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
