package rules

import (
	"fmt"
	"time"

	"rwin/analyze"
	"rwin/capture"
)

// catalog lists every rule in the order findings of equal severity are
// reported.
var catalog = []*Rule{
	{
		ID: "scale-unknown", Name: "Window scale unknown", Severity: Info,
		Doc: "The capture holds no SYN/SYN-ACK pair that settles window scaling, so raw window fields cannot be turned " +
			"into real windows. When the data proves a lower bound (a sender kept more bytes in flight than the " +
			"unscaled window allowed), the inferred minimum shift is reported.",
		check: scaleUnknown,
	},
	{
		ID: "wscale-invalid", Name: "Window scale shift above 14", Severity: Warn,
		Doc: "A SYN or SYN-ACK announced a shift above 14. RFC 7323 §2.3 makes the receiver use 14; stacks and " +
			"middleboxes that do not clamp compute a different window than the sender meant.",
		check: wscaleInvalid,
	},
	{
		ID: "wscale-non-syn", Name: "Window scale option outside the handshake", Severity: Info,
		Doc: "A segment without SYN carried the window scale option. RFC 7323 §2.2 says to ignore it; it suggests a " +
			"crafted packet or a middlebox that inserts options.",
		check: wscaleNonSYN,
	},
	{
		ID: "option-malformed", Name: "Malformed TCP option", Severity: Warn,
		Doc: "An option's length byte is wrong for its kind, below 2, or runs past the TCP header. Receivers drop " +
			"or misparse such options; the option that follows may be lost.",
		check: optionMalformed,
	},
	{
		ID: "sack-unnegotiated", Name: "SACK blocks without SACK-permitted", Severity: Warn,
		Doc: "SACK blocks were sent although the handshake in the capture shows SACK-permitted missing on one side " +
			"(RFC 2018 §2): a peer that did not agree ignores them, or a middlebox stripped SACK-permitted.",
		check: sackUnnegotiated,
	},
	{
		ID: "timestamps-unnegotiated", Name: "Timestamps without negotiation", Severity: Warn,
		Doc: "Timestamp options were sent although the handshake in the capture shows one side without them " +
			"(RFC 7323 §3.2 forbids it): a middlebox stripped them from the handshake only, or a stack misbehaves.",
		check: timestampsUnnegotiated,
	},
	{
		ID: "syn-options-changed", Name: "SYN retry changed options", Severity: Warn,
		Doc: "The client retried its SYN with other options. Windows drops window scale on its third try and macOS " +
			"drops scale and timestamps after several: when the SYN-ACK answers such a retry, the connection runs " +
			"unscaled although both stacks support scaling. The first SYN was lost or unanswered.",
		check: synOptionsChanged,
	},
	{
		ID: "zero-window", Name: "Zero window", Severity: Warn,
		Doc: "A receiver advertised a zero window: its application did not read fast enough and the sender had to " +
			"stop. Episodes, their total duration and the first advertisement are reported.",
		check: zeroWindow,
	},
}

// endpoints pairs each endpoint with the direction its windows limit.
func endpoints(f *analyze.Flow) [2]struct {
	e    *analyze.Endpoint
	name string
	dir  Direction // direction of the data the endpoint's windows limit
	sent Direction // direction of the data the endpoint sends
} {
	return [2]struct {
		e    *analyze.Endpoint
		name string
		dir  Direction
		sent Direction
	}{
		{&f.Client, "client", ServerToClient, ClientToServer},
		{&f.Server, "server", ClientToServer, ServerToClient},
	}
}

func scaleUnknown(f *analyze.Flow, r *Rule) []Finding {
	if f.Negotiated.Scaling != analyze.Unknown {
		return nil
	}
	var out []Finding
	for _, p := range endpoints(f) {
		sh := p.e.Shift
		if p.e.Window.Samples == 0 || sh.Basis == analyze.BasisNegotiated {
			continue
		}
		why := "no SYN/SYN-ACK pair in the capture"
		if f.Handshake == analyze.HandshakeSYNOnly || f.Handshake == analyze.HandshakeSYNACKOnly {
			why = "only one half of the handshake was captured"
		}
		if sh.Basis == analyze.BasisInferred {
			peer := f.Peer(p.e)
			out = append(out, r.finding(Info, Medium, p.dir,
				why+"; the bound holds only if the capture saw every ACK",
				fmt.Sprintf("%s window scale unknown; data proves a shift of at least %d (%s in flight against a raw window of at most %d)",
					p.name, sh.Value, Bytes(uint64(peer.MaxInFlight)), p.e.Window.Max),
				"Capture the connection set-up (start the capture before the session connects) to see the negotiated shift.",
				Evidence{Packet: p.e.InferredPacket, What: "bytes in flight exceed the unscaled window"}))
			continue
		}
		out = append(out, r.finding(Info, High, p.dir, why,
			fmt.Sprintf("%s window scale unknown: raw windows %d–%d cannot be scaled", p.name, p.e.Window.Min, p.e.Window.Max),
			"Capture the connection set-up (start the capture before the session connects) to see the negotiated shift."))
	}
	return out
}

func wscaleInvalid(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, hs := range []struct {
		seg  *analyze.HandshakeSegment
		name string
		dir  Direction
	}{{&f.AnsweredSYN, "SYN", ServerToClient}, {&f.SYNACK, "SYN-ACK", ClientToServer}} {
		o := &hs.seg.Opts
		if !hs.seg.Seen || o.Has&capture.HasWScale == 0 || o.WScale <= capture.MaxShift {
			continue
		}
		out = append(out, r.finding(Warn, High, hs.dir, "the option is in the packet",
			fmt.Sprintf("%s announces window scale shift %d; RFC 7323 §2.3 caps it at 14", hs.name, o.WScale),
			"Find the stack or middlebox that writes this value; rwin applies 14 as the RFC requires, other devices may not.",
			Evidence{Packet: hs.seg.Packet, Time: hs.seg.Time, What: fmt.Sprintf("wscale %d", o.WScale)}))
	}
	return out
}

func wscaleNonSYN(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, p := range endpoints(f) {
		if p.e.WScaleOnNonSYN == 0 {
			continue
		}
		out = append(out, r.finding(Info, High, p.sent, "the option is in the packets",
			fmt.Sprintf("%s sent window scale on %d non-SYN segments (ignored per RFC 7323 §2.2)", p.name, p.e.WScaleOnNonSYN),
			"Harmless to conforming peers; look for a device that inserts or replays options.",
			Evidence{Packet: p.e.FirstWScaleOnNonSYN, What: "first non-SYN segment with window scale"}))
	}
	return out
}

func optionMalformed(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, p := range endpoints(f) {
		if p.e.OptionIssues == 0 {
			continue
		}
		out = append(out, r.finding(Warn, High, p.sent, "the malformed bytes are in the packets",
			fmt.Sprintf("%s sent %d segments with malformed options; first: %s", p.name, p.e.OptionIssues, p.e.FirstOptionIssue),
			"Options after the fault are lost to the receiver; capture at the sender to see whether a middlebox corrupts them.",
			Evidence{Packet: p.e.FirstOptionIssuePacket, What: p.e.FirstOptionIssue.String()}))
	}
	return out
}

func sackUnnegotiated(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, p := range endpoints(f) {
		if p.e.SACKUnnegotiated == 0 {
			continue
		}
		out = append(out, r.finding(Warn, Medium, p.sent, "the handshake shows SACK-permitted missing; a middlebox may have stripped it",
			fmt.Sprintf("%s sent SACK blocks on %d segments without SACK-permitted in the handshake", p.name, p.e.SACKUnnegotiated),
			"Compare the SYN/SYN-ACK options with a capture at the other end: if they carried SACK-permitted there, a middlebox strips it.",
			Evidence{Packet: p.e.FirstSACKUnneg, What: "first SACK block"}))
	}
	return out
}

func timestampsUnnegotiated(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, p := range endpoints(f) {
		if p.e.TSUnnegotiated == 0 {
			continue
		}
		out = append(out, r.finding(Warn, Medium, p.sent, "the handshake shows timestamps missing; a middlebox may have stripped them",
			fmt.Sprintf("%s sent timestamps on %d segments although the handshake did not negotiate them", p.name, p.e.TSUnnegotiated),
			"Compare the SYN/SYN-ACK options with a capture at the other end: if they carried timestamps there, a middlebox strips them.",
			Evidence{Packet: p.e.FirstTSUnneg, What: "first segment with timestamps"}))
	}
	return out
}

func synOptionsChanged(f *analyze.Flow, r *Rule) []Finding {
	if !f.SYNChanged {
		return nil
	}
	first, used := &f.SYN.Opts, &f.AnsweredSYN.Opts
	lostWS := first.Has&capture.HasWScale != 0 && used.Has&capture.HasWScale == 0 && f.SYNACK.Seen
	if lostWS {
		return []Finding{r.finding(Warn, High, Both, "the SYN-ACK answers a retry that lacks window scale",
			fmt.Sprintf("SYN retried %d times; the answered retry dropped window scale (%s → %s), so the connection runs unscaled",
				f.SYNs, first.Layout, used.Layout),
			"The first SYNs were lost: find out why (a firewall dropping SYNs, a slow SYN proxy). Until then every window is capped at 64 KiB.",
			Evidence{Packet: f.SYN.Packet, Time: f.SYN.Time, What: "first SYN: " + first.Layout.String()},
			Evidence{Packet: f.AnsweredSYN.Packet, Time: f.AnsweredSYN.Time, What: "answered SYN: " + used.Layout.String()})}
	}
	return []Finding{r.finding(Info, High, Both, "the SYN retries are in the capture",
		fmt.Sprintf("SYN retried %d times with changed options (%s → %s)", f.SYNs, first.Layout, used.Layout),
		"Retries mean the first SYNs went unanswered: look for loss or filtering on the path.",
		Evidence{Packet: f.SYN.Packet, Time: f.SYN.Time, What: "first SYN: " + first.Layout.String()},
		Evidence{Packet: f.AnsweredSYN.Packet, Time: f.AnsweredSYN.Time, What: "last SYN: " + used.Layout.String()})}
}

func zeroWindow(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	dur := f.End - f.Start
	for _, p := range endpoints(f) {
		if p.e.ZeroWindows == 0 {
			continue
		}
		sev := Info
		// A stall of a second, or of a tenth of the flow, is felt by users.
		if p.e.ZeroTime >= int64(time.Second) || (dur > 0 && p.e.ZeroTime*10 >= dur) {
			sev = Warn
		}
		out = append(out, r.finding(sev, High, p.dir, "the zero windows are in the packets",
			fmt.Sprintf("%s advertised a zero window %d times in %d episodes, %s in total", p.name, p.e.ZeroWindows,
				p.e.ZeroEpisodes, Duration(p.e.ZeroTime)),
			fmt.Sprintf("The %s's application stopped reading; look at its load (CPU, disk, a blocked RDP/SMB client) rather than the network.", p.name),
			Evidence{Packet: p.e.FirstZeroPacket, What: "first zero-window advertisement"}))
	}
	return out
}

// Bytes renders a byte count with a binary unit: "64 KiB", "1.5 MiB".
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), 0
	// Move up a unit also when rounding would print "1024.0".
	for v >= unit-0.05 && u < 4 {
		v /= unit
		u++
	}
	suffix := [...]string{"B", "KiB", "MiB", "GiB", "TiB"}[u]
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}

// Duration renders nanoseconds for humans: "41.2 ms", "3.1 s".
func Duration(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
