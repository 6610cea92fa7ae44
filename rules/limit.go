package rules

import (
	"fmt"
	"math"
	"time"

	"rwin/analyze"
	"rwin/capture"
)

// Which limit holds a transfer: the receive window (RWIN/RTT) or loss.
// Mathis et al. (1997): a Reno-style sender losing a share p of its
// segments averages at most MSS/RTT · C/√p, C = √(3/2). When loss sets
// the lower ceiling and the flow runs at it, a larger window would not
// help, and saying "window-limited" would send the user after the wrong
// fix.

// mathisC is √(3/2), the constant for periodic loss with delayed ACKs off.
var mathisC = math.Sqrt(1.5)

// LossCeiling returns the Mathis ceiling (bit/s) of s's transfer to r over
// rtt (ns) and the loss rate it used (s's retransmitted share of its data
// segments), ok false without loss or RTT (no ceiling).
func LossCeiling(f *analyze.Flow, s, r *analyze.Endpoint, rtt time.Duration) (bps, p float64, ok bool) {
	if s.RetransPackets == 0 || s.DataPackets == 0 || rtt <= 0 {
		return 0, 0, false
	}
	p = float64(s.RetransPackets) / float64(s.DataPackets)
	return analyze.BitRate(float64(segmentSize(f, r)), rtt) * mathisC / math.Sqrt(p), p, true
}

// segmentSize is the MSS r announced (what s may send it), else 1460.
func segmentSize(f *analyze.Flow, r *analyze.Endpoint) uint32 {
	hs := &f.SYNACK
	if r == &f.Client {
		hs = answeredSYN(f)
	}
	if hs.Seen && hs.Opts.Carries(capture.HasMSS) && hs.Opts.MSS > 0 {
		return uint32(hs.Opts.MSS)
	}
	return 1460
}

// windowContradicted reports a transfer whose own figures say the window
// did not hold it, with the reason: the rate needs less than one segment
// of window per round trip, or, seen next to the sender (where bytes in
// flight are measured), no segment ever came near the window.
func windowContradicted(f *analyze.Flow, p side, t transfer) (string, bool) {
	if need := windowFor(t.rate, t.rtt); need < uint64(segmentSize(f, p.e)) {
		return fmt.Sprintf("the rate needs a window of only %s", Bytes(need)), true
	}
	v, _ := vantageOf(f)
	nearSender := (p.name == "client" && v == nearServer) || (p.name == "server" && v == nearClient)
	if nearSender && t.atShare == 0 && !t.peak {
		return "next to the sender no data segment came within one MSS of the window", true
	}
	return "", false
}

// lossLimited reports the transfer as held by loss rather than the window,
// when the Mathis ceiling is the lower one and the flow runs near it.
func lossLimited(f *analyze.Flow, r *Rule, p side, t transfer) (Finding, bool) {
	s := p.peer
	lc, loss, ok := lossBinds(f, p, t)
	if !ok {
		return Finding{}, false
	}
	return r.finding(Warn, Medium, p.in,
		fmt.Sprintf("%d of %d data segments were retransmitted (%.1f %%): the Mathis ceiling MSS/RTT·√(3/2)/√p is %s, below the "+
			"RWIN/RTT ceiling of %s, and the transfer ran at %.0f%% of it", s.RetransPackets, s.DataPackets, 100*loss, Rate(lc),
			Rate(t.ceiling), 100*t.rate/lc),
		fmt.Sprintf("%s transfer held by loss, not by the window: %s achieved, loss ceiling %s, window ceiling %s (median window %s "+
			"over RTT %s); a larger window would not make it faster", p.in, Rate(t.rate), Rate(lc), Rate(t.ceiling), Bytes(t.window),
			Duration(t.rtt)),
		"Find where the segments are lost: a congested or policed link, a duplex mismatch, a bad cable or Wi-Fi. A capture at the "+
			"other end (rwin diff) shows whether the loss is on the path between the two points.",
		Evidence{Packet: p.e.Window.FirstPacket, Time: p.e.Window.FirstTime, What: fmt.Sprintf("%s's first window field: %d (raw, before scaling)", p.name, p.e.Window.First)}), true
}

// lossBinds returns the loss ceiling of p's incoming transfer and the loss
// rate, ok when that ceiling is below the window's and the flow runs near
// it.
func lossBinds(f *analyze.Flow, p side, t transfer) (ceiling, loss float64, ok bool) {
	lc, loss, ok := LossCeiling(f, p.peer, p.e, t.rtt)
	// Mathis et al. model a congestion window that loss keeps below the
	// receive window. A sender seen to sit at the window for half its
	// segments or more was held by the window, whatever the model says
	// of a few stray losses.
	if !ok || lc >= t.ceiling || t.rate > 1.25*lc || t.rate < 0.5*lc || t.atShare >= 0.5 {
		return 0, 0, false
	}
	return lc, loss, true
}

func lossLimitedRule(f *analyze.Flow, r *Rule) []Finding {
	var out []Finding
	for _, p := range sides(f) {
		if t, ok := transferOf(f, p.peer, p.e); ok && p.e.ZeroWindows == 0 {
			if x, ok := lossLimited(f, r, p, t); ok {
				out = append(out, x)
			}
		}
	}
	return out
}
