package rules

import (
	"fmt"

	"rwin/analyze"
	"rwin/capture"
)

func wscaleInvalid(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, hs := range []struct {
		seg  *analyze.HandshakeSegment
		name string
		dir  analyze.Direction
	}{{&f.AnsweredSYN, "SYN", analyze.ServerToClient}, {&f.SYNACK, "SYN-ACK", analyze.ClientToServer}} {
		o := &hs.seg.Opts
		if !hs.seg.Seen || !o.Carries(capture.HasWScale) || o.WScale <= capture.MaxShift {
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
	for _, p := range sides(f) {
		if p.e.WScaleOnNonSYN == 0 {
			continue
		}
		out = append(out, r.finding(Info, High, p.out, "the option is in the packets",
			fmt.Sprintf("%s sent window scale on %d non-SYN segments (ignored per RFC 7323 §2.2)", p.name, p.e.WScaleOnNonSYN),
			"Harmless to conforming peers; look for a device that inserts or replays options.",
			Evidence{Packet: p.e.FirstWScaleOnNonSYN, What: "first non-SYN segment with window scale"}))
	}
	return out
}

func optionMalformed(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, p := range sides(f) {
		if p.e.OptionIssues == 0 {
			continue
		}
		out = append(out, r.finding(Warn, High, p.out, "the malformed bytes are in the packets",
			fmt.Sprintf("%s sent %d segments with malformed options; first: %s", p.name, p.e.OptionIssues, p.e.FirstOptionIssue),
			"Options after the fault are lost to the receiver; capture at the sender to see whether a middlebox corrupts them.",
			Evidence{Packet: p.e.FirstOptionIssuePacket, What: p.e.FirstOptionIssue.String()}))
	}
	return out
}

func sackUnnegotiated(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, p := range sides(f) {
		if p.e.SACKUnnegotiated == 0 {
			continue
		}
		out = append(out, r.finding(Warn, Medium, p.out, "the handshake shows SACK-permitted missing; a middlebox may have stripped it",
			fmt.Sprintf("%s sent SACK blocks on %d segments without SACK-permitted in the handshake", p.name, p.e.SACKUnnegotiated),
			"Compare the SYN/SYN-ACK options with a capture at the other end: if they carried SACK-permitted there, a middlebox strips it.",
			Evidence{Packet: p.e.FirstSACKUnneg, What: "first SACK block"}))
	}
	return out
}

func timestampsUnnegotiated(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, p := range sides(f) {
		if p.e.TSUnnegotiated == 0 {
			continue
		}
		out = append(out, r.finding(Warn, Medium, p.out, "the handshake shows timestamps missing; a middlebox may have stripped them",
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
	lostWS := first.Carries(capture.HasWScale) && !used.Carries(capture.HasWScale) && f.SYNACK.Seen
	if lostWS {
		return []Finding{r.finding(Warn, High, analyze.BothDirections, "the SYN-ACK answers a retry that lacks window scale",
			fmt.Sprintf("SYN retried %d times; the answered retry dropped window scale (%s → %s), so the connection runs unscaled",
				f.SYNs, first.Layout, used.Layout),
			"The first SYNs were lost: find out why (a firewall dropping SYNs, a slow SYN proxy). Until then every window is capped at 64 KiB.",
			Evidence{Packet: f.SYN.Packet, Time: f.SYN.Time, What: "first SYN: " + first.Layout.String()},
			Evidence{Packet: f.AnsweredSYN.Packet, Time: f.AnsweredSYN.Time, What: "answered SYN: " + used.Layout.String()})}
	}
	return []Finding{r.finding(Info, High, analyze.BothDirections, "the SYN retries are in the capture",
		fmt.Sprintf("SYN retried %d times with changed options (%s → %s)", f.SYNs, first.Layout, used.Layout),
		"Retries mean the first SYNs went unanswered: look for loss or filtering on the path.",
		Evidence{Packet: f.SYN.Packet, Time: f.SYN.Time, What: "first SYN: " + first.Layout.String()},
		Evidence{Packet: f.AnsweredSYN.Packet, Time: f.AnsweredSYN.Time, What: "last SYN: " + used.Layout.String()})}
}
