package rules

import (
	"fmt"

	"rwin/analyze"
	"rwin/capture"
)

// wscaleDeclined: the client offered window scale and the server's SYN-ACK
// answered without it, with nothing in the capture that places a device
// in between. RFC 7323 §1.3 lets a server decline; stacks whose admin
// turned scaling off do exactly this while still sending SACK-permitted
// and timestamps (Linux net.ipv4.tcp_window_scaling=0; Windows with
// autotuninglevel=disabled). A device that strips the SYN's option beyond
// this capture point looks the same from here, and the finding says how
// to tell.
func wscaleDeclined(f *analyze.Flow, r *Rule) []Finding {
	syn, ack := answeredSYN(f), &f.SYNACK
	if !hasWS(syn) || !ack.Seen || hasWS(ack) || f.Handshake == analyze.HandshakeSimultaneous ||
		proxied(f).found() || synackStripOf(f, ack).device() {
		return nil
	}
	who, advice := declinerOf(ack)
	conf, why := Low, "the SYN-ACK carries no option that dates its stack: an old or minimal stack that cannot scale, or Linux SYN "+
		"cookies without timestamps"
	if modern(&ack.Opts) {
		conf, why = Medium, "the SYN-ACK carries SACK-permitted or timestamps, so its stack implements scaling and was told not to use it"
	}
	v, vwhy := vantageOf(f)
	switch {
	case v == nearServer:
		conf = High
		why += "; " + vwhy + ": the SYN arrived with the option and the SYN-ACK left without it"
	case vwhy != "":
		why += "; " + vwhy
	}
	if v != nearServer {
		why += ". A device between this capture point and the server that strips the SYN's option (leaving no trace here) " +
			"would look alike"
	}
	// The cap bites once a direction has more to carry than 64 KiB.
	sev := Info
	if f.Client.UniqueBytes >= 0xffff || f.Server.UniqueBytes >= 0xffff {
		sev = Warn
	}
	summary := fmt.Sprintf("window scaling declined: the client offered shift %d and the server (%s) answered without the option, so "+
		"scaling is off both ways and no window can exceed 64 KiB", syn.Opts.WScale, who)
	return []Finding{r.finding(sev, conf, analyze.BothDirections, why, summary, advice,
		handshakeEvidence("SYN", syn), handshakeEvidence("SYN-ACK", ack))}
}

// declinerOf names the server that declined scaling and what to do on it,
// from its SYN-ACK's layout and initial TTL (p0f v3 signatures).
func declinerOf(ack *analyze.HandshakeSegment) (who, advice string) {
	const check = " If the server's setting is on, capture on the server: a SYN that arrives there without window scale (or " +
		"with NOPs in its place) was stripped on the way, by a device rwin diff of the two captures locates."
	l := &ack.Opts.Layout
	switch {
	case initialTTL(ack.TTL) == 128 && l.Is(capture.OptKindMSS, capture.OptKindNOP, capture.OptKindNOP, capture.OptKindSACKPerm):
		return "a Windows stack: receive window auto-tuning level disabled",
			"On the server: netsh int tcp show global shows the level; netsh int tcp set global autotuninglevel=normal restores " +
				"scaling. A file server at a low level caps every upload to it." + check
	case initialTTL(ack.TTL) == 64 && ack.Opts.Carries(capture.HasTimestamp):
		return "a Linux-like stack: net.ipv4.tcp_window_scaling=0",
			"On the server: sysctl net.ipv4.tcp_window_scaling=1 (and in /etc/sysctl.d to keep it); check the receive buffer " +
				"limits too (net.ipv4.tcp_rmem)." + check
	}
	return "stack unknown", "Enable window scaling on the server (Linux: sysctl net.ipv4.tcp_window_scaling=1; Windows: netsh int tcp " +
		"set global autotuninglevel=normal)." + check
}
