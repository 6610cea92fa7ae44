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
	syn := &f.SYN // the level shows in the first SYN; Windows drops WS only from its third try
	if !syn.Seen || !windowsSYN(syn) {
		return nil
	}
	level, cap := "disabled", uint64(0xffff)
	if hasWS(syn) {
		if syn.Opts.WScale == normalShift {
			return nil
		}
		name, ok := autotuningLevels[syn.Opts.WScale]
		if !ok {
			return nil // no level announces it: an application's buffer or a rewrite, not the setting
		}
		level, cap = name, uint64(syn.Opts.WScale.Scale(0xffff))
	}
	conf, why := High, fmt.Sprintf("the SYN has Windows' option layout (%s) and initial TTL 128", syn.Opts.Layout)
	if initialTTL(syn.TTL) != 128 {
		conf, why = Medium, fmt.Sprintf("the SYN has Windows' option layout (%s), but its TTL %d is not Windows' 128", syn.Opts.Layout, syn.TTL)
	}
	sev := Info
	summary := fmt.Sprintf("Windows client at receive window auto-tuning level %s: its receive window can never exceed %s", level, Bytes(cap))
	if level == "disabled" {
		// Windows XP and Server 2003 have no auto-tuning and do not offer
		// scaling by default: their SYN looks the same.
		conf = min(conf, Medium)
		why += "; Windows XP and Server 2003, which have no auto-tuning and do not offer scaling by default, send the same SYN"
		summary = "Windows client without window scaling (auto-tuning level disabled, or a Windows XP/2003 stack): its receive window can never exceed 64 KiB"
	}
	if level == "experimental" {
		summary = "Windows client at receive window auto-tuning level experimental (shift 14): windows up to 1 GiB, a level meant for tests"
	}
	if t, ok := transferOf(f, &f.Server, &f.Client); ok && t.capped() && t.peakWin*10 >= cap*9 {
		sev = Warn
		summary += fmt.Sprintf(", and that cap limits this flow: server-to-client %s against a ceiling of %s at RTT %s; level normal "+
			"(shift 8, up to 16 MiB) would raise the ceiling to %s", Rate(t.rate), Rate(t.ceiling), Duration(t.rtt),
			Rate(float64(capture.Shift(normalShift).Scale(0xffff))*8/(float64(t.rtt)/1e9)))
	}
	return []Finding{r.finding(sev, conf, ServerToClient, why, summary,
		"On the client: netsh int tcp show global shows the level; netsh int tcp set global autotuninglevel=normal restores the "+
			"default. If Windows lowered it by itself, its scaling heuristics did: netsh int tcp set heuristics disabled. Group "+
			"policy or a \"TCP optimizer\" tool may have set it.",
		handshakeEvidence("SYN", syn))}
}
