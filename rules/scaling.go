package rules

import (
	"fmt"

	"rwin/analyze"
	"rwin/capture"
)

// The window-scale negotiation rules: the option stripped, its shift
// rewritten to 0, or the capture unable to tell.

// handshakeEvidence cites a SYN or SYN-ACK with its layout.
func handshakeEvidence(name string, hs *analyze.HandshakeSegment) Evidence {
	o := &hs.Opts
	ws := "no window scale"
	if o.Carries(capture.HasWScale) {
		ws = fmt.Sprintf("window scale %d", o.WScale)
	}
	layout := o.Layout.String()
	if layout == "" {
		layout = "no options"
	}
	return Evidence{Packet: hs.Packet, Time: hs.Time,
		What: fmt.Sprintf("%s: %s (%s), window field %d (a SYN's is never scaled), TTL %d", name, layout, ws, hs.Window, hs.TTL)}
}

// firstWindowEvidence cites an endpoint's first window after the
// handshake.
func firstWindowEvidence(name string, e *analyze.Endpoint) Evidence {
	return Evidence{Packet: e.Window.FirstPacket, Time: e.Window.FirstTime,
		What: fmt.Sprintf("%s's first window after the handshake: %d", name, e.Window.First)}
}

const compareAtBothEnds = "Capture at both ends of the path at once and compare the two handshakes (rwin diff): the device sits where they differ."

func wscaleStripped(f *analyze.Flow, r *Rule) []Finding {
	syn, ack := answeredSYN(f), &f.SYNACK
	if !syn.Seen || f.Handshake == analyze.HandshakeSimultaneous || proxied(f).found() {
		return nil
	}
	switch {
	case !hasWS(syn):
		// Missing from the SYN as captured: only a trace tells a stripped
		// option from a client that never offered it (Windows with
		// auto-tuning disabled, a retry without it).
		t, ok := removalTrace(&syn.Opts)
		if !ok || !t.fits(capture.HasWScale, sizeWScale) {
			return nil
		}
		ev := []Evidence{handshakeEvidence("SYN", syn)}
		if ack.Seen {
			ev = append(ev, handshakeEvidence("SYN-ACK", ack))
		}
		return []Finding{r.finding(Warn, t.conf, analyze.BothDirections,
			t.what+"; the SYN-ACK then lacks the option too, as RFC 7323 §1.3 requires of a server that never saw it",
			"window scale stripped from the client's SYN before this capture point: scaling is off both ways and no window can exceed 64 KiB",
			"Find the device between the client and this capture point that rewrites TCP options (a firewall's TCP "+
				"normalization or option scrubbing, an IPS, iptables TCPOPTSTRIP) and let it pass option 3 (window scale). "+compareAtBothEnds,
			ev...)}
	case ack.Seen && !hasWS(ack):
		return synackWithoutWS(f, r, syn, ack)
	case f.Negotiated.Scaling == analyze.Yes && unscaledLooking(syn, &f.Client):
		// analyze.BothDirections options passed the capture point, yet the client does not
		// scale: the SYN-ACK reached it without the option.
		return []Finding{r.finding(Error, High, analyze.BothDirections,
			fmt.Sprintf("the client announced shift %d, yet its first window after the handshake (%d) is its SYN's (%d) unscaled: "+
				"it believes scaling is off, so the SYN-ACK that reached it lacked the option this capture shows", syn.Opts.WScale,
				f.Client.Window.First, syn.Window),
			fmt.Sprintf("window scale removed from the SYN-ACK between this capture point and the client: the server scales the client's "+
				"windows by %d (reading up to %s), the client reads the server's windows unscaled", f.Client.Shift.Value,
				Bytes(uint64(f.Client.Shift.Value.Scale(f.Client.Window.Max)))),
			"Find the device between this capture point and the client that rewrites the SYN-ACK's options (firewall TCP "+
				"normalization, IPS, iptables TCPOPTSTRIP) and let it pass window scale. "+compareAtBothEnds,
			handshakeEvidence("SYN", syn), handshakeEvidence("SYN-ACK", ack), firstWindowEvidence("client", &f.Client))}
	}
	return nil
}

// synackStrip is the evidence that a device removed window scale from a
// SYN-ACK that lacks it, answering a SYN that offered it.
type synackStrip struct {
	trace  trace
	traced bool // the layout shows where the option stood
	// scales: the server's first window is its SYN-ACK window divided by
	// 2^k, so it applies a shift; over: it put more in flight than the
	// client's unscaled window allowed.
	k            capture.Shift
	scales, over bool
}

func (x synackStrip) disagree() bool { return x.scales || x.over }

// device reports evidence of a device: a trace in the layout, or a server
// whose behaviour contradicts its SYN-ACK.
func (x synackStrip) device() bool { return x.traced || x.disagree() }

func synackStripOf(f *analyze.Flow, ack *analyze.HandshakeSegment) synackStrip {
	var x synackStrip
	x.trace, x.traced = removalTrace(&ack.Opts)
	x.traced = x.traced && x.trace.fits(capture.HasWScale, sizeWScale)
	x.k, x.scales = divided(ack, &f.Server)
	x.over = f.Server.OverWindowPackets > 0
	return x
}

// synackWithoutWS judges a SYN that offered window scale answered by a
// SYN-ACK without it, when something shows a device removed the option
// (otherwise the server declined: wscale-declined).
func synackWithoutWS(f *analyze.Flow, r *Rule, syn, ack *analyze.HandshakeSegment) []Finding {
	x := synackStripOf(f, ack)
	if !x.device() {
		return nil
	}
	ev := []Evidence{handshakeEvidence("SYN", syn), handshakeEvidence("SYN-ACK", ack)}
	conf := Low
	why := "the SYN-ACK carries no option that dates its stack (an old or minimal stack, or Linux SYN cookies without timestamps, cannot scale)"
	if modern(&ack.Opts) {
		conf = Medium
		why = "the SYN-ACK carries SACK-permitted or timestamps, and every stack that does also implements window scaling"
	}
	if x.traced {
		conf, why = max(conf, x.trace.conf), x.trace.what
	}
	switch {
	case x.scales:
		conf = High
		why = fmt.Sprintf("the server's first window after the handshake (%d) is its SYN-ACK window (%d) divided by about 2^%d: "+
			"the server scales its windows, so it sent its SYN-ACK with the option; ", f.Server.Window.First, ack.Window, x.k) + why
		ev = append(ev, firstWindowEvidence("server", &f.Server))
	case x.over:
		conf = High
		why = fmt.Sprintf("the server put up to %s more in flight than the client's unscaled window allowed: it applies a shift "+
			"the SYN-ACK here does not show; ", Bytes(uint64(f.Server.MaxOverWindow))) + why
		ev = append(ev, Evidence{Packet: f.Server.FirstOverPacket, What: "first segment beyond the client's unscaled window"})
	}
	if _, vwhy := vantageOf(f); vwhy != "" {
		why += "; " + vwhy
	}
	sev := Warn
	summary := "window scale removed from the SYN-ACK between the server and this capture point: scaling is off and no window can exceed 64 KiB"
	if x.disagree() {
		sev = Error
		summary = "window scale removed from the SYN-ACK between the server and this capture point: the server scales, the client " +
			"does not, and each misreads the other's windows"
	}
	return []Finding{r.finding(sev, conf, analyze.BothDirections, why, summary,
		"Find the device between the server and this capture point that rewrites the SYN-ACK's options (firewall TCP "+
			"normalization, IPS, SYN proxy, iptables TCPOPTSTRIP) and let it pass option 3 (window scale). "+compareAtBothEnds,
		ev...)}
}

func wscaleZeroed(f *analyze.Flow, r *Rule) []Finding {
	if f.Negotiated.Scaling != analyze.Yes {
		return nil
	}
	var out []Finding
	for _, p := range sides(f) {
		if p.hs.Opts.WScale == 0 {
			if x, ok := zeroedInHandshake(r, p); ok {
				out = append(out, x)
			}
			continue
		}
		if x, ok := readUnscaled(f, r, p); ok {
			out = append(out, x)
		}
	}
	return out
}

// zeroedInHandshake: the side announced shift 0 as captured, but its
// windows say it scales them.
func zeroedInHandshake(r *Rule, p side) (Finding, bool) {
	k, scales := divided(p.hs, p.e)
	if !scales {
		// Its windows are bytes: shift 0 is its own choice (Linux with a
		// receive buffer locked below 64 KiB, Windows Server 2003), or
		// there are no windows to tell.
		return Finding{}, false
	}
	return r.finding(Error, High, p.in,
		fmt.Sprintf("its first window after the handshake (%d) is its %s window (%d) divided by about 2^%d: it applies a shift of "+
			"about %d although the option as captured says 0", p.e.Window.First, hsName(p), p.hs.Window, k, k),
		fmt.Sprintf("window scale shift of the %s rewritten to 0 between the %s and this capture point: the %s reads the %s's windows "+
			"%d times too small", p.name, p.name, p.peerName, p.name, 1<<k),
		fmt.Sprintf("Find the device between the %s and this capture point that rewrites the window scale option (firewall TCP "+
			"normalization, a load balancer's TCP profile) and make it pass the shift unchanged. %s", p.name, compareAtBothEnds),
		handshakeEvidence(hsName(p), p.hs), firstWindowEvidence(p.name, p.e)), true
}

// readUnscaled: the side's shift is above 0 as captured, but its peer
// sends as if it were 0.
func readUnscaled(f *analyze.Flow, r *Rule, p side) (Finding, bool) {
	s := p.peer // the sender, limited by p's windows
	if p.e.Shift.Basis != analyze.BasisNegotiated || p.e.Shift.Value < 2 || s.UnscaledJudged < 8 ||
		s.BeyondUnscaledPackets > 0 || s.FillUnscaledPackets*2 < s.UnscaledJudged {
		return Finding{}, false
	}
	conf, alt := High, ""
	if s.RetransPackets*10 > s.DataPackets || s.UnseenBytes > 0 {
		conf = Medium
		alt = "; data was also lost, so a firewall enforcing the unscaled window on this side of the capture point would look alike"
	}
	raw := p.e.Window.Max
	return r.finding(Error, conf, p.in,
		fmt.Sprintf("%d of its %d segments filled the %s's window field taken unscaled to the byte, none went beyond it, although the "+
			"negotiated shift %d makes the window up to %s%s", s.FillUnscaledPackets, s.UnscaledJudged, p.name, p.e.Shift.Value,
			Bytes(uint64(p.e.Shift.Value.Scale(raw))), alt),
		fmt.Sprintf("the %s ignores the %s's window scale: it never puts more than the raw window field (at most %d B) in flight; the "+
			"%s's window scale option reached it with shift 0, rewritten between this capture point and the %s", p.peerName, p.name, raw,
			p.name, p.peerName),
		fmt.Sprintf("Find the device between this capture point and the %s that rewrites the window scale option and make it pass "+
			"the shift unchanged. %s", p.peerName, compareAtBothEnds),
		handshakeEvidence(hsName(p), p.hs),
		Evidence{Packet: s.FirstFillUnscaledPacket, What: "first segment that fills exactly the unscaled window"}), true
}

// hsName names a side's handshake segment.
func hsName(p side) string {
	if p.name == "client" {
		return "SYN"
	}
	return "SYN-ACK"
}

func scaleUnknown(f *analyze.Flow, r *Rule) []Finding {
	if f.Negotiated.Scaling != analyze.Unknown {
		return nil
	}
	var out []Finding
	for _, p := range sides(f) {
		sh := p.e.Shift
		if p.e.Window.Samples == 0 || sh.Basis == analyze.BasisNegotiated {
			continue
		}
		why := "no SYN/SYN-ACK pair in the capture"
		if f.Handshake == analyze.HandshakeSYNOnly || f.Handshake == analyze.HandshakeSYNACKOnly {
			why = "only one half of the handshake was captured"
		}
		if sh.Basis == analyze.BasisInferred {
			out = append(out, r.finding(Info, Medium, p.in,
				why+"; the bound holds only if the capture saw every ACK",
				fmt.Sprintf("%s window scale unknown; data proves a shift of at least %d (%s in flight against a raw window of at most %d)",
					p.name, sh.Value, Bytes(uint64(p.peer.MaxInFlight)), p.e.Window.Max),
				"Capture the connection set-up (start the capture before the session connects) to see the negotiated shift.",
				Evidence{Packet: p.e.InferredPacket, What: "bytes in flight exceed the unscaled window"}))
			continue
		}
		out = append(out, r.finding(Info, High, p.in, why,
			fmt.Sprintf("%s window scale unknown: raw windows %d–%d cannot be scaled", p.name, p.e.Window.Min, p.e.Window.Max),
			"Capture the connection set-up (start the capture before the session connects) to see the negotiated shift."))
	}
	return out
}
