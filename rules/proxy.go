package rules

import (
	"fmt"
	"strings"
	"time"

	"rwin/analyze"
	"rwin/capture"
)

// proxyEvidence is what shows that the SYN-ACK did not come from the server.
type proxyEvidence struct {
	signs    []string
	ev       []Evidence
	strong   int  // independent signs that alone point at another sender
	timing   bool // the handshake completed faster than the far end can answer
	mismatch string
	// behind: the signs come from the client's side of a capture taken
	// behind the proxy, whose SYN-ACK is the server's own.
	behind bool
}

// found reports enough evidence to name a SYN proxy: one strong sign, or
// the handshake timing together with ends that disagree about scaling.
func (p proxyEvidence) found() bool { return p.strong > 0 || (p.timing && p.mismatch != "") }

// maxTSRate bounds a timestamp clock: RFC 7323 §5.4 allows 1 ms to 1 s per
// tick, so a clock advances at most 1000 ticks per second (plus slack for
// the coarse clocks of the capture).
const maxTSRate = 1000

// proxied collects the signs of a SYN proxy: a device that answers the
// client's SYN itself (SYN-flood protection: F5 BIG-IP SYN cookies, Check
// Point SYNDefender, Linux SYNPROXY) and only then connects to the server,
// whose own segments follow.
func proxied(f *analyze.Flow) proxyEvidence {
	var p proxyEvidence
	ack, after := &f.SYNACK, &f.Server.AfterHandshake
	if !ack.Seen || !after.Seen || f.Handshake == analyze.HandshakeSimultaneous {
		return p
	}
	if ttlClassDiffers(ack.TTL, after.TTL) {
		p.strong++
		p.signs = append(p.signs, fmt.Sprintf("the SYN-ACK has TTL %d (initial %d), the server's later segments %d (initial %d)",
			ack.TTL, initialTTL(ack.TTL), after.TTL, initialTTL(after.TTL)))
		p.ev = append(p.ev, Evidence{Packet: after.Packet, Time: after.Time, What: fmt.Sprintf("server's first segment after the handshake: TTL %d", after.TTL)})
	}
	// Windows sends TSval 0 on its SYN-ACK: no clock to compare.
	if ack.Opts.Carries(capture.HasTimestamp) && ack.Opts.TSVal != 0 && after.HasTS {
		d := int64(int32(after.TSVal - ack.Opts.TSVal))
		elapsed := (after.Time - ack.Time) / int64(time.Millisecond)
		if d < 0 || d > 2*maxTSRate*elapsed/1000+maxTSRate {
			p.strong++
			p.signs = append(p.signs, fmt.Sprintf("the timestamp clock jumps from %d on the SYN-ACK to %d on the server's next segment %s later",
				ack.Opts.TSVal, after.TSVal, Duration(time.Duration(after.Time-ack.Time))))
			p.ev = append(p.ev, Evidence{Packet: after.Packet, Time: after.Time, What: fmt.Sprintf("server's first timestamp after the handshake: %d", after.TSVal)})
		}
	}
	if f.Client.ForeignTSEcr > 0 {
		p.strong++
		p.behind = true
		p.signs = append(p.signs, fmt.Sprintf("the client echoes timestamps far from any the server sent (%d segments): it got them from another clock",
			f.Client.ForeignTSEcr))
		p.ev = append(p.ev, Evidence{Packet: f.Client.FirstForeignTSEcr, What: "client echoes a timestamp the server never sent"})
	}
	// The handshake ACK came back far sooner than the client acknowledges
	// data (with enough samples that delayed ACKs do not hide the RTT): a
	// device near the server completed the handshake for the client.
	if s := f.Server.RTT; f.ClientRTT > 0 && s.Samples >= 4 && f.ClientRTT*10 < s.Min && s.Min-f.ClientRTT > 5*time.Millisecond {
		p.timing, p.behind = true, true
		p.ev = append(p.ev, Evidence{Packet: f.HandshakeACKPacket, What: fmt.Sprintf("handshake ACK %s after the SYN-ACK", Duration(f.ClientRTT))})
		p.signs = append(p.signs, fmt.Sprintf("the handshake's last ACK came %s after the SYN-ACK, while the client takes at least %s to acknowledge data",
			Duration(f.ClientRTT), Duration(s.Min)))
	}
	syn := answeredSYN(f)
	switch k, scales := divided(ack, &f.Server); {
	case hasWS(syn) && !hasWS(ack) && scales:
		p.mismatch = fmt.Sprintf("the SYN-ACK lacks window scale, yet the server divides its windows by about 2^%d: it negotiated scaling with the client's own SYN", k)
	case hasWS(syn) && !hasWS(ack) && f.Server.OverWindowPackets > 0:
		p.mismatch = fmt.Sprintf("the SYN-ACK lacks window scale, yet the server puts up to %s more in flight than the client's unscaled window: it applies the client's shift",
			Bytes(uint64(f.Server.MaxOverWindow)))
	case f.Negotiated.Scaling == analyze.Yes && unscaledLooking(syn, &f.Client):
		p.mismatch = fmt.Sprintf("the client announced shift %d but advertises unscaled windows (%d): the SYN-ACK it got lacked window scale",
			syn.Opts.WScale, f.Client.Window.First)
	}
	return p
}

func synProxy(f *analyze.Flow, r *Rule) []Finding {
	p := proxied(f)
	if !p.found() {
		return nil
	}
	conf := Medium
	if p.strong >= 2 || (p.strong >= 1 && (p.mismatch != "" || p.timing)) {
		conf = High
	}
	sev := Warn
	summary := "the SYN-ACK was not sent by the server: a SYN proxy answered the handshake in its name"
	look := "A capture behind the device, at the server, shows the server's own SYN-ACK for comparison (rwin diff)."
	if p.behind {
		summary = "a SYN proxy between the client and this capture point answered the client's handshake in the server's name; " +
			"the server's SYN-ACK seen here never reached the client"
		look = "A capture in front of the device, at the client, shows the SYN-ACK the client got (rwin diff)."
	}
	why := strings.Join(p.signs, "; ")
	if p.mismatch != "" {
		sev = Error
		why += "; " + p.mismatch
		summary += "; the proxy's SYN-ACK lacked the window scale option the server negotiated, so the two ends disagree about " +
			"scaling and each misreads the other's windows"
	}
	if f.Server.MaxStall >= stallLimit && f.Client.ZeroWindows == 0 {
		sev = Error
		summary += fmt.Sprintf("; the server's data stalled for %s", Duration(f.Server.MaxStall))
	}
	ev := append([]Evidence{handshakeEvidence("SYN", answeredSYN(f)), handshakeEvidence("SYN-ACK", &f.SYNACK)}, p.ev...)
	return []Finding{r.finding(sev, conf, analyze.BothDirections, why, summary,
		"Look at the SYN-flood protection (SYN cookies, SYN proxy) of the load balancer or firewall in front of the server: its "+
			"SYN-ACK must carry the options the server will use — window scale above all — or the protection must be off for "+
			"this service. "+look,
		ev...)}
}
