package rules

import (
	"fmt"
	"math"
	"math/bits"
	"time"

	"rwin/analyze"
	"rwin/capture"
)

// This file holds the reasoning several rules share: what an option layout
// says about the stack that wrote it and about a device that edited it,
// where the capture point sits on the path, and whether an endpoint scales
// the windows it advertises.

// initialTTL returns the initial TTL a sender most likely used: the
// smallest common default (32, 64 for Linux and macOS, 128 for Windows, 255
// for network devices) not below what was captured.
func initialTTL(ttl uint8) uint8 {
	for _, t := range []uint8{32, 64, 128} {
		if ttl <= t {
			return t
		}
	}
	return 255
}

// hops is how many routers a segment crossed before the capture point,
// assuming it started at initialTTL.
func hops(ttl uint8) int { return int(initialTTL(ttl)) - int(ttl) }

// vantage says where on the path the capture point sits.
type vantage uint8

const (
	vantageUnknown vantage = iota
	nearClient
	nearServer
	midPath
)

// vantageOf locates the capture point: a segment captured before any router
// still carries its sender's initial TTL, and the handshake's two RTT halves
// (SYN→SYN-ACK is the capture point's distance to the server, SYN-ACK→ACK
// to the client) say which end is closer. The string says why.
func vantageOf(f *analyze.Flow) (vantage, string) {
	if f.SYN.Seen && f.SYNACK.Seen {
		c, s := hops(f.SYN.TTL) == 0, hops(f.SYNACK.TTL) == 0
		switch {
		case c && !s:
			return nearClient, fmt.Sprintf("the SYN still has its initial TTL %d and the SYN-ACK has crossed %d routers: captured at the client",
				f.SYN.TTL, hops(f.SYNACK.TTL))
		case s && !c:
			return nearServer, fmt.Sprintf("the SYN-ACK still has its initial TTL %d and the SYN has crossed %d routers: captured at the server",
				f.SYNACK.TTL, hops(f.SYN.TTL))
		}
	}
	if f.ClientRTT > 0 && f.ServerRTT > 0 {
		switch {
		case f.ClientRTT*8 < f.ServerRTT:
			return nearClient, fmt.Sprintf("the client answered the SYN-ACK in %s, the server the SYN in %s: captured near the client",
				Duration(f.ClientRTT), Duration(f.ServerRTT))
		case f.ServerRTT*8 < f.ClientRTT:
			return nearServer, fmt.Sprintf("the server answered the SYN in %s, the client the SYN-ACK in %s: captured near the server",
				Duration(f.ServerRTT), Duration(f.ClientRTT))
		}
		return midPath, fmt.Sprintf("the handshake's halves (%s to the server, %s to the client) put the capture point mid-path",
			Duration(f.ServerRTT), Duration(f.ClientRTT))
	}
	return vantageUnknown, ""
}

// trace is what an option layout shows of an option removed from it.
type trace struct {
	// what describes the trace for a finding's Why.
	what string
	conf Confidence
	// nops is the length of the NOP run, for a TCPOPTSTRIP trace; it
	// bounds the options that can have stood there.
	nops int
	// only, when set, is the one option the trace can stand for.
	only capture.OptSet
}

// Option sizes in bytes (RFC 9293 §3.1, RFC 7323 §2.2 and §3.2, RFC 2018
// §2): what a NOP overwrite of each leaves behind, at the least.
const (
	sizeWScale    = 3
	sizeSACKPerm  = 2
	sizeTimestamp = 10
)

// removalTrace looks for what a device that removed an option leaves in a
// SYN's or SYN-ACK's layout. Stacks use NOPs only to align the option that
// follows (at most two in a row, p0f's layouts), so:
//   - three or more NOPs in a row are an overwritten option: iptables
//     TCPOPTSTRIP replaces every byte of a stripped option with NOP, turning
//     Linux's mss,sok,ts,nop,ws into mss,sok,ts,nop,nop,nop,nop and Windows'
//     mss,nop,ws,nop,nop,sok into six NOPs before sok;
//   - a NOP directly before EOL aligned an option that is gone (a stack
//     pads with NOPs or with EOL, not with a NOP and then EOL);
//   - Linux never pads with EOL, so Linux's options (two of SACK-permitted,
//     timestamps and window scale, in its order, window scale after its
//     NOP) ending in EOL are a Linux header some device repacked after
//     removing the third.
//
// A layout the snaplen cut, or a malformed one, says nothing.
func removalTrace(o *capture.Options) (trace, bool) {
	l := &o.Layout
	if o.Truncated || o.Issue.Problem != capture.OptOK || l.Len() == 0 {
		return trace{}, false // a layout cut by the snaplen or malformed says nothing of removal
	}
	run, longest := 0, 0
	for i := 0; i < l.Len(); i++ {
		if l.Kind(i) == capture.OptKindNOP {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if longest >= 3 {
		return trace{what: fmt.Sprintf("%d NOPs in a row where an option stood (%s): the signature of iptables TCPOPTSTRIP, which overwrites a stripped option with NOPs",
			longest, l), conf: High, nops: longest}, true
	}
	for i := 0; i+1 < l.Len(); i++ {
		if l.Kind(i) == capture.OptKindNOP && l.Kind(i+1) == capture.OptKindEOL {
			return trace{what: fmt.Sprintf("an alignment NOP with no option after it (%s): the option it aligned was removed", l), conf: Medium}, true
		}
	}
	if missing, ok := linuxRepacked(l); ok {
		return trace{what: fmt.Sprintf("Linux's options padded with EOL (%s), which Linux never sends: an option was removed and the header repacked", l),
			conf: Medium, only: missing}, true
	}
	return trace{}, false
}

// fits reports whether the trace can stand for the removed option opt of
// the given size.
func (t trace) fits(opt capture.OptSet, size int) bool {
	return (t.only == 0 || t.only == opt) && (t.nops == 0 || t.nops >= size)
}

// linuxRepacked reports a layout that starts with MSS, ends in EOL and holds
// two of SACK-permitted, timestamps and window scale in Linux's order
// (tcp_options_write: sok, ts, then nop,ws), and returns the third: a Linux
// header repacked by a device that removed it.
func linuxRepacked(l *capture.Layout) (capture.OptSet, bool) {
	n := l.Len()
	if n < 3 || l.Kind(0) != capture.OptKindMSS || l.Kind(n-1) != capture.OptKindEOL {
		return 0, false
	}
	order := []struct {
		kind uint8
		has  capture.OptSet
	}{{capture.OptKindSACKPerm, capture.HasSACKPerm}, {capture.OptKindTimestamp, capture.HasTimestamp}, {capture.OptKindWScale, capture.HasWScale}}
	next, found := 0, capture.OptSet(0)
	for i := 1; i < n-1; i++ {
		k := l.Kind(i)
		if k == capture.OptKindNOP {
			continue
		}
		for next < len(order) && order[next].kind != k {
			next++
		}
		if next == len(order) || (k == capture.OptKindWScale && l.Kind(i-1) != capture.OptKindNOP) {
			return 0, false // not Linux's order, or WS without its aligning NOP
		}
		found |= order[next].has
		next++
	}
	all := capture.HasSACKPerm | capture.HasTimestamp | capture.HasWScale
	missing := all &^ found
	return missing, bits.OnesCount16(uint16(missing)) == 1
}

// stackOf names the stack whose SYN or SYN-ACK option layout this is (p0f
// v3's signatures), or "" when the layout is not a common one.
func stackOf(l *capture.Layout) string {
	switch l.String() {
	case "mss,sok,ts,nop,ws", "mss,nop,nop,ts,nop,ws", "mss,nop,nop,sok,nop,ws", "mss,sok,ts", "mss,nop,nop,ts":
		return "Linux"
	case "mss,nop,ws,nop,nop,sok":
		return "Windows"
	case "mss,nop,ws,nop,nop,ts,sok,eol":
		return "macOS"
	case "mss,nop,ws,sok,ts":
		return "FreeBSD or Windows"
	}
	return ""
}

// modern reports a handshake segment from a stack of the last twenty years:
// it carries SACK-permitted or timestamps, and every such stack also
// implements window scaling (RFC 7323 and RFC 2018 came together).
func modern(o *capture.Options) bool {
	return o.Carries(capture.HasSACKPerm | capture.HasTimestamp)
}

// hasWS reports whether a captured handshake segment carried window scale.
func hasWS(hs *analyze.HandshakeSegment) bool {
	return hs.Seen && hs.Opts.Carries(capture.HasWScale)
}

// answeredSYN is the SYN the SYN-ACK answered (the one the negotiation
// used), or the first SYN when there was no SYN-ACK.
func answeredSYN(f *analyze.Flow) *analyze.HandshakeSegment {
	if f.AnsweredSYN.Seen {
		return &f.AnsweredSYN
	}
	return &f.SYN
}

// divided reports whether an endpoint scales the windows it advertises
// although the handshake in the capture says it should not: right after the
// handshake a stack that applies shift k advertises its receive buffer >> k,
// so its first window is its SYN or SYN-ACK window (never scaled, RFC 7323
// §2.2) divided by about 2^k. A stack that does not scale keeps advertising
// bytes; it does not shrink its window fourfold before it received any data
// (RFC 9293 §3.8.6 discourages shrinking). It returns the implied shift.
func divided(hs *analyze.HandshakeSegment, e *analyze.Endpoint) (capture.Shift, bool) {
	first := uint32(e.Window.First)
	if !hs.Seen || e.Window.Samples == 0 || first == 0 || hs.Window < 4096 || first*4 > uint32(hs.Window) {
		return 0, false
	}
	k := math.Round(math.Log2(float64(hs.Window) / float64(first)))
	return capture.Shift(k), k >= 2 && k <= float64(capture.MaxShift)
}

// unscaledLooking reports an endpoint that announced a shift of 5 or more
// yet advertises windows as if it did not scale: its first window after the
// handshake is at least half its SYN window and at least 8 KiB, which with
// its shift would mean a receive window of a megabyte or more before any
// data arrived. No common stack opens that wide (Linux starts near 64 KiB,
// Windows and macOS near 256 KiB); a stack that believes scaling is off
// does, because its peer's half of the handshake reached it without the
// option.
func unscaledLooking(hs *analyze.HandshakeSegment, e *analyze.Endpoint) bool {
	if !hasWS(hs) || e.Shift.Basis != analyze.BasisNegotiated || e.Shift.Value < 5 || e.Window.Samples == 0 {
		return false
	}
	first := uint32(e.Window.First)
	return first >= 8192 && 2*first >= uint32(hs.Window)
}

// ttlClassDiffers reports segments whose TTLs come from different initial
// values (64 vs 255, …): different senders.
func ttlClassDiffers(a, b uint8) bool { return initialTTL(a) != initialTTL(b) }

// windowFor returns the window (bytes) that carries rate (bit/s) over rtt:
// the bandwidth-delay product.
func windowFor(rate float64, rtt time.Duration) uint64 {
	return uint64(rate / 8 * float64(rtt) / 1e9)
}

// shiftFor returns the smallest shift whose largest window (65535 << shift)
// holds w bytes, capped at 14.
func shiftFor(w uint64) capture.Shift {
	if w <= 0xffff {
		return 0
	}
	return capture.Shift(min(bits.Len64((w-1)/0xffff), int(capture.MaxShift)))
}
