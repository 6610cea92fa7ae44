package rules

import (
	"fmt"
	"time"

	"rwin/analyze"
)

// The rules about windows in use: a path that enforces the unscaled
// window, transfers held at the window, zero windows and Windows'
// auto-tuning level.

// transfer is one direction's data seen against the receiver's windows.
type transfer struct {
	rate    float64       // unique bits per second the sender achieved
	ceiling float64       // RWIN/RTT: the receiver's median effective window per path RTT, bit/s
	window  uint64        // the receiver's median effective window
	peakWin uint64        // the receiver's largest effective window
	rtt     time.Duration // path RTT
	atShare float64       // share of data segments that left less than one MSS of the window free
	peak    bool          // bytes in flight reached the receiver's largest window
}

// minTransferPackets and minTransferBytes are what a direction must carry
// before it is judged window-limited: below that, slow start and request
// sizes decide its pace, not the window.
const (
	minTransferPackets = 20
	minTransferBytes   = 64 << 10
)

// transferOf measures s's data against r's windows; ok is false when the
// direction carried too little, r's shift or the RTT is unknown, or the
// sender did not keep to the windows as this capture scales them (a shift
// the handshake here does not show: other rules explain that).
func transferOf(f *analyze.Flow, s, r *analyze.Endpoint) (transfer, bool) {
	rate, rated := s.Rate()
	ceiling, bounded := f.Ceiling(s)
	if !rated || !bounded || s.DataPackets < minTransferPackets || s.UniqueBytes < minTransferBytes || s.OverWindowPackets*10 > s.DataPackets {
		return transfer{}, false
	}
	t := transfer{rtt: f.PathRTT(), rate: rate, ceiling: ceiling, peakWin: uint64(r.Shift.Value.Scale(r.Window.Max))}
	t.window, _ = r.MedianWindow()
	t.atShare = float64(s.AtWindowPackets) / float64(s.DataPackets)
	t.peak = uint64(s.MaxInFlight)*10 >= t.peakWin*9
	return t, t.rate <= 1.25*t.ceiling
}

// held reports a transfer held at the window for much of its course: it
// reached 60 % of the RWIN/RTT ceiling (slow start and idle time keep a
// free-running transfer well below it), or half its segments left less
// than one MSS of the window free (measurable only near the sender, where
// bytes in flight are seen).
func (t transfer) held() bool { return t.rate >= 0.6*t.ceiling || t.atShare >= 0.5 }

// capped reports a transfer the window held at all: held, or its bytes in
// flight reached 90 % of the receiver's largest window at their peak.
func (t transfer) capped() bool { return t.held() || t.peak }

func windowLimited(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, p := range sides(f) {
		t, ok := transferOf(f, p.peer, p.e)
		if !ok || !t.capped() || p.e.ZeroWindows > 0 {
			continue // zero windows: the zero-window finding tells the receiver's story
		}
		if _, contradicted := windowContradicted(f, p, t); contradicted {
			continue
		}
		if _, _, byLoss := lossBinds(f, p, t); byLoss {
			continue // loss-limited tells it
		}
		sev, conf := Warn, Medium
		var why string
		switch {
		case t.rate >= 0.6*t.ceiling:
			why = fmt.Sprintf("the achieved rate is %.0f%% of the RWIN/RTT ceiling", 100*t.rate/t.ceiling)
			if t.atShare >= 0.3 {
				conf = High
				why += fmt.Sprintf(" and %.0f%% of data segments sat at the window", 100*t.atShare)
			}
		case t.atShare >= 0.5:
			why = fmt.Sprintf("%.0f%% of data segments sat at the window (the rate, %.0f%% of the ceiling, includes idle time)",
				100*t.atShare, 100*t.rate/t.ceiling)
		default:
			sev = Info
			why = fmt.Sprintf("bytes in flight peaked at %s against a largest window of %s, while the rate stayed at %.0f%% of the "+
				"ceiling: slow start or the application set the pace until the window capped it", Bytes(uint64(p.peer.MaxInFlight)),
				Bytes(t.peakWin), 100*t.rate/t.ceiling)
		}
		cause, advice := windowCause(f, p)
		held := "held at" // info: bytes in flight touched the window at their peak, it did not hold the transfer
		if sev == Info {
			held = "touched"
		}
		out = append(out, r.finding(sev, conf, p.in, why,
			fmt.Sprintf("%s transfer %s the %s's window: %s achieved against a ceiling of %s (median window %s over RTT %s); "+
				"the observed rate needs a window of %s, and every 64 KiB of window carries %s at this RTT. Cause: %s",
				p.in, held, p.name, Rate(t.rate), Rate(t.ceiling), Bytes(t.window), Duration(t.rtt), Bytes(windowFor(t.rate, t.rtt)),
				Rate(analyze.BitRate(64<<10, t.rtt)), cause),
			advice,
			Evidence{Packet: p.e.Window.FirstPacket, Time: p.e.Window.FirstTime, What: fmt.Sprintf("%s's first window field: %d (raw, before scaling)", p.name, p.e.Window.First)},
			Evidence{Packet: p.e.Window.LastPacket, Time: p.e.Window.LastTime, What: fmt.Sprintf("%s's last window field: %d (raw, before scaling)", p.name, p.e.Window.Last)}))
	}
	return out
}

// windowCause says what kept p's window small, and what to do about it.
func windowCause(f *analyze.Flow, p side) (cause, advice string) {
	sh := p.e.Shift.Value
	allowed := uint64(sh.Scale(0xffff))
	peak := uint64(sh.Scale(p.e.Window.Max))
	switch {
	case peak*10 < allowed*9:
		return fmt.Sprintf("the %s's receive buffer: its window peaked at %s, below the %s its shift %d allows", p.name, Bytes(peak),
				Bytes(allowed), sh),
			fmt.Sprintf("Raise the %s's receive buffer: let auto-tuning work (Linux: net.ipv4.tcp_rmem maximum, and no fixed "+
				"SO_RCVBUF in the application; Windows: netsh int tcp set global autotuninglevel=normal).", p.name)
	case f.Negotiated.Scaling == analyze.No:
		return "window scaling is off, so no window can exceed 64 KiB",
			"Get window scaling negotiated: see the wscale-stripped, autotuning-level or syn-options-changed findings of this flow for why it is off."
	}
	need := shiftFor(2 * peak)
	return fmt.Sprintf("the shift %d caps the %s's window at %s", sh, p.name, Bytes(allowed)),
		fmt.Sprintf("The %s needs a larger shift (at least %d to double the window); on Windows raise the auto-tuning level "+
			"(netsh int tcp set global autotuninglevel=normal), on Linux the tcp_rmem maximum.", p.name, need)
}

func zeroWindow(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	dur := f.Duration()
	for _, p := range sides(f) {
		if p.e.ZeroWindows == 0 {
			continue
		}
		sev := Info
		// A stall of a second, or of a tenth of the flow, is felt by users.
		if p.e.ZeroTime >= time.Second || (dur > 0 && p.e.ZeroTime*10 >= dur) {
			sev = Warn
		}
		out = append(out, r.finding(sev, High, p.in, "the zero windows are in the packets",
			fmt.Sprintf("%s advertised a zero window %d times in %d episodes, %s in total", p.name, p.e.ZeroWindows,
				p.e.ZeroEpisodes, Duration(p.e.ZeroTime)),
			fmt.Sprintf("The %s's application stopped reading; look at its load (CPU, disk, a blocked RDP/SMB client) rather than the network.", p.name),
			Evidence{Packet: p.e.FirstZeroPacket, What: "first zero-window advertisement"}))
	}
	return out
}

// stallLimit is the wait with data outstanding and no progress that counts
// as a stall: longer than any RTO backoff a healthy path needs (Linux's
// first RTO is 200 ms plus the RTT, the second twice that).
const stallLimit = time.Second

func unscaledWindowEnforced(f *analyze.Flow, r *Rule) []Finding {
	if f.Negotiated.Scaling != analyze.Yes {
		return nil
	}
	var out []Finding
	for _, p := range sides(f) {
		if p.e.Shift.Value == 0 {
			continue
		}
		if x, ok := lossBeyondUnscaled(f, r, p); ok {
			out = append(out, x)
		} else if x, ok := lossOnlyBeyondUnscaled(r, p); ok {
			out = append(out, x)
		} else if x, ok := neverArrived(r, p); ok {
			out = append(out, x)
		}
	}
	return out
}

// lossBeyondUnscaled: seen near the sender, the data past the receiver's
// unscaled edge is resent again and again.
func lossBeyondUnscaled(f *analyze.Flow, r *Rule, p side) (Finding, bool) {
	s := p.peer
	// Loss alone is not the signature (a receiver whose raw window is
	// below one segment makes every retransmission end beyond it, and a
	// capture that duplicates packets makes retransmissions up): the data
	// must be lost again and again until the flow stalls.
	if s.RetransBeyondUnscaled < 2 || s.MaxBeyondRun < 2 || s.MaxStall < stallLimit || p.e.ZeroWindows > 0 {
		return Finding{}, false
	}
	why := fmt.Sprintf("%d retransmissions ended beyond the %s's window field taken unscaled but inside the scaled window, up to %d "+
		"in a row with no progress; ordinary loss is repaired by the first", s.RetransBeyondUnscaled, p.name, s.MaxBeyondRun)
	summary := fmt.Sprintf("data the %s sends beyond the %s's unscaled window (ack + %d B instead of ack + %s) is lost again and again",
		p.peerName, p.name, p.e.Window.Max, Bytes(uint64(p.e.Shift.Value.Scale(p.e.Window.Max))))
	how := "resumed"
	if s.StallToEnd {
		how = "never resumed"
	}
	summary += fmt.Sprintf("; the flow stalled for %s and %s", Duration(s.MaxStall), how)
	why += fmt.Sprintf(", and the %s waited %s without an acknowledgment", p.peerName, Duration(s.MaxStall))
	ev := []Evidence{
		{Packet: s.StallPacket, What: "the wait for an acknowledgment began"},
		{Packet: s.FirstBeyondPacket, What: "first retransmission beyond the unscaled window"},
	}
	for _, e := range []*analyze.Endpoint{&f.Client, &f.Server} {
		if e.RSTPacket != 0 {
			ev = append(ev, Evidence{Packet: e.RSTPacket, What: "reset"})
		}
	}
	return r.finding(Error, High, p.in, why, summary, unscaledAdvice(p), ev...), true
}

// lossOnlyBeyondUnscaled: seen near the sender, the flow keeps moving
// (every ACK moves the unscaled edge), but loss strikes the data sent past
// the receiver's unscaled window and spares what was sent inside it.
// Ordinary loss does not care where a segment stood against the window
// field; a device enforcing it unscaled drops exactly that part.
func lossOnlyBeyondUnscaled(r *Rule, p side) (Finding, bool) {
	s := p.peer
	newBeyond := s.BeyondUnscaledPackets
	newWithin := s.UnscaledJudged - s.BeyondUnscaledPackets
	// Enough on both sides of the edge to compare, most of what went
	// beyond lost, and the loss rate within at most a fifth of that.
	if s.RetransSentBeyond < 8 || newWithin < 8 || s.RetransSentBeyond*2 < newBeyond ||
		s.RetransSentWithin*newBeyond*5 > s.RetransSentBeyond*newWithin {
		return Finding{}, false
	}
	pct := func(n, of uint64) float64 { return 100 * float64(n) / float64(max(of, 1)) }
	why := fmt.Sprintf("%d of %d segments (%.0f%%) the %s first sent beyond the %s's window field taken unscaled were resent, "+
		"against %d of %d (%.0f%%) sent inside it: loss follows the unscaled edge. The flow never stalled, so this rests on one "+
		"capture point: a bottleneck that drops the tail of every burst can look alike, a capture at the %s (rwin diff) proves it",
		s.RetransSentBeyond, newBeyond, pct(s.RetransSentBeyond, newBeyond), p.peerName, p.name,
		s.RetransSentWithin, newWithin, pct(s.RetransSentWithin, newWithin), p.name)
	summary := fmt.Sprintf("data the %s sends beyond the %s's unscaled window (ack + %d B instead of ack + %s) is lost; the flow "+
		"moves only as fast as the unscaled window allows", p.peerName, p.name, p.e.Window.Max,
		Bytes(uint64(p.e.Shift.Value.Scale(p.e.Window.Max))))
	return r.finding(Warn, Medium, p.in, why, summary, unscaledAdvice(p),
		Evidence{Packet: s.FirstBeyondPacket, What: "first retransmission beyond the unscaled window"}), true
}

// neverArrived: seen near the receiver, data the sender's sequence numbers
// say it sent never came, and the receiver's unscaled window could not
// have held it.
func neverArrived(r *Rule, p side) (Finding, bool) {
	s := p.peer
	raw := p.e.Window.Max
	if s.UnseenBytes <= uint32(raw) || s.BeyondUnscaledPackets > 0 || p.e.Window.Samples == 0 {
		return Finding{}, false
	}
	// A sender sends no data after its FIN (RFC 9293 §3.6): a segment
	// past it, after the close, is a stray (another connection's, a
	// crafted one), not data the path lost.
	if s.FINPacket != 0 && s.FINPacket < s.UnseenPacket {
		return Finding{}, false
	}
	return r.finding(Error, Medium, p.in,
		fmt.Sprintf("a later segment of the %s shows %s sent that never reached this capture point, while the %s's window field "+
			"(at most %d) read unscaled could not hold it; an MTU black hole or a dead path looks the same from here", p.peerName,
			Bytes(uint64(s.UnseenBytes)), p.name, raw),
		fmt.Sprintf("%s's data never arrived: %s sent beyond the %s's unscaled window (%d B; scaled: %s) was lost before this capture "+
			"point and the flow ended without it", p.peerName, Bytes(uint64(s.UnseenBytes)), p.name, raw,
			Bytes(uint64(p.e.Shift.Value.Scale(raw)))),
		unscaledAdvice(p)+" A capture next to the "+p.peerName+" shows the same segments retransmitted again and again.",
		Evidence{Packet: s.UnseenPacket, What: fmt.Sprintf("%s's sequence number is %s past the last data captured", p.peerName, Bytes(uint64(s.UnseenBytes)))}), true
}

func unscaledAdvice(p side) string {
	return fmt.Sprintf("A stateful firewall, NAT or IPS between the %s and the %s tracks this connection as unscaled (it missed or "+
		"ignored the handshake's window scale option) and drops what lies beyond the raw window. Update or reconfigure it (look for "+
		"window-scaling fixes and TCP state-tracking or normalization settings); the stopgap is to turn scaling off on the %s "+
		"(Windows: netsh int tcp set global autotuninglevel=disabled), which caps its window at 64 KiB. Capture on both sides of "+
		"the suspected device to confirm.", p.peerName, p.name, p.name)
}
