package rules

import "rwin/analyze"

// catalog lists every rule: the flow rules, then the pair rules of
// `rwin diff`. IDs are stable: policies and scripts name them.
var catalog = append(append([]*Rule{}, flowRules...), pairRuleList()...)

// flowRules are the rules that judge one flow, in the order findings of
// equal severity are reported: what breaks windows first, then what
// limits them, then notes.
var flowRules = []*Rule{
	{
		ID: "wscale-stripped", Name: "Window scale stripped", Severity: Error,
		Doc: "One side offered window scaling (RFC 7323 §2) and the other side's half of the handshake lacks it, so every " +
			"window stays below 64 KiB. Confidence rises with evidence that a device removed the option: NOPs where it " +
			"stood (iptables TCPOPTSTRIP overwrites a stripped option with NOPs), an alignment NOP or EOL padding left " +
			"behind by a device that repacked the header, a SYN-ACK from a stack that carries SACK-permitted or " +
			"timestamps (every such stack implements scaling), and behaviour: a server that scales its windows although " +
			"its SYN-ACK as captured lacks the option, or a client that announced a shift but advertises unscaled windows " +
			"(its SYN-ACK reached it without the option). The TTLs and the handshake's RTT halves place the capture " +
			"point, and so which side of it the change happened. A SYN-ACK without the option and without such evidence " +
			"is the server declining (wscale-declined). Error when the two ends disagree about scaling (each reads the " +
			"other's windows wrongly); warn when both run unscaled.",
		check: wscaleStripped,
	},
	{
		ID: "wscale-declined", Name: "Window scaling declined by the server", Severity: Warn,
		Doc: "The client offered window scaling and the server's SYN-ACK answered without it, and nothing in the capture " +
			"places a device in between: no NOPs or repacking where the option stood, no server that scales its windows " +
			"anyway. RFC 7323 §1.3 lets a server decline; a stack whose admin turned scaling off does exactly this while " +
			"still sending SACK-permitted and timestamps (Linux net.ipv4.tcp_window_scaling=0, Windows " +
			"autotuninglevel=disabled), and the finding names the stack its SYN-ACK looks like and its setting. Every " +
			"window then stays below 64 KiB: warn once a direction carried more than that, info otherwise. High " +
			"confidence when TTLs or the handshake's halves place the capture at the server; from elsewhere a device " +
			"that strips the SYN's option beyond the capture point looks alike, and the finding says which capture tells.",
		check: wscaleDeclined,
	},
	{
		ID: "wscale-zeroed", Name: "Window scale shift rewritten to 0", Severity: Error,
		Doc: "The window scale option is present with shift 0 while the endpoint behaves as if it announced more: its " +
			"first window after the handshake is its SYN window divided by 2^k, so it applies shift k and its peer reads " +
			"its windows 2^k times too small. The behavioural form, seen from the other side of the device: a sender " +
			"that never puts more in flight than the receiver's window field taken unscaled, and repeatedly fills " +
			"exactly that much, although the negotiated scaled window is far larger. A shift of 0 that the endpoint's " +
			"windows confirm (a small locked receive buffer) is not reported.",
		check: wscaleZeroed,
	},
	{
		ID: "unscaled-window-enforced", Name: "Unscaled window enforced on the path", Severity: Error,
		Doc: "Window scaling was negotiated, but data beyond the receiver's window field taken unscaled (ack + window<<0) " +
			"and within the scaled window is lost again and again: the same segments are retransmitted with no progress, " +
			"and the flow stalls or is reset. A stateful firewall, NAT or IPS that missed or ignored the handshake's " +
			"window scale option does this: the Vista-era RDP and SMB hangs. Seen next to the sender the repeated " +
			"retransmissions prove it; seen next to the receiver, data the sender's sequence numbers say it sent never " +
			"arrives while the receiver's unscaled window could not hold one segment (an MTU black hole looks the same " +
			"from there). When the raw window holds full segments the flow may keep moving, each ACK moving the edge; " +
			"then, next to the sender, loss striking the data first sent beyond the unscaled edge and sparing what was " +
			"sent inside it is reported as a warning at medium confidence (a bottleneck that drops the tail of every " +
			"burst can look alike; rwin diff with a capture at the other end settles it).",
		check: unscaledWindowEnforced,
	},
	{
		ID: "syn-proxy", Name: "SYN-ACK sent by a SYN proxy", Severity: Error,
		Doc: "The SYN-ACK disagrees with the server's later segments: another initial TTL, a timestamp clock that jumps " +
			"or runs backwards, echoes of timestamps the server never sent, or a handshake completed faster than the " +
			"client can answer. A SYN proxy (SYN-flood protection on a load balancer or firewall) answered the " +
			"handshake in the server's name. Error when its SYN-ACK also dropped window scale while the server, which " +
			"saw the client's own SYN, negotiated it: the server then applies a shift the client never agreed to " +
			"(F5 BIG-IP hardware SYN cookies once did exactly this).",
		check: synProxy,
	},
	{
		ID: "window-limited", Name: "Window-limited transfer", Severity: Warn,
		Doc: "A transfer ran at the receiver's window: its throughput reached most of the RWIN/RTT ceiling (one flow " +
			"cannot carry more than its receive window per round trip), or most data segments left less than one MSS " +
			"of the window free. Reports the RTT, the effective window, the ceiling against the achieved rate, the " +
			"window the observed rate needs, and the cause: scaling off (64 KiB cap), a shift too small for the window, " +
			"or the receiver's buffer.",
		check: windowLimited,
	},
	{
		ID: "loss-limited", Name: "Loss-limited transfer", Severity: Warn,
		Doc: "A transfer ran near its loss ceiling, and that ceiling is below the RWIN/RTT one: Mathis et al. bound a " +
			"sender that loses a share p of its segments to MSS/RTT·√(3/2)/√p, with p measured from its " +
			"retransmissions (copies the capture recorded twice excluded). A larger window would not help; the loss " +
			"has to go. window-limited is not raised for such a transfer, nor for one whose own figures contradict " +
			"it (a rate that needs less than a segment of window per round trip; next to the sender, no segment near " +
			"the window).",
		check: lossLimitedRule,
	},
	{
		ID: "zero-window", Name: "Zero window", Severity: Warn,
		Doc: "A receiver advertised a zero window: its application did not read fast enough and the sender had to " +
			"stop. Episodes, their total duration and the first advertisement are reported.",
		check: zeroWindow,
	},
	{
		ID: "autotuning-level", Name: "Windows receive window auto-tuning level", Severity: Warn,
		Doc: "A Windows-shaped SYN or SYN-ACK (options mss,nop,ws,nop,nop,sok, no timestamps) announces the shift of its " +
			"sender's auto-tuning level: 8 normal, 4 restricted, 2 highly restricted, 14 experimental, no option when " +
			"disabled. Levels other than normal are reported with the netsh command that changes them, for the client " +
			"from its SYN and for the server from its SYN-ACK (a file server at restricted caps every upload to it; a " +
			"server at disabled is wscale-declined); warn when the level's window cap is what limits the flow.",
		check: autotuningLevel,
	},
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
		ID: "slow-setup", Name: "Slow connection set-up", Severity: Warn,
		Doc: "The handshake completed only after the client retried its SYN or the server its SYN-ACK: the first " +
			"tries were lost. Windows retries a SYN after 3 s, then 6 s (an RDP connect that takes 7 to 9 s), Linux " +
			"after 1 s, then 2 s; the finding names the schedule the retries followed. Warn when the set-up took a " +
			"second or more, or the SYN-ACK was retried.",
		check: slowSetup,
	},
	{
		ID: "syn-unanswered", Name: "Connection attempt never answered", Severity: Warn,
		Doc: "SYNs that nothing in the capture answered: how many tries, over how long. Warn from two tries on; a single " +
			"SYN may just be cut off by the end of the capture. Nothing was negotiated: every negotiated value stays unknown. " +
			"The file's summary adds them up by server endpoint: from how many clients, how many SYNs, over how long (text: " +
			"`SYNs nobody answered: …`; JSON: `unanswered_servers`). Many clients failing on one endpoint point at the server " +
			"or a filter in front of it; one client alone, at its own path.",
		check: synUnanswered,
	},
	{
		ID: "connection-refused", Name: "Connection refused", Severity: Warn,
		Doc: "The SYN was answered by a reset that acknowledges it (RFC 9293 §3.10.7.3): nothing listens on the port, or " +
			"a firewall rejects in the server's name. A reset that does not acknowledge the SYN is not accepted by the " +
			"client and ends nothing.",
		check: connectionRefused,
	},
	{
		ID: "connection-reset", Name: "Connection reset", Severity: Info,
		Doc: "An established connection was reset by one side before that side closed it: who reset it, and after how " +
			"much data each way. Only resets the receiver accepts count (sequence number in its window, RFC 9293 " +
			"§3.10.7.4); the others are counted in the flow and end nothing.",
		check: connectionReset,
	},
	{
		ID: "sack-stripped", Name: "SACK-permitted stripped", Severity: Info,
		Doc: "SACK-permitted (RFC 2018) is missing from one half of the handshake: with NOPs or repacking where it " +
			"stood a device removed it; when only the answer lacks it, the peer may simply have SACK disabled (a " +
			"common hardening), which the finding says. Without SACK a loss costs more round trips.",
		check: sackStripped,
	},
	{
		ID: "timestamps-stripped", Name: "Timestamps stripped", Severity: Info,
		Doc: "The timestamps option (RFC 7323 §3) is missing from one half of the handshake: with NOPs or repacking " +
			"where it stood a device removed it; when only the answer lacks it, the peer may have timestamps disabled. " +
			"Without timestamps there is no PAWS and fewer RTT samples.",
		check: timestampsStripped,
	},
	{
		ID: "mss-clamped", Name: "MSS clamped", Severity: Info,
		Doc: "A SYN or SYN-ACK announces an MSS below that of a 1500-byte path (1460 over IPv4, 1440 over IPv6) after " +
			"crossing routers, or both announce the same reduced value: a tunnel or a device that clamps the MSS. " +
			"Harmless when it matches the path MTU; it costs throughput when it does not.",
		check: mssClamped,
	},
}

// side is one endpoint of a flow with what the rules look at around it.
type side struct {
	e, peer        *analyze.Endpoint
	name, peerName string
	// hs is its SYN (the one the SYN-ACK answered) or its SYN-ACK; peerHS
	// the other.
	hs, peerHS *analyze.HandshakeSegment
	// in is the direction of the data it receives, which its windows
	// limit; out the direction of the data it sends.
	in, out analyze.Direction
}

// sides returns the client's side, then the server's.
func sides(f *analyze.Flow) [2]side {
	syn := answeredSYN(f)
	return [2]side{
		{e: &f.Client, peer: &f.Server, name: "client", peerName: "server", hs: syn, peerHS: &f.SYNACK,
			in: analyze.ServerToClient, out: analyze.ClientToServer},
		{e: &f.Server, peer: &f.Client, name: "server", peerName: "client", hs: &f.SYNACK, peerHS: syn,
			in: analyze.ClientToServer, out: analyze.ServerToClient},
	}
}
