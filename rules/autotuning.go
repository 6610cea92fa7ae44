package rules

import (
	"fmt"

	"rwin/analyze"
	"rwin/capture"
)

// Windows receive window auto-tuning levels and the shift each announces
// (netsh int tcp set global autotuninglevel=…): the level caps the receive
// window at 65535 << shift, or at 65535 without the option.
var autotuningLevels = map[capture.Shift]string{
	4:  "restricted",
	2:  "highlyrestricted",
	14: "experimental",
}

const normalShift = 8 // autotuninglevel=normal, the default since Vista

// windowsSYN reports a SYN in Windows' layout: mss,nop,ws,nop,nop,sok with
// the option, mss,nop,nop,sok without it (p0f v3). The second is also
// Linux's layout with only SACK enabled, so it counts only with Windows'
// initial TTL of 128.
func windowsSYN(hs *analyze.HandshakeSegment) bool {
	l := &hs.Opts.Layout
	switch {
	case l.Is(capture.OptKindMSS, capture.OptKindNOP, capture.OptKindWScale, capture.OptKindNOP, capture.OptKindNOP, capture.OptKindSACKPerm):
		return true
	case l.Is(capture.OptKindMSS, capture.OptKindNOP, capture.OptKindNOP, capture.OptKindSACKPerm):
		return initialTTL(hs.TTL) == 128
	}
	return false
}

func autotuningLevel(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	// The client's level shows in its first SYN: Windows drops WS only
	// from its third try.
	if x, ok := windowsLevel(f, r, &f.SYN, "client", &f.Server, &f.Client, analyze.ServerToClient); ok {
		out = append(out, x)
	}
	// The server's shows in its SYN-ACK, when the SYN offered scaling (a
	// SYN-ACK answers a SYN without it without the option, whatever the
	// level). Disabled is wscale-declined's, which names the level.
	if hasWS(answeredSYN(f)) && hasWS(&f.SYNACK) {
		if x, ok := windowsLevel(f, r, &f.SYNACK, "server", &f.Client, &f.Server, analyze.ClientToServer); ok {
			out = append(out, x)
		}
	}
	return out
}

// windowsLevel reports the auto-tuning level a Windows endpoint's SYN or
// SYN-ACK hs announces: s sends the data that endpoint e receives, in
// direction dir.
func windowsLevel(f *analyze.Flow, r *Rule, hs *analyze.HandshakeSegment, name string, s, e *analyze.Endpoint, dir analyze.Direction) (Finding, bool) {
	if !hs.Seen || !windowsSYN(hs) {
		return Finding{}, false
	}
	seg := "SYN"
	if name == "server" {
		seg = "SYN-ACK"
	}
	level, cap := "disabled", uint64(0xffff)
	if hasWS(hs) {
		if hs.Opts.WScale == normalShift {
			return Finding{}, false
		}
		lv, ok := autotuningLevels[hs.Opts.WScale]
		if !ok {
			return Finding{}, false // no level announces it: an application's buffer or a rewrite, not the setting
		}
		level, cap = lv, uint64(hs.Opts.WScale.Scale(0xffff))
	}
	conf, why := High, fmt.Sprintf("the %s has Windows' option layout (%s) and initial TTL 128", seg, hs.Opts.Layout)
	if initialTTL(hs.TTL) != 128 {
		conf, why = Medium, fmt.Sprintf("the %s has Windows' option layout (%s), but its TTL %d is not Windows' 128", seg, hs.Opts.Layout, hs.TTL)
	}
	sev := Info
	summary := fmt.Sprintf("Windows %s at receive window auto-tuning level %s: its receive window can never exceed %s", name, level, Bytes(cap))
	switch level {
	case "disabled":
		// Windows XP and Server 2003 have no auto-tuning and do not offer
		// scaling by default: their SYN looks the same.
		conf = min(conf, Medium)
		why += "; Windows XP and Server 2003, which have no auto-tuning and do not offer scaling by default, send the same SYN"
		summary = fmt.Sprintf("Windows %s without window scaling (auto-tuning level disabled, or a Windows XP/2003 stack): its "+
			"receive window can never exceed 64 KiB", name)
	case "experimental":
		summary = fmt.Sprintf("Windows %s at receive window auto-tuning level experimental (shift 14): windows up to 1 GiB, a level "+
			"meant for tests", name)
	}
	if name == "server" && level != "experimental" {
		summary += "; every upload to it is capped accordingly"
	}
	if t, ok := transferOf(f, s, e); ok && t.capped() && t.peakWin*10 >= cap*9 {
		sev = Warn
		summary += fmt.Sprintf(", and that cap limits this flow: %s %s against a ceiling of %s at RTT %s; level normal "+
			"(shift 8, up to 16 MiB) would raise the ceiling to %s", dir, Rate(t.rate), Rate(t.ceiling), Duration(t.rtt),
			Rate(analyze.BitRate(float64(capture.Shift(normalShift).Scale(0xffff)), t.rtt)))
	}
	return r.finding(sev, conf, dir, why, summary,
		fmt.Sprintf("On the %s: netsh int tcp show global shows the level; netsh int tcp set global autotuninglevel=normal restores the "+
			"default. If Windows lowered it by itself, its scaling heuristics did: netsh int tcp set heuristics disabled. Group "+
			"policy or a \"TCP optimizer\" tool may have set it.", name),
		handshakeEvidence(seg, hs)), true
}
