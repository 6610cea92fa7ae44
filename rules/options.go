package rules

import (
	"fmt"

	"rwin/analyze"
	"rwin/capture"
)

// The rules about the other negotiated options: SACK-permitted and
// timestamps removed from the handshake, and the MSS lowered on the way.

func sackStripped(f *analyze.Flow, r *Rule) []Finding {
	return optionStripped(f, r, capture.HasSACKPerm, sizeSACKPerm, "SACK-permitted",
		"Without SACK (RFC 2018) every loss in a window costs extra round trips.",
		"net.ipv4.tcp_sack", f.Client.SACKUnnegotiated+f.Server.SACKUnnegotiated)
}

func timestampsStripped(f *analyze.Flow, r *Rule) []Finding {
	return optionStripped(f, r, capture.HasTimestamp, sizeTimestamp, "timestamps",
		"Without timestamps (RFC 7323 §3) there is no PAWS protection and fewer RTT samples.",
		"net.ipv4.tcp_timestamps", f.Client.TSUnnegotiated+f.Server.TSUnnegotiated)
}

// optionStripped judges one option missing from half of the handshake.
// usedAnyway counts segments that carried the option later, which shows
// both stacks support it.
func optionStripped(f *analyze.Flow, r *Rule, opt capture.OptSet, size int, name, cost, sysctl string, usedAnyway uint64) []Finding {
	syn, ack := answeredSYN(f), &f.SYNACK
	if !syn.Seen || f.Handshake == analyze.HandshakeSimultaneous {
		return nil
	}
	used := ""
	if usedAnyway > 0 {
		used = fmt.Sprintf("; the option is used anyway on %d segments, so both stacks support it", usedAnyway)
	}
	switch {
	case !syn.Opts.Carries(opt):
		t, ok := removalTrace(&syn.Opts)
		if !ok || !t.fits(opt, size) {
			return nil
		}
		conf := t.conf
		if usedAnyway > 0 {
			conf = High
		}
		return []Finding{r.finding(Info, conf, analyze.BothDirections, t.what+used,
			fmt.Sprintf("%s removed from the client's SYN before this capture point. %s", name, cost),
			fmt.Sprintf("Find the device between the client and this capture point that rewrites TCP options and let it pass %s. %s",
				name, compareAtBothEnds),
			handshakeEvidence("SYN", syn))}
	case ack.Seen && !ack.Opts.Carries(opt):
		if t, ok := removalTrace(&ack.Opts); ok && t.fits(opt, size) {
			return []Finding{r.finding(Info, t.conf, analyze.BothDirections, t.what+used,
				fmt.Sprintf("%s removed from the SYN-ACK between the server and this capture point. %s", name, cost),
				fmt.Sprintf("Find the device between the server and this capture point that rewrites TCP options and let it pass %s. %s",
					name, compareAtBothEnds),
				handshakeEvidence("SYN", syn), handshakeEvidence("SYN-ACK", ack))}
		}
		if v, _ := vantageOf(f); v == nearServer && usedAnyway == 0 {
			return nil // the SYN arrived with it and the server declined: its setting, not a finding
		}
		conf := Low
		if usedAnyway > 0 {
			conf = Medium
		}
		return []Finding{r.finding(Info, conf, analyze.BothDirections,
			"only the answer lacks it: a server with it disabled (a common hardening) and a device that removes it from the SYN "+
				"beyond this capture point look alike from here"+used,
			fmt.Sprintf("%s offered by the client, absent from the SYN-ACK. %s", name, cost),
			fmt.Sprintf("Capture at the server: if the SYN arrives there without %s, a device strips it; otherwise the server has it "+
				"disabled (Linux: %s).", name, sysctl),
			handshakeEvidence("SYN", syn), handshakeEvidence("SYN-ACK", ack))}
	}
	return nil
}

// standardMSS is the MSS of a 1500-byte path: 1500 − 20 (IPv4) − 20 (TCP),
// or − 40 (IPv6) − 20.
func standardMSS(f *analyze.Flow) uint16 {
	if f.Client.Addr.Addr().Is4() || f.Client.Addr.Addr().Is4In6() {
		return 1460
	}
	return 1440
}

func mssClamped(f *analyze.Flow, r *Rule) []Finding {
	syn, ack := answeredSYN(f), &f.SYNACK
	std := standardMSS(f)
	low := func(hs *analyze.HandshakeSegment) bool {
		return hs.Seen && hs.Opts.Carries(capture.HasMSS) && hs.Opts.MSS < std && hs.Opts.MSS >= 536
	}
	advice := "Harmless when it matches the path's MTU (IPsec, GRE and PPPoE need it). If the path carries 1500-byte packets end " +
		"to end, find the clamp and raise it: iptables TCPMSS, Cisco IOS ip tcp adjust-mss, Cisco ASA sysopt connection tcpmss (1380 by default)."
	switch {
	case low(syn) && low(ack) && syn.Opts.MSS == ack.Opts.MSS:
		return []Finding{r.finding(Info, Medium, analyze.BothDirections,
			"two stacks rarely pick the same reduced value on their own; a device that clamps rewrites both",
			fmt.Sprintf("MSS %d on both SYN and SYN-ACK, below the %d of a 1500-byte path: a device on the path clamps it", syn.Opts.MSS, std),
			advice, handshakeEvidence("SYN", syn), handshakeEvidence("SYN-ACK", ack))}
	}
	var out []Finding
	for _, p := range sides(f) {
		// A segment captured before any router carries its sender's own
		// choice (its interface MTU); only one that crossed routers may
		// have been rewritten.
		if !low(p.hs) || hops(p.hs.TTL) == 0 {
			continue
		}
		out = append(out, r.finding(Info, Low, p.in,
			fmt.Sprintf("the %s crossed %d routers before this capture point; a %s link with a smaller MTU (VPN, PPPoE) looks the same",
				hsName(p), hops(p.hs.TTL), p.name),
			fmt.Sprintf("the %s's %s announces MSS %d, below the %d of a 1500-byte path: a tunnel or a clamping device", p.name, hsName(p),
				p.hs.Opts.MSS, std),
			advice, handshakeEvidence(hsName(p), p.hs)))
	}
	return out
}
