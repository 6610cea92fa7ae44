package rules

import (
	"fmt"
	"time"

	"rwin/analyze"
)

// Connection set-up and tear-down as users feel them: a connect that
// hangs for seconds (a SYN or SYN-ACK lost and retried), one that never
// completes, one refused, one reset.

// slowSetup: the handshake completed only after retries.
func slowSetup(f *analyze.Flow, r *Rule) []Finding {
	if !f.SYN.Seen || !f.SYNACK.Seen || f.Handshake == analyze.HandshakeSimultaneous || (f.SYNs < 2 && f.SYNACKs < 2) {
		return nil
	}
	ev := []Evidence{{Packet: f.SYN.Packet, Time: f.SYN.Time, What: "first SYN"}}
	var parts []string
	delay := time.Duration(f.SYNACK.Time - f.SYN.Time)
	if f.SYNs > 1 {
		parts = append(parts, fmt.Sprintf("the client sent its SYN %d times%s", f.SYNs, retrySchedule(f)))
		if f.AnsweredSYN.Seen && f.AnsweredSYN.Packet != f.SYN.Packet {
			ev = append(ev, Evidence{Packet: f.AnsweredSYN.Packet, Time: f.AnsweredSYN.Time, What: "the SYN the SYN-ACK answered"})
		}
	}
	ev = append(ev, Evidence{Packet: f.SYNACK.Packet, Time: f.SYNACK.Time, What: "first SYN-ACK"})
	if f.SYNACKs > 1 {
		parts = append(parts, fmt.Sprintf("the server sent its SYN-ACK %d times (the SYN-ACK or the client's ACK was lost)", f.SYNACKs))
	}
	why := parts[0]
	if len(parts) > 1 {
		why += "; " + parts[1]
	}
	sev := Info
	if delay >= time.Second || f.SYNACKs > 1 {
		sev = Warn
	}
	summary := fmt.Sprintf("slow connection set-up: the first SYN-ACK came %s after the first SYN", Duration(delay))
	if f.SYNs < 2 {
		summary = fmt.Sprintf("slow connection set-up: the SYN-ACK was retried %d times", f.SYNACKs-1)
	}
	return []Finding{r.finding(sev, High, analyze.BothDirections, why, summary,
		"Handshake packets were lost: the first tries went unanswered. Look for a firewall or IPS that drops or rate-limits "+
			"SYNs (SYN-flood protection, a full connection table), a server whose listen queue overflowed (Linux: nstat "+
			"TcpExtListenOverflows; Windows: netstat -s), or loss on the path; a capture at the server shows which side lost them.",
		ev...)}
}

// retrySchedule names the retransmission schedule the SYN retries
// followed, when it is a known stack's: Windows waits 3 s, then 6 s (an
// RDP connect that takes 9 s); Linux 1 s, then 2 s.
func retrySchedule(f *analyze.Flow) string {
	if !f.AnsweredSYN.Seen || f.AnsweredSYN.Packet == f.SYN.Packet {
		return ""
	}
	gap := time.Duration(f.AnsweredSYN.Time - f.SYN.Time)
	near := func(d time.Duration) bool { return gap >= d*9/10 && gap <= d*11/10 }
	switch {
	case f.SYNs == 2 && near(3*time.Second), f.SYNs == 3 && near(9*time.Second):
		return fmt.Sprintf(", the answered one %s after the first: Windows' schedule (3 s, then 6 s)", Duration(gap))
	case f.SYNs == 2 && near(time.Second), f.SYNs == 3 && near(3*time.Second):
		return fmt.Sprintf(", the answered one %s after the first: Linux's schedule (1 s, then 2 s)", Duration(gap))
	}
	return fmt.Sprintf(", the answered one %s after the first", Duration(gap))
}

// synUnanswered: SYNs that nothing answered.
func synUnanswered(f *analyze.Flow, r *Rule) []Finding {
	if !f.Unanswered() {
		return nil
	}
	sev, why := Warn, fmt.Sprintf("%d SYNs over %s, none answered in the capture", f.SYNs, flowSpan(f))
	if f.SYNs == 1 {
		sev, why = Info, "one SYN, not retried: the capture may have ended before an answer or a retry could come"
	}
	return []Finding{r.finding(sev, High, analyze.ClientToServer, why,
		fmt.Sprintf("connection attempt never answered: %d SYN(s) to %s over %s", f.SYNs, f.Server.Addr, flowSpan(f)),
		"Nothing answered: the server is down or not listening behind a firewall that drops rather than rejects, a filter on "+
			"the path drops the SYNs, or (in a one-sided capture) the answers took another path. Check the server is up and "+
			"reachable on this port (Test-NetConnection -Port on Windows, nc -vz elsewhere) from the client's network.",
		Evidence{Packet: f.SYN.Packet, Time: f.SYN.Time, What: "first SYN"})}
}

// connectionRefused: a reset that acknowledges the SYN.
func connectionRefused(f *analyze.Flow, r *Rule) []Finding {
	if !f.SYN.Seen || f.SYNACK.Seen || f.Server.RSTPacket == 0 {
		return nil
	}
	return []Finding{r.finding(Warn, High, analyze.ClientToServer,
		"the reset acknowledges the client's SYN, which RFC 9293 §3.10.7.3 makes the answer to a SYN for a closed port",
		fmt.Sprintf("connection refused: %s answered the SYN with a reset (%d SYN(s) sent)", f.Server.Addr, f.SYNs),
		"Nothing listens on this port on the server, or a firewall rejects with a reset in its name: check the service is "+
			"running and bound to this address (netstat -ano | findstr :PORT on Windows, ss -ltn elsewhere).",
		Evidence{Packet: f.SYN.Packet, Time: f.SYN.Time, What: "SYN"}, Evidence{Packet: f.Server.RSTPacket, What: "reset"})}
}

// connectionReset: an established connection reset before its sender
// closed it.
func connectionReset(f *analyze.Flow, r *Rule) []Finding {
	if f.HandshakeACKPacket == 0 && f.Client.DataPackets+f.Server.DataPackets == 0 {
		return nil
	}
	var out []Finding
	for _, p := range sides(f) {
		e := p.e
		if e.RSTPacket == 0 || (e.FINPacket != 0 && e.FINPacket < e.RSTPacket) {
			continue // no reset, or one after its own FIN: an abortive end of a closed session
		}
		if !f.SYNACK.Seen && p.name == "server" && f.HandshakeACKPacket == 0 {
			continue // connectionRefused's
		}
		out = append(out, r.finding(Info, High, analyze.BothDirections,
			fmt.Sprintf("the %s's reset lies in the %s's window, so the %s accepted it (RFC 9293 §3.10.7.4)", p.name, p.peerName, p.peerName),
			fmt.Sprintf("connection reset by the %s after %s from the client and %s from the server", p.name,
				Bytes(f.Client.UniqueBytes), Bytes(f.Server.UniqueBytes)),
			fmt.Sprintf("An application on the %s aborted the connection, or a device reset it in its name (an idle timeout on a "+
				"firewall or load balancer resets long-idle RDP and SMB sessions). If the sessions drop after a fixed idle time, "+
				"look for that timeout and enable keep-alives.", p.name),
			Evidence{Packet: e.RSTPacket, What: p.name + "'s reset"}))
	}
	return out
}

// flowSpan is how long a flow lasted, for messages: unknown when none of
// its packets carried a timestamp (pcapng Simple Packet Blocks), not 0.
func flowSpan(f *analyze.Flow) string {
	if !f.Timed {
		return "an unknown time (no timestamps)"
	}
	return Duration(f.Duration())
}
